"""Test-only control API of the Enhanced Chat simulator (``/__sim/enhancedchat/...``).

Deployments, what Salesforce received (conversations, routing attributes, entries, events sent), the
rate limits and keep-alive, the event ids' format (a counter, or random numbers in no order), and the fault
switches this API needs beyond ``/__sim/faults``: drop the open event streams, expire every token of an org. 429/503 answers and latency on the REST API and the
event router come from ``/__sim/faults`` with ``service: "scrt"`` and a path such as ``^/iamessage/``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..control import read_json
from .state import EnhancedChatService

PREFIX = "/__sim/enhancedchat"


def routes(world) -> list:
    service: EnhancedChatService = world.enhancedchat

    def org_or_none(request: Request):
        return world.orgs.get(request.path_params["org_id"])

    async def deployments(request: Request) -> JSONResponse:
        org = org_or_none(request)
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        if request.method == "GET":
            return JSONResponse([d.as_json() for d in service.deployments.get(org.org_id, {}).values()])
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        try:
            deployment = service.add_deployment(org, body)
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad deployment: {exc!r}"}, status_code=400)
        return JSONResponse(deployment.as_json(), status_code=201)

    async def conversations(request: Request) -> JSONResponse:
        org = org_or_none(request)
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        return JSONResponse(service.chats_json(org))

    async def expire_tokens(request: Request) -> JSONResponse:
        org = org_or_none(request)
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        return JSONResponse({"expired": service.expire_tokens(org)})

    async def limits(request: Request) -> JSONResponse:
        if request.method == "PUT":
            body = await read_json(request)
            if isinstance(body, JSONResponse):
                return body
            if not isinstance(body, dict):
                return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
            try:
                service.limits.update(body)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(service.limits.as_json())

    async def event_ids(request: Request) -> JSONResponse:
        """``{"format": "counter" | "opaque"}``: the wire ids of events emitted from now on."""
        if request.method == "PUT":
            body = await read_json(request)
            if isinstance(body, JSONResponse):
                return body
            kind = body.get("format") if isinstance(body, dict) else None
            if kind not in ("counter", "opaque"):
                return JSONResponse({"error": 'format must be "counter" or "opaque"'}, status_code=400)
            service.events.opaque_ids = kind == "opaque"
        return JSONResponse({"format": "opaque" if service.events.opaque_ids else "counter"})

    async def streams(request: Request) -> JSONResponse:
        return JSONResponse(service.events.counts())

    async def drop(request: Request) -> JSONResponse:
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        org_id = body.get("org_id") if isinstance(body, dict) else None
        org = world.orgs.get(org_id) if org_id else None
        if org_id and org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        return JSONResponse({"dropped": service.events.drop(org_id=org.org_id if org else None)})

    return [
        Route(f"{PREFIX}/orgs/{{org_id}}/deployments", deployments, methods=["GET", "POST"]),
        Route(f"{PREFIX}/orgs/{{org_id}}/conversations", conversations),
        Route(f"{PREFIX}/orgs/{{org_id}}/tokens/expire", expire_tokens, methods=["POST"]),
        Route(f"{PREFIX}/limits", limits, methods=["GET", "PUT"]),
        Route(f"{PREFIX}/event-ids", event_ids, methods=["GET", "PUT"]),
        Route(f"{PREFIX}/streams", streams),
        Route(f"{PREFIX}/streams/drop", drop, methods=["POST"]),
    ]
