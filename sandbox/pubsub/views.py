"""Test-only JSON control routes for the event bus: list and publish platform events, drop streams.

GET  /__sim/pubsub/events?org=<org id>&event=<Api_Name__e>   retained events, oldest first
POST /__sim/pubsub/events  {"org", "event", "fields": {...}, "created_by_id"?}   publish one event
POST /__sim/pubsub/drop    {"org"?}   close open Subscribe streams with UNAVAILABLE
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..control import read_json
from .avro import PayloadError
from .bus import UnknownTopic

if TYPE_CHECKING:
    from ..world import World


def routes(world: World) -> list:
    def event_json(event) -> dict:
        return {
            "replay_id": event.replay_id.hex(),  # the 8 opaque bytes, hex-encoded
            "event_id": event.event_id,
            "schema_id": event.schema_id,
            "published_at": event.published_at,
            "fields": event.record,
        }

    async def events(request: Request) -> JSONResponse:
        if request.method == "GET":
            org_id, event_name = request.query_params.get("org", ""), request.query_params.get("event", "")
            try:
                retained = world.pubsub.retained(org_id, event_name)
            except UnknownTopic:
                return JSONResponse(
                    {"error": f"org {org_id!r} has no platform event {event_name!r}"}, status_code=404
                )
            return JSONResponse([event_json(e) for e in retained])
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        if not isinstance(body, dict) or not isinstance(body.get("fields", {}), dict):
            return JSONResponse({"error": "expected {org, event, fields: {...}}"}, status_code=400)
        org = world.orgs.get(str(body.get("org", "")))
        if org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        users = org.records.all("User")
        created_by = body.get("created_by_id") or (users[0]["Id"] if users else org.org_id)
        try:
            replay_id = world.pubsub.publish(
                org.org_id, str(body.get("event", "")), body.get("fields", {}), created_by_id=created_by
            )
        except UnknownTopic:
            return JSONResponse(
                {"error": f"org has no platform event {body.get('event')!r}"}, status_code=404
            )
        except PayloadError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"replay_id": replay_id.hex()}, status_code=201)

    async def drop(request: Request) -> JSONResponse:
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        org_id = body.get("org") if isinstance(body, dict) else None
        org = world.orgs.get(org_id) if org_id else None
        if org_id and org is None:
            return JSONResponse({"error": "unknown org"}, status_code=404)
        return JSONResponse({"dropped": world.pubsub.drop_streams(org.org_id if org else None)})

    return [
        Route("/__sim/pubsub/events", events, methods=["GET", "POST"]),
        Route("/__sim/pubsub/drop", drop, methods=["POST"]),
    ]
