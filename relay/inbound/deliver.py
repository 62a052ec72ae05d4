"""Customer → agent: the pipeline's ``deliver`` and ``on_failed`` for inbound messages."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from tenants.models import SalesforceConnection

from ..desks.base import Desk
from ..desks.registry import desk_for
from ..errors import ExternalError
from ..lines.attempts import attempt
from ..models import Message
from ..outbound.record import queue_outbound

log = logging.getLogger(__name__)


def deliver(message: Message) -> None:
    """Hand one inbound message to the tenant's desk: a chatbot's transcript, or what the customer sent."""
    desk = _desk(message)
    if message.kind == "history":  # a chatbot handover's place in the line (relay/handover)
        desk.import_transcript(message)
    else:
        desk.deliver(message)


def _desk(message: Message) -> Desk:
    try:
        connection = message.tenant.salesforce  # the pipeline reads it with the message (select_related)
    except SalesforceConnection.DoesNotExist:
        connection = None
    if connection is None:
        # Not permanent: the admin may connect Salesforce within the delivery window, and then it arrives.
        problem = ExternalError(
            "Salesforce is not connected for this tenant yet (setup wizard, step 1)", code="NOT_CONNECTED"
        )
    else:
        try:
            return desk_for(connection)
        except LookupError as exc:
            problem = ExternalError(
                f"This tenant's desk is not available: {exc}", permanent=True, code="DESK_UNAVAILABLE"
            )
    with attempt(message, target="salesforce", action="interaction"):  # recorded like a refused call
        raise problem


def on_failed(message: Message, reason: str, error: ExternalError | None) -> None:
    """The agent never saw this message: tell the customer, once per conversation and day. A chatbot handover's
    transcript that failed fails its handover too, with the reason (it said "waiting" or "queued" for ever)."""
    log.warning("inbound message %s failed for good: %s", message.pk, reason)
    if message.kind == "history":
        _fail_handover(message, reason)
    text = message.tenant.no_agent_text
    if not text or _customer_told_recently(message):
        return
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


def _fail_handover(message: Message, reason: str) -> None:
    from ..handover.models import Handover  # relay.models imports the handover models: by name at call time

    handover_id = (message.content or {}).get("handover")
    if not isinstance(handover_id, int):
        return
    Handover.objects.filter(tenant_id=message.tenant_id, pk=handover_id).exclude(
        status=Handover.Status.DELIVERED
    ).update(status=Handover.Status.FAILED, last_error=reason, updated_at=timezone.now())
