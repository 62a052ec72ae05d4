"""Test-only control API shared by all simulators: health, reset, fixtures, orgs and fault switches."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .inputs import parse_json
from .salesforce.orgs_fixture import add_connected_app, add_platform_event, create_org
from .world import World


async def read_json(request: Request) -> dict | list | JSONResponse:
    """The request's JSON body, or a 400 response saying why it is not usable."""
    try:
        return parse_json(await request.body() or b"{}")
    except ValueError as exc:
        return JSONResponse({"error": f"malformed JSON: {exc}"}, status_code=400)


def routes(world: World) -> list:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "orgs": len(world.orgs.all())})

    async def reset(request: Request) -> JSONResponse:
        world.reset()
        return JSONResponse({"reset": True})

    async def fixture(request: Request) -> JSONResponse:
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            world.load_fixture(body)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad fixture: {exc!r}"}, status_code=400)
        return JSONResponse({"loaded": True}, status_code=201)

    async def orgs(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse(
                [
                    {"org_id": o.org_id, "org_id15": o.org_id15, "name": o.name, "my_domain": o.my_domain}
                    for o in world.orgs.all()
                ]
            )
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            org = create_org(world, body)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad org: {exc!r}"}, status_code=400)
        return JSONResponse({"org_id": org.org_id, "org_id15": org.org_id15}, status_code=201)

    def _org_or_404(request: Request):
        return world.orgs.get(request.path_params["org_id"])

    async def connected_apps(request: Request) -> JSONResponse:
        org = _org_or_404(request)
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            app = add_connected_app(org, body)
        except (KeyError, TypeError) as exc:
            return JSONResponse({"error": f"bad connected app: {exc!r}"}, status_code=400)
        return JSONResponse({"consumer_key": app.consumer_key}, status_code=201)

    async def platform_events(request: Request) -> JSONResponse:
        org = _org_or_404(request)
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        event = add_platform_event(org, body)
        return JSONResponse({"api_name": event.api_name}, status_code=201)

    async def faults(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse(world.faults.list())
        if request.method == "DELETE":
            world.faults.clear()
            return JSONResponse({"cleared": True})
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            rule = world.faults.add(**body)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"id": rule.id}, status_code=201)

    async def delayed(request: Request) -> JSONResponse:
        """Requests an added latency is holding right now, per service."""
        return JSONResponse(world.faults.delayed)

    async def fault(request: Request) -> JSONResponse:
        if not world.faults.remove(int(request.path_params["rule_id"])):
            return JSONResponse({"error": "unknown fault rule"}, status_code=404)
        return JSONResponse({"removed": True})

    return [
        Route("/__sim/health", health),
        Route("/__sim/reset", reset, methods=["POST"]),
        Route("/__sim/fixture", fixture, methods=["POST"]),
        Route("/__sim/orgs", orgs, methods=["GET", "POST"]),
        Route("/__sim/orgs/{org_id}/connected-apps", connected_apps, methods=["POST"]),
        Route("/__sim/orgs/{org_id}/platform-events", platform_events, methods=["POST"]),
        Route("/__sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/__sim/faults/delayed", delayed),
        Route("/__sim/faults/{rule_id:int}", fault, methods=["DELETE"]),
    ]
