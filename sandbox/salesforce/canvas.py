"""Canvas launcher: what Salesforce does when the console loads a Canvas app with a signed request.

Salesforce POSTs ``signed_request=<sig>.<envelope>`` (form-urlencoded) to the Canvas app URL, where
``envelope`` is base64(JSON CanvasRequest) and ``sig`` is base64(HMAC-SHA256(consumer secret, envelope
as sent)) - see the Canvas Developer Guide and ``SignedRequest.java`` in
forcedotcom/SalesforceCanvasFrameworkSDK. Test-only pages and routes:

    GET  /__sim/canvas                 SLDS page: pick org, user, target URL, record, display location
    GET  /__sim/canvas/launch?org=&user=&url=&record=&location=&params={json}&tampered=1[&format=json]
                                       an auto-submitting form posting the signed request to ``url``
                                       (``format=json``: {"action", "signed_request", "envelope"} instead)
    POST /__sim/canvas/echo            a Canvas app stand-in: verifies the signature with the org's
                                       consumer secret(s) and shows the decoded request (JSON on Accept)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..templating import templates
from .ids import to18
from .org import ConnectedApp, Org
from .rest import release_label
from .schema import stable_id
from .sobjects import record_url

DISPLAY_LOCATIONS = (
    "Aura",
    "ServiceDesk",
    "UtilityBar",
    "Visualforce",
    "PageLayout",
    "Publisher",
    "ChatterFeed",
    "Chatter",
    "MobileNav",
    "OpenCTI",
    "None",
)
DEFAULT_VERSION = "62.0"


class CanvasError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sign(envelope: dict, secret: str) -> str:
    """``base64(HMAC-SHA256(secret, base64(json))) + "." + base64(json)``."""
    encoded = _b64(json.dumps(envelope, separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest())
    return f"{signature}.{encoded}"


def _decode64(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (the SDK's codec accepts both)."""
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def decode_unverified(signed_request: str) -> dict:
    if not signed_request or signed_request.find(".") <= 0:
        raise CanvasError("Input doesn't look like a signed request")
    _, encoded = signed_request.split(".", 1)
    try:
        envelope = json.loads(_decode64(encoded))
    except (ValueError, binascii.Error) as exc:
        raise CanvasError(f"Error deserializing the envelope: {exc}") from None
    if not isinstance(envelope, dict):
        raise CanvasError("The envelope is not a JSON object")
    return envelope


def verify(signed_request: str, secret: str) -> dict:
    """The decoded CanvasRequest if the HMAC matches; :class:`CanvasError` if tampered or malformed."""
    envelope = decode_unverified(signed_request)
    signature, encoded = signed_request.split(".", 1)
    if (envelope.get("algorithm") or "HMACSHA256") != "HMACSHA256":
        raise CanvasError(f"Unsupported algorithm {envelope.get('algorithm')}")
    expected = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    try:
        given = _decode64(signature)
    except (ValueError, binascii.Error):
        raise CanvasError("Warning: Request was tampered with") from None
    if not hmac.compare_digest(expected, given):
        raise CanvasError("Warning: Request was tampered with")
    return envelope


def strip_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def canvas_app(org: Org, consumer_key: str | None = None) -> ConnectedApp | None:
    """The Connected App that backs the Canvas app: the one named, else the first with a Canvas URL."""
    if consumer_key:
        return org.connected_apps.get(consumer_key)
    apps = list(org.connected_apps.values())
    return next((a for a in apps if a.canvas_url), apps[0] if apps else None)


def find_user(org: Org, user: str | None) -> dict | None:
    if not user:
        return next(iter(org.records.all("User")), None)
    if len(user) in (15, 18) and user.startswith("005"):
        return org.records.get("User", user)
    return org.user_by_username(user)


