"""What the Chat API's ``System/Messages`` says, recorded: agent messages become outbound rows for the provider,
the chat's state follows its requests, agents and end (Chat REST API Developer Guide, "Messages" types).

A batch and the session's new ``ack``/``offset`` are written in one transaction, and every outbound row has an
entry id made of the chat and the batch's sequence, so a batch polled again after a crash or a listener restart
is recognised and recorded once.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from ..models import Conversation, Message
from ..outbound.record import queue_outbound
from ..untrusted import bounded_id, max_length_of, storable
from .livechat_models import LiveChatSession

log = logging.getLogger(__name__)

_ENTRY_ID_LENGTH = max_length_of(Message, "salesforce_entry_id")
Status = LiveChatSession.Status


def record_batch(chat_pk: int, messages: list[dict], *, ack: int, offset: int) -> LiveChatSession:
    """Record one Messages batch of chat ``chat_pk`` and advance its ack; returns the chat as it now is."""
    with transaction.atomic():
        chat = (
            LiveChatSession.objects.select_for_update()
            .select_related("conversation__tenant", "conversation__sender__account")
            .get(pk=chat_pk)
        )
        if ack <= chat.ack and messages:
            return chat  # recorded before (a batch polled again with an ack we had not stored yet cannot be older)
        for index, item in enumerate(messages):
            _record(chat, item.get("type", ""), item.get("message"), f"{ack}:{index}")
        if ack > chat.ack:
            chat.ack, chat.offset = ack, offset
        chat.save()
    return chat


def end_chat(chat: LiveChatSession, reason: str) -> None:
    """The chat is over (agent, customer, timeout, nobody took it): the next customer message opens a new one."""
    now = timezone.now()
    LiveChatSession.objects.filter(pk=chat.pk, status__in=LiveChatSession.OPEN).update(
        status=Status.ENDED, end_reason=reason[:40], ended_at=now, pending={}, updated_at=now
    )
    chat.status, chat.end_reason, chat.ended_at = Status.ENDED, reason[:40], now
    Conversation.objects.filter(pk=chat.conversation_id).update(session_status="Ended", updated_at=now)


def _record(chat: LiveChatSession, kind: str, detail: object, place: str) -> None:
    detail = detail if isinstance(detail, dict) else {}
    conversation = chat.conversation
    if kind == "ChatRequestSuccess" and chat.status == Status.REQUESTED:
        chat.status = Status.WAITING
    elif kind == "ChatRequestFail":
        chat.status, chat.end_reason, chat.ended_at = (
            Status.ENDED,
            _reason("unavailable", detail),
            timezone.now(),
        )
        # As end_chat: the admin and the API show the session over, not still waiting for an agent.
        Conversation.objects.filter(pk=conversation.pk).update(
            session_status="Ended", updated_at=chat.ended_at
        )
    elif kind in ("ChatEstablished", "ChatTransferred"):
        if chat.status != Status.ENDED:
            chat.status = Status.ESTABLISHED
        chat.agent_id = _text(detail.get("userId"))[:18]
        chat.agent_name = _text(detail.get("name"))[:255]
        changes = {"session_status": "Active", "updated_at": timezone.now()}
        if chat.agent_id:
            changes["last_agent_id"] = chat.agent_id  # sticky routing reads it
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
    elif kind == "ChatMessage":
        text = storable(_text(detail.get("text")))
        if not text.strip():
            return
        queue_outbound(
            conversation,
            {
                "kind": "text",
                "text": text,
                "agent": {"id": _text(detail.get("agentId"))[:18], "name": _text(detail.get("name"))[:255]},
            },
            salesforce_entry_id=bounded_id(f"livechat:{chat.session_id}:{place}", _ENTRY_ID_LENGTH),
        )
    elif kind == "ChatEnded":
        end_chat(chat, _reason("ended", detail))
        closing = conversation.tenant.closing_text
        if closing:
            queue_outbound(
                conversation,
                {"kind": "text", "text": closing, "system": "closing"},
                salesforce_entry_id=bounded_id(f"livechat-closing:{chat.session_id}", _ENTRY_ID_LENGTH),
            )
    # QueueUpdate, typing, ChasitorSessionData (a reconnect restating the chat) and the rest: nothing to record.


def _reason(prefix: str, detail: dict) -> str:
    reason = _text(detail.get("reason"))
    return f"{prefix}: {reason}"[:40] if reason else prefix


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
