"""Tell Salesforce what became of an agent's message: Delivered / Read acknowledgements, or
``MessageDeliveryFailed`` with a reason the agent can read.

Runs on the delivery engine (``lines/engine.py``: claim, attempts, backoff, bounds), like a message: a
notice that fails on an error of ours (not Salesforce's) is failed after ``RELAY_MAX_INTERNAL_ERRORS`` tries,
so one bad notice cannot be retried forever; a permanent error fails it at once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..errors import ExternalError
from ..lines import engine
from ..lines.attempts import attempt, describe_internal_error, record_internal_error
from ..models import Message, SalesforceNotice
from ..salesforce.interactions import InteractionClient

log = logging.getLogger(__name__)

ORDER: dict[str, int] = {
    SalesforceNotice.Kind.DELIVERED: 0,
    SalesforceNotice.Kind.READ: 1,
    SalesforceNotice.Kind.FAILED: 2,
}


def notify(message_id: int):
    """Send the message's pending notices in order; return when to retry, or None."""
    message = (
        Message.objects.select_related("tenant__salesforce", "conversation__sender")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return None  # deleted, and its notices with it
    pending = sorted(
        SalesforceNotice.objects.filter(message=message, status=SalesforceNotice.Status.PENDING),
        key=lambda n: ORDER.get(n.kind, len(ORDER)),  # a kind this code does not know fails on its own, last
    )
    now = timezone.now()
    for notice in pending:
        if notice.next_attempt_at > now:
            return notice.next_attempt_at
        # One worker per notice: the loser of a race leaves it (and the ones after it, to keep their
        # order) to the winner, and looks again shortly; a dead winner's claim is retried by the sweeper.
        claimed = engine.claim(
            SalesforceNotice.objects.filter(
                pk=notice.pk, status=SalesforceNotice.Status.PENDING, attempts=notice.attempts
            ),
            attempts=notice.attempts + 1,
            updated_at=now,
        )
        if not claimed:
            return now + timedelta(seconds=1)
        notice.attempts += 1
        try:
            _send(message, notice)
        except ExternalError as exc:
            notice.last_error = str(exc)
            due = engine.next_try(engine.kind_of(exc), attempts=notice.attempts, retry_after=exc.retry_after)
            if due is None:  # permanent: given up at once
                notice.status = SalesforceNotice.Status.FAILED
                notice.save(update_fields=["last_error", "status", "updated_at"])
                continue
            notice.next_attempt_at = due
            notice.save(update_fields=["last_error", "next_attempt_at", "updated_at"])
            return notice.next_attempt_at
        except Exception as exc:  # noqa: BLE001 - whatever it is, it must not be retried forever
            due = _internal_error(message, notice, exc)
            if due is None:
                continue  # given up: the next notice's turn
            return due
        SalesforceNotice.objects.filter(pk=notice.pk).update(
            status=SalesforceNotice.Status.DONE, last_error="", updated_at=timezone.now()
        )
    return None


def _internal_error(message: Message, notice: SalesforceNotice, exc: Exception):
    """Record an internal error; returns when to try the notice again, or None when it was given up."""
    record_internal_error(message, exc, target="salesforce", action=_action(notice))
    notice.internal_errors += 1
    log.exception(
        "tenant %s, conversation %s: sending the %s notice %s of message %s raised (try %s of %s)",
        message.tenant_id,
        message.conversation_id,
        notice.kind,
        notice.pk,
        message.pk,
        notice.internal_errors,
        settings.RELAY_MAX_INTERNAL_ERRORS,
    )
    notice.last_error = describe_internal_error(exc)
    due = engine.next_try(engine.INTERNAL, internal_errors=notice.internal_errors)
    if due is None:
        notice.status = SalesforceNotice.Status.FAILED
        notice.last_error += f"; gave up after {notice.internal_errors} tries"
        notice.save(update_fields=["last_error", "status", "internal_errors", "updated_at"])
        return None
    notice.next_attempt_at = due
    notice.save(update_fields=["last_error", "next_attempt_at", "internal_errors", "updated_at"])
    return notice.next_attempt_at


ACTIONS: dict[str, str] = {
    SalesforceNotice.Kind.DELIVERED: "acknowledgement_delivered",
    SalesforceNotice.Kind.READ: "acknowledgement_read",
    SalesforceNotice.Kind.FAILED: "delivery_failed",
}


def _action(notice: SalesforceNotice) -> str:
    return ACTIONS.get(notice.kind, f"notice_{notice.kind}")


def _send(message: Message, notice: SalesforceNotice) -> None:
    conversation = message.conversation
    client = InteractionClient(message.tenant.salesforce)
    to, from_ = conversation.sender.channel_address_identifier, conversation.customer
    entry = message.content["entry_identifier"]
    timestamp_ms = int(notice.occurred_at.timestamp() * 1000)
    if notice.kind == SalesforceNotice.Kind.FAILED:
        with attempt(message, target="salesforce", action=_action(notice)):
            client.send_delivery_failed(
                to=to,
                from_=from_,
                failed_entry_id=entry,
                error_code=notice.error_code or "DELIVERY_FAILED",
                error_message=notice.reason,
                entry_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"failed:{notice.pk}")),
                timestamp_ms=timestamp_ms,
            )
    elif notice.kind in (SalesforceNotice.Kind.DELIVERED, SalesforceNotice.Kind.READ):
        kind = "Read" if notice.kind == SalesforceNotice.Kind.READ else "Delivered"
        with attempt(message, target="salesforce", action=_action(notice)):
            client.acknowledge(conversation.salesforce_conversation_id, from_, [(entry, kind, timestamp_ms)])
    else:
        raise ValueError(f"no way to tell Salesforce a notice of kind {notice.kind!r}")