def build_envelope(
    world,
    org: Org,
    app: ConnectedApp,
    user: dict,
    *,
    target_url: str,
    record_id: str | None = None,
    display_location: str = "Aura",
    parameters: dict | None = None,
    version: str = DEFAULT_VERSION,
    location_url: str = "",
) -> dict:
    token = org.issue_token(user=user, app=app)
    core_url = world.config.url("core")
    base = f"/services/data/v{version}"
    environment: dict = {
        "referer": None,
        "locationUrl": location_url,
        "displayLocation": display_location,
        "sublocation": None,
        "uiTheme": "Theme4d",
        "dimensions": {
            "width": "100%",
            "height": "500px",
            "maxWidth": "1000px",
            "maxHeight": "2000px",
            "clientWidth": "1000px",
            "clientHeight": "500px",
        },
        "parameters": dict(parameters or {}),
        "record": {},
        "version": {"season": release_label(int(float(version))).split()[0].upper(), "api": version},
    }
    if record_id:
        found = org.records.find(record_id)
        if found is None:
            raise CanvasError(f"unknown record {record_id}")
        sobject, row = found
        environment["record"] = {
            "attributes": {"type": sobject, "url": record_url(sobject, row["Id"], version)},
            "Id": row["Id"],
        }
        environment["parameters"].setdefault("recordId", row["Id"])
    application_id = stable_id(org, "CanvasApp", app.consumer_key, prefix="06P")
    user_id = user["Id"]
    return {
        "algorithm": "HMACSHA256",
        "issuedAt": int(time.time()),
        "userId": user_id,
        "client": {
            "oauthToken": token.access_token,
            "refreshToken": None,
            "instanceId": f"_:{app.developer_name}:",
            "instanceUrl": core_url,
            "targetOrigin": world.config.http_base_url,
        },
        "context": {
            "user": {
                "userId": user_id,
                "userName": user.get("Username"),
                "firstName": user.get("FirstName"),
                "lastName": user.get("LastName"),
                "email": user.get("Email"),
                "fullName": user.get("Name"),
                "locale": "en_US",
                "language": "en_US",
                "timeZone": "Europe/London",
                "profileId": to18("00e" + org.org_id[3:5] + "0000000001"),
                "roleId": None,
                "userType": "STANDARD",
                "currencyISOCode": "USD",
                "accessibilityModeEnabled": False,
                "isDefaultNetwork": True,
                "networkId": None,
                "siteUrl": None,
                "siteUrlPrefix": None,
                "profilePhotoUrl": f"{core_url}/profilephoto/005/F",
                "profileThumbnailUrl": f"{core_url}/profilephoto/005/T",
            },
            "organization": {
                "organizationId": org.org_id,
                "name": org.name,
                "multicurrencyEnabled": False,
                "currencyIsoCode": "USD",
                "namespacePrefix": None,
            },
            "environment": environment,
            "application": {
                "applicationId": application_id,
                "authType": "SIGNED_REQUEST",
                "canvasUrl": target_url,
                "developerName": app.developer_name,
                "name": app.developer_name,
                "namespace": None,
                "version": "1.0",
                "referenceId": to18("09H" + org.org_id[3:5] + "0000000001"),
                "options": [],
                "samlInitiationMethod": "None",
                "isInstalledPersonalApp": False,
            },
            "links": {
                "loginUrl": world.config.url("login"),
                "restUrl": f"{base}/",
                "sobjectUrl": f"{base}/sobjects/",
                "queryUrl": f"{base}/query/",
                "searchUrl": f"{base}/search/",
                "recentItemsUrl": f"{base}/recent/",
                "chatterFeedsUrl": f"{base}/chatter/feeds",
                "chatterGroupsUrl": f"{base}/chatter/groups",
                "chatterUsersUrl": f"{base}/chatter/users",
                "chatterFeedItemsUrl": f"{base}/chatter/feed-items",
                "userUrl": f"/{user_id}",
                "enterpriseUrl": f"/services/Soap/c/{version}/{org.org_id15}",
                "metadataUrl": f"/services/Soap/m/{version}/{org.org_id15}",
                "partnerUrl": f"/services/Soap/u/{version}/{org.org_id15}",
            },
        },
    }


