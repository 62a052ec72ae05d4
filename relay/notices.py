"""Tell Salesforce what became of an agent's message: Delivered / Read acknowledgements, or
``MessageDeliveryFailed`` with a reason the agent can read."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from .attempts import attempt
from .backoff import next_attempt
from .errors import ExternalError
from .models import Message, SalesforceNotice
from .salesforce.interactions import InteractionClient

ORDER = {SalesforceNotice.Kind.DELIVERED: 0, SalesforceNotice.Kind.READ: 1, SalesforceNotice.Kind.FAILED: 2}


def notify(message_id: int):
    """Send the message's pending notices in order; return when to retry, or None."""
    message = Message.objects.select_related("tenant__salesforce", "conversation__sender").get(pk=message_id)
    pending = sorted(
        SalesforceNotice.objects.filter(message=message, status=SalesforceNotice.Status.PENDING),
        key=lambda n: ORDER[n.kind],
    )
    now = timezone.now()
    for notice in pending:
        if notice.next_attempt_at > now:
            return notice.next_attempt_at
        # One worker per notice: the loser of a race leaves it (and the ones after it, to keep their
        # order) to the winner, and looks again shortly; a dead winner's claim is retried by the sweeper.
        claimed = SalesforceNotice.objects.filter(
            pk=notice.pk, status=SalesforceNotice.Status.PENDING, attempts=notice.attempts
        ).update(attempts=notice.attempts + 1, updated_at=now)
        if not claimed:
            return now + timedelta(seconds=1)
        notice.attempts += 1
        try:
            _send(message, notice)
        except ExternalError as exc:
            notice.last_error = str(exc)
            if exc.permanent:
                notice.status = SalesforceNotice.Status.FAILED
                notice.save(update_fields=["last_error", "status", "updated_at"])
                continue
            notice.next_attempt_at = next_attempt(notice.attempts, retry_after=exc.retry_after)
            notice.save(update_fields=["last_error", "next_attempt_at", "updated_at"])
            return notice.next_attempt_at
        SalesforceNotice.objects.filter(pk=notice.pk).update(
            status=SalesforceNotice.Status.DONE, last_error="", updated_at=timezone.now()
        )
    return None


def _send(message: Message, notice: SalesforceNotice) -> None:
    conversation = message.conversation
    client = InteractionClient(message.tenant.salesforce)
    to, from_ = conversation.sender.channel_address_identifier, conversation.customer
    entry = message.content["entry_identifier"]
    timestamp_ms = int(notice.occurred_at.timestamp() * 1000)
    if notice.kind == SalesforceNotice.Kind.FAILED:
        with attempt(message, target="salesforce", action="delivery_failed"):
            client.send_delivery_failed(
                to=to,
                from_=from_,
                failed_entry_id=entry,
                error_code=notice.error_code or "DELIVERY_FAILED",
                error_message=notice.reason,
                entry_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"failed:{notice.pk}")),
                timestamp_ms=timestamp_ms,
            )
    else:
        kind = "Read" if notice.kind == SalesforceNotice.Kind.READ else "Delivered"
        with attempt(message, target="salesforce", action=f"acknowledgement_{kind.lower()}"):
            client.acknowledge(conversation.salesforce_conversation_id, from_, [(entry, kind, timestamp_ms)])
