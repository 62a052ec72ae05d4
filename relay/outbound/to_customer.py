"""Messages Switchboard itself sends to a customer (a partner's API call, an agent's template from
the panel): validated, stored, then delivered through the same outbound line as agent replies, so
they are recorded, retried and reported like every other message."""

from __future__ import annotations

import itertools
from dataclasses import asdict
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.models import Sender, Tenant
from tenants.validators import normalize_e164

from ..models import Conversation, Message
from ..providers.base import TemplateValues
from ..untrusted import bounded_id, max_length_of
from .record import queue_outbound

# How long a send's idempotency key names its first message (the partner API keeps its answers as long:
# portal/api/idempotency.py). A key reused later is a new request, as the API's records say.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
_ENTRY_ID_LENGTH = max_length_of(Message, "salesforce_entry_id")


def customer_id(sender: Sender, customer: str) -> str:
    if sender.channel in (Sender.Channel.WHATSAPP, Sender.Channel.SMS):
        return normalize_e164(customer, field="customer number")
    if not customer.strip():
        raise ValidationError("Enter the customer's Viber id or number.")
    return customer.strip()


def send_to_customer(
    tenant: Tenant,
    sender: Sender,
    customer: str,
    content: dict,
    *,
    idempotency_key: str = "",
    salesforce_entry_id: str = "",
) -> tuple[Message, bool]:
    """Queue ``content`` (``{"kind": "text", "text": ...}`` or ``{"kind": "template", "template": {...}}``).

    Returns ``(message, created)``; with the same ``idempotency_key`` the first message comes back and
    nothing is sent again. Raises ValidationError (nothing stored) for a sender of another tenant, a
    disabled sender or a bad number.
    """
    if sender.tenant_id != tenant.pk:
        raise ValidationError({"sender": "This sender belongs to another tenant."})
    if not sender.enabled:
        raise ValidationError({"sender": "This sender is disabled."})
    number = customer_id(sender, customer)
    if content.get("kind") == "template":
        TemplateValues(**content["template"])  # every field known, nothing missing
        if sender.channel != Sender.Channel.WHATSAPP:
            raise ValidationError({"sender": "Templates are sent from WhatsApp senders only."})
    entry = salesforce_entry_id or _entry_for_key(tenant, idempotency_key)
    if entry:
        existing = Message.objects.filter(tenant=tenant, salesforce_entry_id=entry).first()
        if existing is not None:
            return existing, False
    with transaction.atomic():
        conversation, _ = Conversation.objects.get_or_create(
            sender=sender, customer=number, defaults={"tenant": tenant}
        )
        message = queue_outbound(conversation, dict(content), salesforce_entry_id=entry)
    if message is None:  # lost a race with the same key
        return Message.objects.get(tenant=tenant, salesforce_entry_id=entry), False
    return message, True


def _entry_for_key(tenant: Tenant, key: str) -> str:
    """The row id of the message sent with ``key``: the first message's while it is younger than
    :data:`IDEMPOTENCY_KEY_LIFETIME`, else the next free one (the key's next lifetime). Bounded to the column."""
    if not key:
        return ""
    expired_before = timezone.now() - IDEMPOTENCY_KEY_LIFETIME
    for lifetime in itertools.count():
        entry = bounded_id(f"api:{tenant.pk}:{key}" + (f"~{lifetime}" if lifetime else ""), _ENTRY_ID_LENGTH)
        sent_at = (
            Message.objects.filter(tenant=tenant, salesforce_entry_id=entry)
            .values_list("created_at", flat=True)
            .first()
        )
        if sent_at is None or sent_at >= expired_before:
            return entry
    raise AssertionError("unreachable")  # pragma: no cover - itertools.count() has no end


def template_content(values: TemplateValues) -> dict:
    return {"kind": "template", "text": values.rendered_text, "template": asdict(values)}
