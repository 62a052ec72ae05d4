"""Parse the outbound platform event (Salesforce's InteractionEvent) defensively.

The reference notes real events that differ from the schema (no ``payload`` wrapper, nulls where
the schema says not); whatever we cannot read is logged and skipped, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import untrusted
from ..untrusted import Repairs
from . import agent_content


class MalformedEvent(ValueError):
    pass


@dataclass(frozen=True)
class AgentEvent:
    entry_type: str
    identifier: str
    conversation_identifier: str
    channel_address_identifier: str
    recipient: str  # the end user's client id: our customer id
    sender_id: str = ""
    sender_role: str = ""
    sender_name: str = ""
    entry_payload: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    repairs: tuple[str, ...] = ()  # what was changed to make the event storable (relay/untrusted.py)


def parse(fields: dict, *, type_field: str, payload_field: str) -> AgentEvent | None:
    """``None`` for events that are not interactions (e.g. RoutingRequested for partner routing)."""
    event_type = fields.get(type_field)
    if event_type not in (None, "Interaction"):
        return None
    raw_payload = fields.get(payload_field)
    if not raw_payload:
        raise MalformedEvent(f"{payload_field} is empty")
    try:
        document = untrusted.loads(raw_payload) if isinstance(raw_payload, str) else raw_payload
    except ValueError as exc:  # untrusted.UnacceptableJSON too: NaN, nesting deeper than MAX_JSON_DEPTH
        raise MalformedEvent(f"{payload_field} is not JSON: {exc}") from exc
    if untrusted.depth_exceeds(document, untrusted.MAX_JSON_DEPTH):
        raise MalformedEvent(f"{payload_field} is nested deeper than {untrusted.MAX_JSON_DEPTH} levels")
    if not isinstance(document, dict):
        raise MalformedEvent(f"{payload_field} is not an object")
    # PostgreSQL stores no NUL byte and no half of a surrogate pair: an event carrying one (in the agent's
    # text, a name, a key) would fail to store on every replay and hold up the tenant's replies behind it.
    repairs = Repairs()
    document = repairs.json(document, "event")
    entry = document.get("payload") if isinstance(document.get("payload"), dict) else document
    entry_payload = entry.get("entryPayload") if isinstance(entry.get("entryPayload"), dict) else {}
    entry_type = entry.get("entryType") or entry_payload.get("entryType") or ""
    sender = entry.get("sender") if isinstance(entry.get("sender"), dict) else {}
    recipient = document.get("recipient") if isinstance(document.get("recipient"), dict) else {}
    identifier = entry.get("identifier") or entry_payload.get("id") or ""
    if not entry_type or not identifier:
        raise MalformedEvent("the event has no entryType or identifier")
    if not isinstance(entry_type, str) or not isinstance(identifier, str | int):
        raise MalformedEvent("the event's entryType or identifier is not a string")
    return AgentEvent(
        entry_type=entry_type,
        identifier=str(identifier),
        conversation_identifier=str(document.get("conversationIdentifier") or ""),
        channel_address_identifier=str(document.get("channelAddressIdentifier") or ""),
        recipient=str(recipient.get("subject") or ""),
        sender_id=str(sender.get("subject") or ""),
        sender_role=str(sender.get("role") or ""),
        sender_name=str(entry.get("senderDisplayName") or ""),
        entry_payload=entry_payload,
        raw=document,
        repairs=tuple(repairs.notes),
    )


def message_content(event: AgentEvent) -> list[dict]:
    """The outbound contents of a Message entry: usually one; one per attachment for several files; one
    ``refused`` content for a message the customer's channel cannot show (see ``agent_content``)."""
    return agent_content.render(event.entry_payload.get("abstractMessage")).contents
