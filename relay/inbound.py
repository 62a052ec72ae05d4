"""Customer → agent: the pipeline's ``deliver`` and ``on_failed`` for inbound messages."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from .desks.base import desk_for
from .errors import ExternalError
from .models import Message

log = logging.getLogger(__name__)


def deliver(message: Message) -> None:
    desk_for(message).deliver(message)


def on_failed(message: Message, reason: str, error: ExternalError | None) -> None:
    """The agent never saw this message: tell the customer, once per conversation and day."""
    log.warning("inbound message %s failed for good: %s", message.pk, reason)
    text = message.tenant.no_agent_text
    if not text or _customer_told_recently(message):
        return
    from .outbound import queue_outbound

    day = message.updated_at.date().isoformat() if message.updated_at else ""
    queue_outbound(
        message.conversation,
        {"kind": "text", "text": text, "system": "undelivered"},
        salesforce_entry_id=f"undelivered:{message.conversation_id}:{day}",
    )


def _customer_told_recently(message: Message) -> bool:
    """A no-agent text already went out today (e.g. while a handover waited for an agent)."""
    return Message.objects.filter(
        conversation_id=message.conversation_id,
        direction=Message.Direction.OUTBOUND,
        content__system__in=["no_agent", "undelivered"],
        created_at__gte=timezone.now() - timedelta(days=1),
    ).exists()
