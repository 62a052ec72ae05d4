"""The core REST API of the instance host (``/sim/core/services/data/...``).

Every call but the versions list needs ``Authorization: Bearer <token>`` (401 INVALID_SESSION_ID
otherwise), counts against the org's daily API budget (403 REQUEST_LIMIT_EXCEEDED once spent) and
answers with ``Sforce-Limit-Info: api-usage=N/LIMIT``. The work itself happens in :func:`dispatch`,
which ``/composite`` also calls for its subrequests.

Control API (test-only): ``GET/POST /__sim/orgs/{org_id}/settings`` reads or changes
``api_request_limit``, ``api_requests_used``, ``case_subject_required`` and ``token_lifetime_seconds``.
"""

from __future__ import annotations

import itertools
import json
import re
from copy import deepcopy
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..inputs import parse_json, whole_number
from . import schema, sobjects, soql, tooling
from .schema import DATA, TOOLING
from .sobjects import ROLLED_BACK, Answer, Context, method_not_allowed, not_found, parse_json_body, sf_error

OLDEST_VERSION, NEWEST_VERSION = 31, 66  # Salesforce retired 21.0-30.0 in 2025; 66.0 is Spring '26
QUERY_BATCH = 2000
VERSION = re.compile(r"v(\d{2,3})\.0")
REFERENCE = re.compile(r"@\{([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}")
JSON_TYPE = "application/json;charset=UTF-8"
_locators = itertools.count(1)


def release_label(version: int) -> str:
    """``66`` -> ``Spring '26``: three releases a year, Spring, Summer, then Winter of the next year."""
    back = NEWEST_VERSION - version
    season = ("Spring", "Winter", "Summer")[back % 3]
    year = 26 - back // 3 - (1 if season == "Summer" else 0)
    return f"{season} '{year:02d}"


def versions() -> list[dict]:
    return [
        {"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(OLDEST_VERSION, NEWEST_VERSION + 1)
    ]


def limit_header(org) -> dict[str, str]:
    return {"Sforce-Limit-Info": f"api-usage={org.api_requests_used}/{org.api_request_limit}"}


def bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "oauth") else ""


# --- dispatch ----------------------------------------------------------------------------------


def dispatch(ctx: Context, method: str, path: str, params: dict[str, str], body, headers=None) -> Answer:
    """One REST call below ``/services/data/v{version}/`` (``path`` is what follows the version)."""
    parts = [p for p in path.split("/") if p]
    api = DATA
    if parts[:1] == ["tooling"]:
        api, parts = TOOLING, parts[1:]
    head = parts[0] if parts else ""
    if not parts:
        return _only(method, "GET") or Answer(200, resources(ctx.version, api))
    if head == "limits" and api == DATA and len(parts) == 1:
        return _only(method, "GET") or Answer(200, limits(ctx.org))
    if head == "query" and len(parts) <= 2:
        if error := _only(method, "GET"):
            return error
        if len(parts) == 2:
            return query_more(ctx, parts[1])
        return query(ctx, params.get("q"), api, headers or {})
    if head == "composite" and api == DATA and len(parts) == 1:
        return _only(method, "POST") or composite(ctx, body)
    if head == "sobjects":
        return _sobjects(ctx, method, parts[1:], params, body, api)
    return not_found()


def _only(method: str, allowed: str) -> Answer | None:
    if method == allowed or (allowed == "GET" and method == "HEAD"):
        return None
    return method_not_allowed(method, "HEAD,GET" if allowed == "GET" else allowed)


def _decoded(body) -> tuple[object, Answer | None]:
    return parse_json_body(body)


