"""The event router: ``GET /sim/scrt/eventrouter/v1/sse``, one stream of server-sent events per token subject.

Documented headers: ``Accept: text/event-stream``, ``Authorization: Bearer <access token>``, ``X-Org-Id``
(the 15-character org id) and ``Last-Event-Id`` (resume after that event). Each event is
``id`` / ``event`` / ``data`` (JSON); idle streams get ``event: ping`` without an id every
``keepalive_seconds``, so a ping never moves the client's Last-Event-Id. A stream ends when the sandbox
drops it, its token is revoked, or its token has expired by the next ping.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..salesforce.ids import to15
from . import checks
from .api import bearer, error_response
from .state import ApiError, EnhancedChatService
from .streams import END

PATH = "/sim/scrt/eventrouter/v1/sse"
PING = b"event: ping\ndata: {}\n\n"


def routes(world) -> list:
    service: EnhancedChatService = world.enhancedchat

    async def sse(request: Request) -> Response:
        try:
            token = service.authenticate(bearer(request))
            if "text/event-stream" not in request.headers.get("accept", ""):
                raise ApiError(406, "Accept must include text/event-stream.")
            org_header = request.headers.get("x-org-id", "")
            if not org_header:
                raise ApiError(400, "X-Org-Id is required.")
            if org_header != to15(token.org_id):
                raise ApiError(401, "X-Org-Id does not match the access token.")
            last = request.headers.get("last-event-id", "").strip()
            if last and not _event_id(last, opaque=service.events.opaque_ids):
                raise ApiError(400, "Last-Event-Id is not an event id of this stream.")
        except ApiError as error:
            return error_response(error)
        stream = service.events.open(token.org_id, token.subject, token.value, last or None)

        async def body():
            try:
                while True:
                    try:
                        item = await asyncio.wait_for(
                            stream.queue.get(), timeout=service.limits.keepalive_seconds
                        )
                    except TimeoutError:
                        if not token.valid:
                            return
                        yield PING
                        continue
                    if item is END:
                        return
                    yield item.wire()
            finally:
                service.events.close(stream)

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [Route(PATH, sse, methods=["GET"])]


def _event_id(value: str, *, opaque: bool) -> bool:
    """A counter id is digits (at most 18); with opaque ids any printable ASCII up to 255 characters."""
    if opaque:
        return len(value) <= 255 and value.isascii() and value.isprintable()
    return checks.digits(value) and len(value) <= 18
