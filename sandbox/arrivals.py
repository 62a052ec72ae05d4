"""When each message reached the other side: for benchmarks and soak tests.

``GET /__sim/arrivals?side=salesforce|phone&prefix=<text prefix>`` lists, in arrival order, every
customer message the Interaction Service stored (``salesforce``: one row per stored entry, so a
retried entry id that Salesforce de-duplicated appears once) or every message the Infobip simulator
accepted for a customer's phone (``phone``: one row per send, so a message sent twice appears twice).
Rows are ``[text, arrival epoch seconds, conversation key]``; the conversation key is the org and
end user (``salesforce``) or the sender and customer (``phone``), so per-conversation order can be
checked. ``prefix`` keeps the answer small when the sandbox holds other traffic.

``GET /__sim/arrivals/subscriptions`` tells which orgs have an open Pub/Sub subscription (a listener
started in another process is ready when its orgs appear).

The agent's own messages (``side=agent``) are listed the same way with the time the agent sent them,
so a load generator can measure agent event → phone without its own clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from .world import World

SIDES = ("salesforce", "phone", "agent")


def _entry_text(entry) -> str:
    message = (entry.entry_payload or {}).get("abstractMessage") or {}
    return str((message.get("staticContent") or {}).get("text") or "")


def entries(world: World, source: str, prefix: str) -> list[list]:
    """Rows for stored entries of one source (``interaction``: from the customer; ``agent``)."""
    rows = []
    for org_id, state in world.messaging._orgs.items():
        for conversation in state.conversations.values():
            for entry in conversation.entries:
                if entry.source != source or entry.entry_type != "Message":
                    continue
                text = _entry_text(entry)
                if text.startswith(prefix):
                    key = f"{org_id}|{conversation.identifier}"
                    rows.append([text, entry.transcripted_timestamp / 1000, key, entry.seq])
    rows.sort(key=lambda row: row[3])  # the order Salesforce stored them in
    return [row[:3] for row in rows]


def phone(world: World, prefix: str) -> list[list]:
    rows = []
    for message in world.infobip.messages:  # kept in the order the simulator accepted them
        if message.direction != "OUTBOUND":
            continue
        text = str(
            message.rendered.get("text") or message.rendered.get("body") or message.content.get("text") or ""
        )
        if text.startswith(prefix):
            rows.append([text, message.at.timestamp(), f"{message.sender}|{message.customer}"])
    return rows


def routes(world: World) -> list:
    async def arrivals(request: Request) -> JSONResponse:
        side = request.query_params.get("side", "salesforce")
        prefix = request.query_params.get("prefix", "")
        if side not in SIDES:
            return JSONResponse({"error": f"side must be one of {', '.join(SIDES)}"}, status_code=400)
        if side == "phone":
            rows = phone(world, prefix)
        else:
            rows = entries(world, "interaction" if side == "salesforce" else "agent", prefix)
        return JSONResponse({"side": side, "count": len(rows), "rows": rows})

    async def subscriptions(request: Request) -> JSONResponse:
        """Orgs (15-character ids) with at least one open Pub/Sub subscription, and how many each."""
        counts: dict[str, int] = {}
        for topic in world.pubsub._topics.values():
            if topic.subscriptions:
                counts[topic.org_id[:15]] = counts.get(topic.org_id[:15], 0) + len(topic.subscriptions)
        return JSONResponse(counts)

    return [
        Route("/__sim/arrivals", arrivals),
        Route("/__sim/arrivals/subscriptions", subscriptions),
    ]