def _sobjects(ctx: Context, method: str, parts: list[str], params: dict, body, api: str) -> Answer:
    if not parts:
        if error := _only(method, "GET"):
            return error
        return Answer(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [schema.OBJECTS[n].describe(ctx.version, api) for n in schema.names(api)],
            },
        )
    obj = schema.lookup(parts[0], api)
    if obj is None:
        return not_found()
    if len(parts) == 1:
        if method in ("GET", "HEAD"):
            return Answer(200, {"objectDescribe": obj.describe(ctx.version, api), "recentItems": []})
        if method != "POST":
            return method_not_allowed(method, "HEAD,GET,POST")
        decoded, error = _decoded(body)
        if error:
            return error
        return (
            tooling.create(ctx, obj.name, decoded) if api == TOOLING else sobjects.create(ctx, obj, decoded)
        )
    if len(parts) == 2 and parts[1] == "describe":
        if error := _only(method, "GET"):
            return error
        fields = dict(obj.fields)
        for row in obj.all_rows(ctx.org):
            for key in row:
                fields.setdefault(key, obj.field(ctx.org, key))
        return Answer(
            200, {**obj.describe(ctx.version, api), "fields": [f.describe() for f in fields.values()]}
        )
    if len(parts) != 2:
        return not_found()
    record_id = parts[1]
    if method in ("GET", "HEAD"):
        if api == TOOLING:
            return tooling.get(ctx, obj.name, record_id)
        return sobjects.read(ctx, obj, record_id, params.get("fields"))
    if method == "DELETE":
        return (
            tooling.delete(ctx, obj.name, record_id)
            if api == TOOLING
            else sobjects.delete(ctx, obj, record_id)
        )
    if method == "PATCH" and api == DATA:
        decoded, error = _decoded(body)
        if error:
            return error
        return sobjects.update(ctx, obj, record_id, decoded)
    return method_not_allowed(method, "HEAD,GET,PATCH,DELETE" if api == DATA else "HEAD,GET,DELETE")


def resources(version: str, api: str = DATA) -> dict:
    base = f"/services/data/v{version}"
    if api == TOOLING:
        return {name: f"{base}/tooling/{name}" for name in ("query", "sobjects")}
    return {name: f"{base}/{name}" for name in ("tooling", "query", "sobjects", "limits", "composite")}


def limits(org) -> dict:
    def pair(maximum: int, used: int = 0) -> dict:
        return {"Max": maximum, "Remaining": max(0, maximum - used)}

    return {
        "DailyApiRequests": pair(org.api_request_limit, org.api_requests_used),
        "DailyAsyncApexExecutions": pair(250000),
        "DailyBulkApiBatches": pair(15000),
        "DailyDeliveredPlatformEvents": pair(50000),
        "DataStorageMB": pair(5),
        "FileStorageMB": pair(20),
        "HourlyPublishedPlatformEvents": pair(250000),
        "HourlyPublishedStandardVolumePlatformEvents": pair(50000),
        "MonthlyPlatformEventsUsageEntitlement": pair(1500000),
    }


# --- query -------------------------------------------------------------------------------------


def _batch_size(headers) -> int:
    options = headers.get("sforce-query-options", "") if headers else ""
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    return max(200, min(QUERY_BATCH, int(match.group(1)))) if match else QUERY_BATCH


def query(ctx: Context, text: str | None, api: str, headers) -> Answer:
    if not text or not text.strip():
        return sf_error(400, "MALFORMED_QUERY", "A query string has to be specified")
    try:
        total, records = soql.execute(ctx.org, text, api=api, version=ctx.version)
    except soql.SoqlError as exc:
        return sf_error(400, exc.error_code, exc.message)
    return Answer(200, _page(ctx, records, total, api, _batch_size(headers), 0))


def _page(ctx: Context, records: list[dict], total: int, api: str, size: int, offset: int) -> dict:
    batch = records[offset : offset + size]
    done = offset + size >= len(records)
    page: dict = {"totalSize": total, "done": done}
    if not done:
        locator = f"01g{ctx.org.org_id[3:5]}{next(_locators):010d}"
        ctx.org.query_cursors[locator] = {"records": records, "total": total, "api": api, "size": size}
        page["nextRecordsUrl"] = (
            f"/services/data/v{ctx.version}/{'tooling/' if api == TOOLING else ''}query/{locator}-{offset + size}"
        )
    page["records"] = batch
    if api == TOOLING:
        entity = batch[0]["attributes"]["type"] if batch else None
        page = {"size": len(batch), **page, "queryLocator": None, "entityTypeName": entity}
    return page


