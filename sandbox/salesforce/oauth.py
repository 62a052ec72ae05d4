"""The OAuth 2.0 token endpoint (JWT bearer flow) on the login host and on the My Domain (core) host.

``POST /services/oauth2/token`` with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an
RS256 ``assertion`` signed with the key of the certificate uploaded to the Connected App. Checks, in
order: grant type, assertion shape and ``alg``, ``iss`` (consumer key), ``aud`` (the org's login URL,
even when the token URL is My Domain), the signature, ``exp`` (future, at most ~5 minutes ahead), and
``sub`` (an active user the admin pre-authorized). Errors are Salesforce's 400 bodies
``{"error", "error_description"}``.

Control API (test-only, JSON)::

    POST   /__sim/orgs/{org}/tokens                  {"username", "consumer_key"?, "scopes"?} -> a token
    GET    /__sim/orgs/{org}/tokens                  -> the org's tokens
    POST   /__sim/orgs/{org}/tokens/expire           {"access_token"?}  (omit: every token of the org)
    POST   /__sim/orgs/{org}/tokens/revoke           {"access_token"?}
    POST   /__sim/orgs/{org}/tokens/scopes           {"access_token"?, "scopes": ["api", ...]}
    POST   /__sim/orgs/{org}/connected-apps/{key}/certificate     {"certificate_pem"}
    POST   /__sim/orgs/{org}/connected-apps/{key}/preauthorized   {"username"}
    DELETE /__sim/orgs/{org}/connected-apps/{key}/preauthorized/{username}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..inputs import parse_json
from .org import ConnectedApp, IssuedToken, Org

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_EXP_AHEAD_SECONDS = 300  # Salesforce asks for "within 3 minutes"; allow 5 plus a little clock skew
CLOCK_SKEW_SECONDS = 30


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def public_key_from_pem(pem: str):
    """The public key of an uploaded X.509 certificate (a bare public key PEM is accepted too)."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def response_signature(app: ConnectedApp, identity_url: str, issued_at: str) -> str:
    """Salesforce's ``signature``: base64 HMAC-SHA256 of id + issued_at, keyed with the consumer secret."""
    digest = hmac.new(
        app.consumer_secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def token_response(
    org: Org, app: ConnectedApp, token: IssuedToken, *, login_url: str, instance_url: str
) -> dict:
    issued_at = str(int(token.issued_at * 1000))
    identity_url = f"{login_url}/id/{org.org_id}/{token.user_id}"
    return {
        "access_token": token.access_token,
        "signature": response_signature(app, identity_url, issued_at),
        "scope": " ".join(token.scopes),
        "instance_url": instance_url,
        "id": identity_url,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }


def verify_assertion(world, assertion: str) -> tuple[Org, ConnectedApp, dict]:
    """The org, app and user row for a JWT bearer assertion, or :class:`OAuthError`."""
    invalid = OAuthError("invalid_grant", "invalid assertion")
    if not assertion:
        raise invalid
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise invalid from None
    if header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise invalid
    found = world.orgs.by_consumer_key(str(claims.get("iss", "")))
    if found is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    org, app = found
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if org.audience not in audiences:
        raise OAuthError("invalid_grant", "audience is invalid")
    if not app.certificate_pem:
        raise invalid
    try:
        jwt.decode(
            assertion,
            public_key_from_pem(app.certificate_pem),
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
        )
    except (jwt.PyJWTError, ValueError):
        raise invalid from None
    exp = claims.get("exp")
    now = time.time()
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp < now - CLOCK_SKEW_SECONDS:
        raise OAuthError("invalid_grant", "expired authorization code")
    if exp > now + MAX_EXP_AHEAD_SECONDS + CLOCK_SKEW_SECONDS:
        raise invalid
    subject = str(claims.get("sub", "")).lower()  # Salesforce usernames are case-insensitive
    user = next((u for u in org.records.all("User") if str(u.get("Username", "")).lower() == subject), None)
    approved = {name.lower() for name in app.preauthorized_usernames}
    if user is None or user["Username"].lower() not in approved:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    if not user.get("IsActive", True):
        raise OAuthError("invalid_grant", "inactive user")
    return org, app, user


def exchange(world, form: dict[str, str], *, login_url: str) -> dict:
    """Run a token request; returns the 200 body or raises :class:`OAuthError`."""
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    if grant_type == JWT_BEARER:
        org, app, user = verify_assertion(world, form.get("assertion", ""))
        token = org.issue_token(user=user, app=app)
        return token_response(org, app, token, login_url=login_url, instance_url=world.config.url("core"))
    if grant_type in ("refresh_token", "client_credentials", "authorization_code"):
        # Not simulated beyond their error paths: no refresh tokens, codes or run-as users exist here.
        if world.orgs.by_consumer_key(form.get("client_id", "")) is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        raise OAuthError(
            "invalid_grant",
            {
                "refresh_token": "expired access/refresh token",
                "client_credentials": "no client credentials user enabled",
                "authorization_code": "invalid authorization code",
            }[grant_type],
        )
    raise OAuthError("unsupported_grant_type", "grant type not supported")


def _oauth_json(body: dict, status: int = 200) -> Response:
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/json;charset=UTF-8",
        headers={"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"},
    )


def _pick_tokens(org: Org, body: dict) -> list[IssuedToken] | None:
    wanted = body.get("access_token")
    if wanted is None:
        return list(org.tokens.values())
    token = org.tokens.get(wanted)
    return [token] if token else None


