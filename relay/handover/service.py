"""A validated handover becomes rows: the handover, and its place in the conversation's inbound line."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.models import Tenant

from ..lines import wake
from ..models import Conversation, Message, next_sequence
from ..unique import violates
from .contract import HandoverRequest
from .models import Handover


def start_handover(tenant: Tenant, request: HandoverRequest) -> tuple[Handover, bool]:
    """Store the handover (once per key) and queue its delivery; ``(handover, created)``."""
    try:
        return _store(tenant, request)
    except IntegrityError as exc:
        # The same handover retried while the first call was being stored, or the customer's first
        # message opened the conversation at the same moment: the second try sees the other's rows.
        # Any other integrity error is a defect and surfaces.
        if not any(violates(exc, model, name) for model, name in _RACES):
            raise
        return _store(tenant, request)


_RACES = [
    (Handover, "one_handover_per_key"),
    (Conversation, "one_conversation_per_sender_and_customer"),
]


def _store(tenant: Tenant, request: HandoverRequest) -> tuple[Handover, bool]:
    existing = Handover.objects.for_tenant(tenant).filter(key=request.key).first()
    if existing is not None:
        return existing, False
    now = timezone.now()
    entries = request.entries or []
    customer_times = [e["time"] for e in entries if e["speaker"] == "customer"]
    # WhatsApp's 24-hour window starts at the customer's last message to the bot (now, if unknown).
    last_inbound = datetime.fromtimestamp(max(customer_times) / 1000, tz=UTC) if customer_times else now
    with transaction.atomic():
        conversation, _ = Conversation.objects.get_or_create(
            sender=request.sender,
            customer=request.customer,
            defaults={"tenant": tenant, "customer_name": request.customer_name},
        )
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        handover = Handover.objects.create(
            tenant=tenant,
            conversation=conversation,
            key=request.key,
            provider="" if request.entries is not None else request.sender.account.provider,
            provider_conversation_id=request.provider_conversation_id,
            entries=entries,
            transcript_ready=request.entries is not None,
            attributes=request.attributes,
            received_at=now,
        )
        Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            direction=Message.Direction.INBOUND,
            sequence=next_sequence(conversation.pk, Message.Direction.INBOUND),
            kind="history",
            text=_summary(request),
            content={"handover": handover.pk, **({"sanitized": request.repairs} if request.repairs else {})},
            provider="handover",
            provider_message_id=handover.line_message_id,
            received_at=now,
            expires_at=now + tenant.delivery_window,
            next_attempt_at=now,
        )
        if conversation.last_inbound_at is None or conversation.last_inbound_at < last_inbound:
            conversation.last_inbound_at = last_inbound
        Conversation.objects.filter(pk=conversation.pk).update(
            last_inbound_at=conversation.last_inbound_at,
            customer_name=request.customer_name or conversation.customer_name,
            status=Conversation.Status.OPEN,
            updated_at=now,
        )
        wake.after_commit(wake.inbound_line, conversation.pk)
    return handover, True


def _summary(request: HandoverRequest) -> str:
    if request.entries is not None:
        return f"Bot transcript: {len(request.entries)} messages"
    return f"Bot transcript from Infobip conversation {request.provider_conversation_id}"