def query_more(ctx: Context, cursor: str) -> Answer:
    locator, _, offset = cursor.partition("-")
    state = ctx.org.query_cursors.get(locator)
    start = whole_number(offset)
    if state is None or start is None or start < 0:
        return sf_error(404, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return Answer(200, _page(ctx, state["records"], state["total"], state["api"], state["size"], start))


# --- composite ---------------------------------------------------------------------------------


def _resolve(template, results: dict[str, object]):
    """Replace ``@{ref.field}`` / ``@{ref.records[0].Id}`` in strings (recursively in bodies)."""
    if isinstance(template, dict):
        return {k: _resolve(v, results) for k, v in template.items()}
    if isinstance(template, list):
        return [_resolve(v, results) for v in template]
    if not isinstance(template, str):
        return template

    def lookup(match: re.Match) -> str:
        ref, path = match.group(1), match.group(2)
        if ref not in results:
            raise LookupError(ref + path)
        value = results[ref]
        for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
            name, index = step
            try:
                value = value[name] if name else value[int(index)]
            except (KeyError, IndexError, TypeError):
                raise LookupError(ref + path) from None
        return value if isinstance(value, str) else json.dumps(value)

    return REFERENCE.sub(lookup, template)


def _invalid_input(message: str) -> Answer:
    return sf_error(400, "INVALID_INPUT", message)


def composite(ctx: Context, raw) -> Answer:
    body, error = parse_json_body(raw)
    if error:
        return error
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        return _invalid_input("The request body must include a compositeRequest array.")
    subrequests = body["compositeRequest"]
    if not subrequests:
        return _invalid_input("compositeRequest must contain at least one subrequest.")
    if len(subrequests) > 25:
        return _invalid_input("Composite API supports up to 25 subrequests per request.")
    seen: set[str] = set()
    for sub in subrequests:
        if not isinstance(sub, dict):
            return _invalid_input("Each subrequest must be a JSON object.")
        for key in ("method", "url", "referenceId"):
            if not isinstance(sub.get(key), str) or not sub[key]:
                return _invalid_input(f"Subrequest is missing the required field '{key}'.")
        if sub["method"].upper() not in ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"):
            return _invalid_input(f"Unsupported HTTP method in subrequest: {sub['method']}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", sub["referenceId"]):
            return _invalid_input(f"Invalid referenceId: {sub['referenceId']}")
        if sub["referenceId"] in seen:
            return _invalid_input(f"Duplicate ReferenceId provided in the request: {sub['referenceId']}")
        seen.add(sub["referenceId"])

    all_or_none = bool(body.get("allOrNone"))
    snapshot = (ctx.org.records.snapshot(), {k: deepcopy(v) for k, v in ctx.org.platform_events.items()})
    results: dict[str, object] = {}
    responses: list[dict] = []
    failed_at = None
    for index, sub in enumerate(subrequests):
        answer = _run_subrequest(ctx, sub, results)
        if answer.ok and answer.body is not None:
            results[sub["referenceId"]] = answer.body
        responses.append(
            {
                "body": answer.body,
                "httpHeaders": answer.headers,
                "httpStatusCode": answer.status,
                "referenceId": sub["referenceId"],
            }
        )
        if not answer.ok and all_or_none:
            failed_at = index
            break
    if failed_at is not None:
        ctx.org.records.restore(snapshot[0])
        ctx.org.platform_events.clear()
        ctx.org.platform_events.update(snapshot[1])
        halted = [{"errorCode": "PROCESSING_HALTED", "message": ROLLED_BACK}]
        for index, sub in enumerate(subrequests):
            if index == failed_at:
                continue
            entry = {
                "body": halted,
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": sub["referenceId"],
            }
            if index < failed_at:
                responses[index] = entry
            else:
                responses.append(entry)
    return Answer(200, {"compositeResponse": responses})


def _run_subrequest(ctx: Context, sub: dict, results: dict) -> Answer:
    try:
        url = _resolve(sub["url"], results)
        body = _resolve(sub.get("body"), results)
    except LookupError as exc:
        ref = str(exc.args[0]).split(".")[0].split("[")[0]
        return sf_error(
            400,
            "PROCESSING_HALTED",
            f"Invalid reference specified. No value for {exc.args[0]} found in {ref}. "
            f"Provided referenceId ('{ref}') must match one of the previously processed referenceIds.",
        )
    parsed = urlsplit(url)
    match = re.fullmatch(r"/services/data/v(\d{2,3}\.0)(/.*)?", parsed.path)
    if match is None or not _supported(match.group(1)):
        return not_found()
    rest = (match.group(2) or "/").lstrip("/")
    if rest.split("/")[0] == "composite":
        return _invalid_input("A composite subrequest can't call the composite resource.")
    params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    sub_ctx = Context(ctx.org, ctx.token, match.group(1))
    return dispatch(sub_ctx, sub["method"].upper(), rest, params, body, sub.get("httpHeaders") or {})


def _supported(version: str) -> bool:
    match = VERSION.fullmatch("v" + version)
    return bool(match) and OLDEST_VERSION <= int(match.group(1)) <= NEWEST_VERSION


# --- HTTP ------------------------------------------------------------------------------------------


def _respond(answer: Answer, extra_headers: dict | None = None) -> Response:
    headers = {**answer.headers, **(extra_headers or {})}
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    return Response(json.dumps(answer.body), status_code=answer.status, headers=headers, media_type=JSON_TYPE)


def routes(world) -> list:
    async def services_data(request: Request) -> Response:
        path = request.path_params.get("path", "")
        if path.strip("/") == "":
            if request.method not in ("GET", "HEAD"):
                return _respond(method_not_allowed(request.method, "HEAD,GET"))
            return _respond(Answer(200, versions()))
        found = world.orgs.authenticate(bearer(request))
        if found is None:
            return _respond(sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid"))
        org, token = found
        if not token.has_scope("api"):
            return _respond(
                sf_error(401, "INVALID_SESSION_ID", "This session is not valid for use with the REST API")
            )
        if org.api_requests_used >= org.api_request_limit:
            return _respond(
                sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), limit_header(org)
            )
        org.api_requests_used += 1
        version_part, _, rest = path.partition("/")
        match = VERSION.fullmatch(version_part)
        if match is None or not _supported(version_part[1:]):
            return _respond(not_found(), limit_header(org))
        ctx = Context(org, token, version_part[1:])
        body = await request.body() if request.method in ("POST", "PATCH", "PUT") else None
        if body and "xml" in request.headers.get("content-type", ""):
            return _respond(
                sf_error(415, "UNSUPPORTED_MEDIA_TYPE", "The sandbox speaks JSON only"), limit_header(org)
            )
        params = dict(request.query_params)
        answer = dispatch(ctx, request.method, rest, params, body, request.headers)
        if request.method == "HEAD":
            answer = Answer(answer.status, None, answer.headers)
        return _respond(answer, limit_header(org))

    async def other_services(request: Request) -> Response:
        return _respond(not_found())

    async def settings(request: Request) -> JSONResponse:
        org = world.orgs.get(request.path_params["org_id"])
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        if request.method == "POST":
            try:
                body = parse_json(await request.body() or b"{}")
                for key in ("api_request_limit", "api_requests_used", "token_lifetime_seconds"):
                    if key in body:
                        setattr(org, key, int(body[key]))
                if "case_subject_required" in body:
                    org.case_subject_required = bool(body["case_subject_required"])
                if "change_data_capture" in body:  # the objects selected for Change Data Capture
                    org.change_events = {str(name) for name in body["change_data_capture"]}
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": f"bad settings: {exc}"}, status_code=400)
        return JSONResponse(
            {
                "api_request_limit": org.api_request_limit,
                "api_requests_used": org.api_requests_used,
                "case_subject_required": org.case_subject_required,
                "change_data_capture": sorted(org.change_events),
                "token_lifetime_seconds": org.token_lifetime_seconds,
            }
        )

    methods = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]
    return [
        Route("/sim/core/services/data", services_data, methods=methods),
        Route("/sim/core/services/data/{path:path}", services_data, methods=methods),
        Route("/sim/core/services/{path:path}", other_services, methods=methods),
        Route("/__sim/orgs/{org_id}/settings", settings, methods=["GET", "POST"]),
    ]