def routes(world) -> list:
    def token_endpoint(service: str):
        async def endpoint(request: Request) -> Response:
            raw = (await request.body()).decode("utf-8", errors="replace")
            content_type = request.headers.get("content-type", "")
            form = {}
            if "application/x-www-form-urlencoded" in content_type or not content_type:
                form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            try:
                body = exchange(world, form, login_url=world.config.url(service))
            except OAuthError as exc:
                return _oauth_json({"error": exc.error, "error_description": exc.description}, 400)
            return _oauth_json(body)

        return endpoint

    def org_or_404(request: Request) -> Org | None:
        return world.orgs.get(request.path_params["org_id"])

    async def read_body(request: Request) -> dict:
        try:
            body = parse_json(await request.body() or b"{}")
        except ValueError:
            return {"__error__": "malformed JSON"}
        return body if isinstance(body, dict) else {"__error__": "expected a JSON object"}

    def describe(token: IssuedToken) -> dict:
        return {
            "access_token": token.access_token,
            "org_id": token.org_id,
            "user_id": token.user_id,
            "username": token.username,
            "consumer_key": token.consumer_key,
            "scopes": list(token.scopes),
            "issued_at": token.issued_at,
            "expires_at": token.expires_at,
            "revoked": token.revoked,
            "valid": token.valid,
        }

    async def tokens(request: Request) -> JSONResponse:
        org = org_or_404(request)
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        if request.method == "GET":
            return JSONResponse([describe(t) for t in org.tokens.values()])
        body = await read_body(request)
        if "__error__" in body:
            return JSONResponse({"error": body["__error__"]}, status_code=400)
        user = org.user_by_username(str(body.get("username", "")))
        if user is None:
            return JSONResponse({"error": "unknown username"}, status_code=400)
        key = body.get("consumer_key")
        app = org.connected_apps.get(key) if key else next(iter(org.connected_apps.values()), None)
        if app is None:
            return JSONResponse({"error": "unknown connected app"}, status_code=400)
        scopes = tuple(body["scopes"]) if isinstance(body.get("scopes"), list) else None
        token = org.issue_token(user=user, app=app, scopes=scopes)
        return JSONResponse(describe(token), status_code=201)

    async def change_tokens(request: Request) -> JSONResponse:
        org = org_or_404(request)
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        body = await read_body(request)
        if "__error__" in body:
            return JSONResponse({"error": body["__error__"]}, status_code=400)
        chosen = _pick_tokens(org, body)
        if chosen is None:
            return JSONResponse({"error": "unknown access_token"}, status_code=404)
        action = request.path_params["action"]
        if action == "scopes" and not isinstance(body.get("scopes"), list):
            return JSONResponse({"error": "scopes must be a list"}, status_code=400)
        for token in chosen:
            if action == "expire":
                token.expire()
            elif action == "revoke":
                token.revoke()
            elif action == "scopes":
                token.scopes = tuple(str(s) for s in body["scopes"])
            else:
                return JSONResponse({"error": "unknown action"}, status_code=404)
        world.pubsub.wake(org.org_id)  # open Subscribe streams on a revoked session end now
        return JSONResponse([describe(t) for t in chosen])

    def app_or_error(request: Request) -> tuple[ConnectedApp | None, JSONResponse | None]:
        org = org_or_404(request)
        if org is None:
            return None, JSONResponse({"error": "unknown org"}, status_code=404)
        app = org.connected_apps.get(request.path_params["consumer_key"])
        if app is None:
            return None, JSONResponse({"error": "unknown connected app"}, status_code=404)
        return app, None

    async def certificate(request: Request) -> JSONResponse:
        app, error = app_or_error(request)
        if error:
            return error
        body = await read_body(request)
        pem = body.get("certificate_pem")
        try:
            if not isinstance(pem, str):
                raise ValueError("certificate_pem is required")
            public_key_from_pem(pem)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": f"not a PEM certificate: {exc}"}, status_code=400)
        app.certificate_pem = pem
        return JSONResponse({"consumer_key": app.consumer_key, "certificate": "uploaded"})

    async def preauthorize(request: Request) -> JSONResponse:
        app, error = app_or_error(request)
        if error:
            return error
        if request.method == "DELETE":
            app.preauthorized_usernames.discard(request.path_params["username"])
        else:
            username = (await read_body(request)).get("username")
            if not isinstance(username, str) or not username:
                return JSONResponse({"error": "username is required"}, status_code=400)
            app.preauthorized_usernames.add(username)
        return JSONResponse({"preauthorized": sorted(app.preauthorized_usernames)})

    return [
        Route("/sim/login/services/oauth2/token", token_endpoint("login"), methods=["POST"]),
        Route("/sim/core/services/oauth2/token", token_endpoint("core"), methods=["POST"]),
        Route("/__sim/orgs/{org_id}/tokens", tokens, methods=["GET", "POST"]),
        Route("/__sim/orgs/{org_id}/tokens/{action}", change_tokens, methods=["POST"]),
        Route(
            "/__sim/orgs/{org_id}/connected-apps/{consumer_key}/certificate", certificate, methods=["POST"]
        ),
        Route(
            "/__sim/orgs/{org_id}/connected-apps/{consumer_key}/preauthorized", preauthorize, methods=["POST"]
        ),
        Route(
            "/__sim/orgs/{org_id}/connected-apps/{consumer_key}/preauthorized/{username}",
            preauthorize,
            methods=["DELETE"],
        ),
    ]
