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


def record_event(session_pk: int, event_id: str, event_type: str, data: str) -> None:
    """Record one stream event of session ``session_pk`` and remember its id as the place to resume from."""
    document = _document(data, event_type)
    with transaction.atomic():
        session = (
            EnhancedChatSession.objects.select_for_update()
            .select_related("conversation__tenant", "conversation__sender__account")
            .get(pk=session_pk)
        )
        if seen(session.last_event_id, event_id):
            return
        if document is not None and _same_conversation(session, document):
            _record(session, event_type, document)
        if event_id:
            EnhancedChatSession.objects.filter(pk=session.pk).update(
                last_event_id=event_id[:255], updated_at=timezone.now()
            )


def seen(last: str, event_id: str) -> bool:
    """An event at or before the last one recorded. The ids are compared as numbers when both are (Salesforce's
    are); otherwise nothing is assumed and the entry ids alone keep a repeat from being recorded twice."""
    if not (_is_number(last) and _is_number(event_id)):
        return False
    # Compared as digit strings, not through int(): ids from outside may be longer than int() converts.
    last, event_id = last.lstrip("0"), event_id.lstrip("0")
    return (len(event_id), event_id) <= (len(last), last)


def _is_number(value: str) -> bool:
    """ASCII digits only: '²' and '٣' are digits to str.isdigit(), not ids of Salesforce's."""
    return bool(value) and value.isascii() and value.isdecimal()


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
    # Routing results, typing, other session statuses (Waiting, Active), the acknowledgements of the
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