def routes(world) -> list:
    def echo_url() -> str:
        return f"{world.config.http_base_url}/__sim/canvas/echo"

    async def launcher(request: Request) -> Response:
        orgs = world.orgs.all()
        org = world.orgs.get(request.query_params.get("org", "")) or (orgs[0] if orgs else None)
        app = canvas_app(org) if org else None
        users = org.records.all("User") if org else []
        records = []
        if org:
            for sobject in ("MessagingSession", "Case"):
                records += [(sobject, row) for row in org.records.all(sobject)]
        return templates.TemplateResponse(
            request,
            "canvas/launcher.html",
            {
                "orgs": orgs,
                "org": org,
                "app": app,
                "users": users,
                "records": records,
                "locations": DISPLAY_LOCATIONS,
                "target_url": (app.canvas_url if app and app.canvas_url else echo_url()),
                "echo_url": echo_url(),
            },
        )

    async def launch(request: Request) -> Response:
        query = request.query_params
        wants_json = query.get("format") == "json"

        def fail(message: str, status: int = 400) -> Response:
            if wants_json:
                return JSONResponse({"error": message}, status_code=status)
            return HTMLResponse(
                f"<!doctype html><p class='error'>Canvas launch failed: {_escape(message)}</p>", status
            )

        org = world.orgs.get(query.get("org") or query.get("tenant") or "")
        if org is None:
            return fail("unknown org", 404)
        app = canvas_app(org, query.get("app"))
        if app is None:
            return fail("the org has no Connected App for the Canvas app")
        if not app.consumer_secret:
            return fail("the Connected App has no consumer secret")
        user = find_user(org, query.get("user"))
        if user is None:
            return fail("unknown user")
        target = strip_fragment(query.get("url") or app.canvas_url or echo_url())
        try:
            parameters = json.loads(query.get("params") or "{}")
            if not isinstance(parameters, dict):
                raise ValueError("params must be a JSON object")
            envelope = build_envelope(
                world,
                org,
                app,
                user,
                target_url=target,
                record_id=query.get("record") or None,
                display_location=query.get("location") or "Aura",
                parameters=parameters,
                version=query.get("version") or DEFAULT_VERSION,
                location_url=str(request.url),
            )
        except (ValueError, CanvasError) as exc:
            return fail(str(exc))
        tampered = query.get("tampered") in ("1", "true", "on", "yes")
        # The tampered variant is signed with a key that is not the consumer secret.
        signed = sign(envelope, app.consumer_secret + ("-tampered" if tampered else ""))
        if wants_json:
            return JSONResponse({"action": target, "signed_request": signed, "envelope": envelope})
        return templates.TemplateResponse(
            request, "canvas/launch.html", {"action": target, "signed_request": signed, "tampered": tampered}
        )

    async def echo(request: Request) -> Response:
        form = await request.form()
        signed = str(form.get("signed_request") or "")
        result = {"verified": False, "error": None, "app": None, "envelope": None, "token_valid": None}
        try:
            envelope = decode_unverified(signed)
            result["envelope"] = envelope
            org_id = ((envelope.get("context") or {}).get("organization") or {}).get("organizationId", "")
            org = world.orgs.get(str(org_id))
            if org is None:
                raise CanvasError(f"unknown organizationId {org_id!r}")
            for app in org.connected_apps.values():
                try:
                    verify(signed, app.consumer_secret)
                except CanvasError:
                    continue
                result.update(verified=True, app=app.developer_name)
                break
            else:
                raise CanvasError("Warning: Request was tampered with")
            found = world.orgs.authenticate(str((envelope.get("client") or {}).get("oauthToken", "")))
            result["token_valid"] = found is not None
        except CanvasError as exc:
            result["error"] = str(exc)
        status = 200 if result["verified"] else 403
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(result, status_code=status)
        pretty = json.dumps(result["envelope"], indent=2) if result["envelope"] else ""
        return templates.TemplateResponse(
            request, "canvas/echo.html", {"result": result, "pretty": pretty}, status_code=status
        )

    return [
        Route("/__sim/canvas", launcher, methods=["GET"]),
        Route("/__sim/canvas/launch", launch, methods=["GET"]),
        Route("/__sim/canvas/echo", echo, methods=["POST"]),
    ]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
