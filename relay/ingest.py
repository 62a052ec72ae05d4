"""Webhook events become rows: one transaction, replays are no-ops, work is queued after commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.models import ProviderAccount, Sender
from tenants.validators import normalize_e164

from .events import InboundMessage, ReportStatus, StatusReport, WebhookEvent
from .models import Conversation, Message, next_sequence

log = logging.getLogger(__name__)


class UnroutableEvent(ValueError):
    """An event for a sender this account does not have (or has disabled). Nothing is stored."""


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    reports: int = 0
    conversations_to_deliver: set[int] = field(default_factory=set)
    messages_to_report: set[int] = field(default_factory=set)


def ingest(account: ProviderAccount, events: list[WebhookEvent]) -> IngestResult:
    """Store every event of one webhook request, all or nothing, and queue the work after commit."""
    senders = _senders_by_address(account)
    for event in events:  # check everything first: a bad event in a batch changes nothing
        if isinstance(event, InboundMessage):
            _sender_for(senders, event)
    result = IngestResult()
    with transaction.atomic():
        for event in events:
            if isinstance(event, InboundMessage):
                _store_inbound(account, _sender_for(senders, event), event, result)
            else:
                _store_report(account, event, result)
        transaction.on_commit(lambda: _queue(result))
    return result


def _senders_by_address(account: ProviderAccount) -> dict[tuple[str, str], Sender]:
    senders = Sender.objects.filter(account=account, tenant=account.tenant).order_by()  # no ordering joins
    return {(s.channel, s.address): s for s in senders}


def _sender_for(senders: dict, event: InboundMessage) -> Sender:
    sender = senders.get((event.channel, event.sender_address))
    if sender is None and event.channel == Sender.Channel.SMS:
        sender = senders.get((event.channel, event.sender_address.lstrip("+")))
    if sender is None:
        raise UnroutableEvent(
            f"no {event.channel} sender {event.sender_address} on this account: add it in Switchboard "
            "(the provider retries, so nothing is lost meanwhile)"
        )
    if not sender.enabled:
        raise UnroutableEvent(f"{event.channel} sender {event.sender_address} is disabled in Switchboard")
    return sender


def _customer_id(event: InboundMessage) -> str:
    try:
        return normalize_e164(event.customer)
    except Exception:  # noqa: BLE001 - Viber ids and WhatsApp user ids are not numbers; keep them as sent
        return event.customer


def _store_inbound(
    account: ProviderAccount, sender: Sender, event: InboundMessage, result: IngestResult
) -> None:
    tenant = account.tenant
    customer = _customer_id(event)
    # Found and locked in one round trip: the lock serializes the sequence numbers (a no-op on SQLite, whose
    # writes are serialized anyway); a new row is ours until this transaction commits.
    conversation, created = Conversation.objects.select_for_update().get_or_create(
        sender=sender, customer=customer, defaults={"tenant": tenant, "customer_name": event.customer_name}
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            Message.objects.create(
                tenant=tenant,
                conversation=conversation,
                direction=Message.Direction.INBOUND,
                sequence=next_sequence(conversation.pk, Message.Direction.INBOUND),
                kind=str(event.kind),
                text=event.text,
                content=event.as_dict() | {"raw": event.raw},
                provider=account.provider,
                provider_message_id=event.provider_message_id,
                received_at=event.received_at or now,
                expires_at=now + tenant.delivery_window,
                next_attempt_at=now,
            )
    except IntegrityError:
        # A replayed webhook, or the same message arriving concurrently through another request: the
        # unique (tenant, provider, provider message id) constraint makes it a no-op without a lookup first.
        result.duplicates += 1
        return
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=now,
        customer_name=event.customer_name or conversation.customer_name,
        status=Conversation.Status.OPEN,
        updated_at=now,
    )
    result.accepted += 1
    result.conversations_to_deliver.add(conversation.pk)
    if created and tenant.welcome_text:
        from .outbound import queue_outbound

        conversation.last_inbound_at = now
        queue_outbound(conversation, {"kind": "text", "text": tenant.welcome_text, "system": "welcome"})


_REPORT_ORDER = {ReportStatus.PENDING: 0, ReportStatus.DELIVERED: 1, ReportStatus.READ: 2}


def _store_report(account: ProviderAccount, report: StatusReport, result: IngestResult) -> None:
    message = (
        Message.objects.select_for_update()
        .filter(
            tenant=account.tenant,
            provider=account.provider,
            provider_message_id=report.provider_message_id,
            direction=Message.Direction.OUTBOUND,
        )
        # By pk: the default ordering joins the conversation, and FOR UPDATE would lock that row too
        # (a deadlock with a concurrent inbound message of the same conversation).
        .order_by("pk")
        .first()
    )
    result.reports += 1
    if message is None:
        log.info("status report for unknown message %s (account %s)", report.provider_message_id, account.pk)
        return
    from .outbound import apply_status_report

    if apply_status_report(message, report):
        result.messages_to_report.add(message.pk)


def _queue(result: IngestResult) -> None:
    from . import tasks

    for conversation_id in sorted(result.conversations_to_deliver):
        tasks.deliver_inbound.delay(conversation_id)
    for message_id in sorted(result.messages_to_report):
        tasks.notify_salesforce.delay(message_id)
