"""Canvas launcher: what Salesforce does when the console loads a Canvas app with a signed request.

Salesforce POSTs ``signed_request=<sig>.<envelope>`` (form-urlencoded) to the Canvas app URL, where
``envelope`` is base64(JSON CanvasRequest) and ``sig`` is base64(HMAC-SHA256(consumer secret, envelope
as sent)) - see the Canvas Developer Guide and ``SignedRequest.java`` in
forcedotcom/SalesforceCanvasFrameworkSDK. Test-only pages and routes:

    GET  /__sim/canvas                 SLDS page: pick org, user, target URL, record, display location
    GET  /__sim/canvas/launch?org=&user=&url=&record=&location=&params={json}&tampered=1[&format=json]
                                       [&issued_at=null|absent|<n>]
                                       an auto-submitting form posting the signed request to ``url``
                                       (``format=json``: {"action", "signed_request", "envelope"} instead);
                                       the CanvasRequest is shaped as the guide's example, with an opaque
                                       negative ``issuedAt`` as real orgs send unless ``issued_at`` says
                                       otherwise
    POST /__sim/canvas/echo            a Canvas app stand-in: verifies the signature with the org's
                                       consumer secret(s) and shows the decoded request (JSON on Accept)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..inputs import parse_json
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
ABSENT = object()  # issuedAt left out of the request altogether


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
        envelope = parse_json(_decode64(encoded))
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


def opaque_issued_at() -> int:
    """``issuedAt`` as real orgs send it: the Canvas Developer Guide calls it "for internal use only" (its
    example carries ``null``) and real signed requests carry negative 32-bit numbers such as -1555461611 and
    -1882588807. It is not a request time, so the launcher sends one of those, never ``time.time()``."""
    return -secrets.randbelow(2**31 - 1) - 1


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
    issued_at: int | None | object = ...,
) -> dict:
    """A CanvasRequest shaped as the guide's example (``canvas_request_object.htm``): ``context``
    (application, user, environment, organization, links), ``client``, then ``algorithm``, ``userId`` and
    ``issuedAt`` (``...``: an opaque negative number as real orgs send; ``None``: null as in the guide's
    example; :data:`ABSENT`: the field left out)."""
    token = org.issue_token(user=user, app=app)
    core_url = world.config.url("core")
    base = f"/services/data/v{version}"
    user_id = user["Id"]
    environment: dict = {
        "parameters": dict(parameters or {}),
        "dimensions": {
            "clientHeight": "500px",
            "clientWidth": "1000px",
            "height": "500px",
            "width": "100%",
            "maxHeight": "2000px",
            "maxWidth": "1000px",
        },
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
    environment.update(
        {
            "displayLocation": display_location,
            "locationUrl": location_url,
            "subLocation": None,
            "uiTheme": "Theme4d",
            "version": {"api": version, "season": release_label(int(float(version))).split()[0].upper()},
        }
    )
    envelope = {
        "context": {
            "application": {
                "applicationId": stable_id(org, "CanvasApp", app.consumer_key, prefix="06P")[:15],
                "authType": "SIGNED_REQUEST",
                "canvasUrl": target_url,
                "developerName": app.developer_name,
                "isInstalledPersonalApp": False,
                "name": app.developer_name,
                "namespace": None,
                "options": [],
                "referenceId": to18("09H" + org.org_id[3:5] + "0000000001")[:15],
                "samlInitiationMethod": "None",
                "version": "1.0",
            },
            "user": {
                "accessibilityModeEnabled": False,
                "currencyISOCode": "USD",
                "email": user.get("Email"),
                "firstName": user.get("FirstName"),
                "fullName": user.get("Name"),
                "isDefaultNetwork": True,
                "language": "en_US",
                "lastName": user.get("LastName"),
                "locale": "en_US",
                "networkId": None,
                "profileId": "00e" + org.org_id[3:5] + "0000000001",  # 15 characters, as real requests
                "profilePhotoUrl": f"{core_url}/profilephoto/005/F",
                "profileThumbnailUrl": f"{core_url}/profilephoto/005/T",
                "roleId": None,
                "siteUrl": None,
                "siteUrlPrefix": None,
                "timeZone": "Europe/London",
                "userId": user_id,
                "userName": user.get("Username"),
                "userType": "STANDARD",
            },
            "environment": environment,
            "organization": {
                "currencyIsoCode": "USD",
                "multicurrencyEnabled": False,
                "name": org.name,
                "namespacePrefix": None,
                "organizationId": org.org_id,
            },
            "links": {
                "chatterFeedItemsUrl": f"{base}/chatter/feed-items",
                "chatterFeedsUrl": f"{base}/chatter/feeds",
                "chatterGroupsUrl": f"{base}/chatter/groups",
                "chatterUsersUrl": f"{base}/chatter/users",
                "enterpriseUrl": f"/services/Soap/c/{version}/{org.org_id15}",
                "loginUrl": world.config.url("login"),
                "metadataUrl": f"/services/Soap/m/{version}/{org.org_id15}",
                "partnerUrl": f"/services/Soap/u/{version}/{org.org_id15}",
                "queryUrl": f"{base}/query/",
                "recentItemsUrl": f"{base}/recent/",
                "restUrl": f"{base}/",
                "searchUrl": f"{base}/search/",
                "sobjectUrl": f"{base}/sobjects/",
                "userUrl": f"/{user_id}",
            },
        },
        "client": {
            "instanceId": f"_:{app.developer_name}:",
            "instanceUrl": core_url,
            "oauthToken": token.access_token,
            "refreshToken": None,
            "targetOrigin": world.config.http_base_url,
        },
        "algorithm": "HMACSHA256",
        "userId": user_id,
    }
    if issued_at is not ABSENT:
        envelope["issuedAt"] = opaque_issued_at() if issued_at is ... else issued_at
    return envelope


def parse_issued_at(value: str | None):
    """The launcher's ``issued_at`` option: blank → opaque (as real orgs), ``null``, ``absent``, or a number."""
    if not value:
        return ...
    if value == "null":
        return None
    if value == "absent":
        return ABSENT
    try:
        return int(value)
    except ValueError:
        raise CanvasError("issued_at must be blank, null, absent or a whole number") from None


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
            parameters = parse_json(query.get("params") or "{}")
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
                issued_at=parse_issued_at(query.get("issued_at")),
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
