"""What an Enhanced Chat conversation's event stream says, recorded (docs/enhanced-chat.md, "Events").

An event and the session's new ``last_event_id`` are written in one transaction, and every outbound row has the
agent's entry identifier as its entry id, so an event read again (a stream resumed after a drop, a listener
restarted before it stored the id) is recorded once. The stream's own events of the end user (the echo of each
customer message) are skipped. Whatever cannot be read is logged and skipped: the stream moves on.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .. import untrusted
from ..models import Conversation, Message
from ..outbound import agent_content
from ..outbound.record import queue_outbound
from ..untrusted import Repairs, bounded_id, max_length_of, storable
from .enhanced_chat_models import EnhancedChatSession

log = logging.getLogger(__name__)

_ENTRY_ID_LENGTH = max_length_of(Message, "salesforce_entry_id")
Status = EnhancedChatSession.Status

MESSAGE = "CONVERSATION_MESSAGE"
PARTICIPANT_CHANGED = "CONVERSATION_PARTICIPANT_CHANGED"
CLOSE = "CONVERSATION_CLOSE_CONVERSATION"
#: Every session status change, whoever made it. An agent's End is only this: Salesforce sends CLOSE
#: "only when the end user closes the conversation, not when an agent ends a session" ("Server-Sent
#: Events Structure"), so the end of a conversation is a session Ended here, or CLOSE.
SESSION_STATUS_CHANGED = "CONVERSATION_SESSION_STATUS_CHANGED"
ENDED = "Ended"
#: Routing to a rep or bot, "such as when a conversation is initially created or when a conversation is
#: transferred" ("Server-Sent Events Structure"). Its entryPayload (RoutingResult) says ``routingType``
#: (Initial, Transfer), ``failureType`` (None when routed; Unknown, SubmissionError, RoutingError, Cancelled
#: when not) and ``failureReason``: the Omni-Channel flow's ``reasonForNotRouting``, the text Salesforce returns
#: to the Enhanced Chat client for its user ("Create the reasonForNotRouting", help.salesforce.com,
#: service.omnichannel_create_reasonfornotrouting.htm; the field names are Salesforce's own client's:
#: Salesforce-Async-Messaging/messaging-web-api-sample-app, constants.js and conversation.js).
ROUTING_RESULT = "CONVERSATION_ROUTING_RESULT"
ROUTED = "None"
TRANSFER = "Transfer"
#: How many event ids of a stream are remembered to recognise one read again: Salesforce documents the ids as
#: strings only, so nothing is assumed about their order; a repeat older than this is still recorded once, by
#: its entry identifier.
RECENT_EVENT_IDS = 100


def record_event(session_pk: int, event_id: str, event_type: str, data: str) -> None:
    """Record one stream event of session ``session_pk`` and remember its id as the place to resume from."""
    document = _document(data, event_type)
    with transaction.atomic():
        session = (
            EnhancedChatSession.objects.select_for_update()
            .select_related("conversation__tenant", "conversation__sender__account")
            .get(pk=session_pk)
        )
        event_id = event_id[:255]
        recent = _recent(session.recent_event_ids, session.last_event_id)
        if seen(recent, event_id):
            return
        if document is not None and _same_conversation(session, document):
            _record(session, event_type, document)
        if event_id:
            EnhancedChatSession.objects.filter(pk=session.pk).update(
                last_event_id=event_id,
                recent_event_ids=[*recent, event_id][-RECENT_EVENT_IDS:],
                updated_at=timezone.now(),
            )


def seen(recent: list[str], event_id: str) -> bool:
    """An event recorded already: its id is one of the stream's last :data:`RECENT_EVENT_IDS`. Salesforce calls
    the ids strings ("Server-Sent Events": ``Last-Event-Id: String``) and promises no order, so an id is never
    compared with another as larger or smaller: an event with an id "before" the last one is a new event."""
    return bool(event_id) and event_id in recent


def _recent(value: object, last: str) -> list[str]:
    """The remembered ids; a row from before they were kept remembers its last one."""
    recent = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    return recent or ([last] if last else [])


def close_session(session: EnhancedChatSession, reason: str) -> None:
    """The conversation is over (agent, customer, token gone): the next customer message opens a new one."""
    now = timezone.now()
    EnhancedChatSession.objects.filter(pk=session.pk, status__in=EnhancedChatSession.OPEN_STATES).update(
        status=Status.CLOSED, end_reason=reason[:40], ended_at=now, updated_at=now
    )
    session.status, session.end_reason, session.ended_at = Status.CLOSED, reason[:40], now
    Conversation.objects.filter(pk=session.conversation_id).update(session_status="Ended", updated_at=now)


def _document(data: str, event_type: str) -> dict | None:
    try:
        document = untrusted.loads(data) if isinstance(data, str | bytes) else data
    except ValueError as exc:
        log.warning("Enhanced Chat %s event is not JSON: %s", event_type, exc)
        return None
    if not isinstance(document, dict) or untrusted.depth_exceeds(document, untrusted.MAX_JSON_DEPTH):
        log.warning("Enhanced Chat %s event is not a JSON object of a sane depth", event_type)
        return None
    return Repairs().json(document, "event")  # no NUL byte or lone surrogate reaches PostgreSQL


def _same_conversation(session: EnhancedChatSession, document: dict) -> bool:
    """conversationId is required in every event (Salesforce, "Server-Sent Events"): one that does not name
    this conversation - missing, not a text, another's - is not recorded as this conversation's."""
    said = document.get("conversationId")
    return isinstance(said, str) and said.lower() == session.conversation_uuid


def _entry(document: dict) -> tuple[dict, dict]:
    """(the conversationEntry, its entryPayload decoded: the stream sends it as a JSON string)."""
    entry = document.get("conversationEntry")
    entry = entry if isinstance(entry, dict) else {}
    payload = entry.get("entryPayload")
    if isinstance(payload, str):
        try:
            payload = untrusted.loads(payload)
        except ValueError:
            payload = None
    if not isinstance(payload, dict) or untrusted.depth_exceeds(payload, untrusted.MAX_JSON_DEPTH):
        payload = {}
    return entry, Repairs().json(payload, "entryPayload")


def _record(session: EnhancedChatSession, event_type: str, document: dict) -> None:
    entry, payload = _entry(document)
    if event_type == MESSAGE:
        _record_message(session, entry, payload)
    elif event_type == PARTICIPANT_CHANGED:
        _record_participants(session, payload)
    elif event_type == CLOSE:
        _end(session, "closed by Salesforce")
    elif event_type == SESSION_STATUS_CHANGED and payload.get("sessionStatus") == ENDED:
        _end(session, "session ended")
    elif event_type == ROUTING_RESULT and _not_routed(payload):
        _not_routed_end(session, payload)
    # Successful routing results, failed transfers (the conversation stays where it was), typing, other session statuses (Waiting, Active), the acknowledgements of the
    # customer's own messages and event types Salesforce adds later (which it says to ignore): nothing.


def _end(session: EnhancedChatSession, reason: str) -> None:
    """The conversation is over for us: the row closed (the next customer message opens a new conversation,
    routed afresh) and the tenant's closing text queued. Once: a closed row ends nothing again, and the
    closing text's entry id is the conversation's, so a session Ended and a CLOSE of one conversation, or
    the same event under another id, queue one closing text between them."""
    if session.status == Status.CLOSED:
        return
    close_session(session, reason)
    closing = session.conversation.tenant.closing_text
    if closing:
        queue_outbound(
            session.conversation,
            {"kind": "text", "text": closing, "system": "closing"},
            salesforce_entry_id=bounded_id(f"ec-closing:{session.conversation_uuid}", _ENTRY_ID_LENGTH),
        )


def _not_routed(payload: dict) -> bool:
    """The conversation's initial routing failed: a failureType other than None. A failed transfer leaves the
    conversation with whoever has it (Salesforce's sample client shows only a failed initial routing)."""
    failure = payload.get("failureType")
    return isinstance(failure, str) and failure not in ("", ROUTED) and payload.get("routingType") != TRANSFER


def _not_routed_end(session: EnhancedChatSession, payload: dict) -> None:
    """No rep or bot will get this conversation (outside business hours, say): the customer is told why, in the
    flow's own words (``failureReason``) or else the tenant's no-agent text, and the row is closed, so the
    customer's next message opens a new conversation and is routed afresh. Once per conversation: the text's
    entry id is the conversation's, and a closed row ends nothing again."""
    if session.status == Status.CLOSED:
        return
    reason = storable(_text(payload.get("failureReason"))).strip()
    failure = storable(_text(payload.get("failureType")))
    close_session(session, f"not routed ({failure})")
    text = reason[:4096] or session.conversation.tenant.no_agent_text
    if text:
        queue_outbound(
            session.conversation,
            {"kind": "text", "text": text, "system": "no_agent"},
            salesforce_entry_id=bounded_id(f"ec-not-routed:{session.conversation_uuid}", _ENTRY_ID_LENGTH),
        )


def _record_message(session: EnhancedChatSession, entry: dict, payload: dict) -> None:
    sender = _member(entry, "sender")
    if sender.get("role") == "EndUser":
        return  # the echo of a customer message this desk sent
    identifier = entry.get("identifier") or payload.get("id")
    if not isinstance(identifier, str) or not identifier:
        log.warning("Enhanced Chat session %s: a message event without an identifier, skipped", session.pk)
        return
    agent = {
        "id": storable(_text(sender.get("subject")))[:18],
        "name": storable(_text(entry.get("senderDisplayName")))[:255],
    }
    for index, content in enumerate(agent_content.render(payload.get("abstractMessage")).contents):
        entry_id = identifier if index == 0 else f"{identifier}#{index}"
        content["agent"] = agent
        content["entry_identifier"] = identifier  # what the delivery and read acknowledgements name
        # where they go: the customer may be in a newer conversation by the time the phone reports it read
        content["enhanced_chat_session"] = session.pk
        queue_outbound(
            session.conversation, content, salesforce_entry_id=bounded_id(f"ec:{entry_id}", _ENTRY_ID_LENGTH)
        )


def _record_participants(session: EnhancedChatSession, payload: dict) -> None:
    changes = payload.get("entries")
    for change in changes if isinstance(changes, list) else []:
        participant = change.get("participant") if isinstance(change, dict) else None
        if not (isinstance(participant, dict) and participant.get("role") == "Agent"):
            continue
        subject = storable(_text(participant.get("subject")))
        if change.get("operation") == "add" and subject:
            name = storable(_text(change.get("displayName")))[:255]
            EnhancedChatSession.objects.filter(pk=session.pk).update(agent_id=subject[:64], agent_name=name)
            Conversation.objects.filter(pk=session.conversation_id).update(
                last_agent_id=subject[:18], session_status="Active", updated_at=timezone.now()
            )


def _member(document: dict, name: str) -> dict:
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
