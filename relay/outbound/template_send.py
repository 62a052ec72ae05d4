"""Send an approved WhatsApp template: the one validated path for the agent's template panel and the partner
REST API.

``send_template`` checks everything first (sender, recipient, template, every value) and raises one
ValidationError with a message per field, storing nothing; then it queues the message through
:func:`relay.outbound.to_customer.send_to_customer`, so it is recorded, retried and its delivery reports are applied
like any other outbound message.

A template an agent sends from the panel on a Messaging Session is also imported into that session
(:mod:`relay.outbound.template_history`, on the delivery engine); one sent into a conversation on the Cases
desk is written on its Case's transcript (:func:`relay.desks.cases.queue_template_on_case`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import Sender, Tenant, WhatsAppTemplate
from tenants.validators import normalize_e164

from .. import untrusted
from ..desks.cases import queue_template_on_case
from ..models import Message
from . import template_history
from .template_sync import sync_sender
from .template_values import template_values
from .to_customer import send_to_customer, template_content


def resolve_sender(tenant: Tenant, sender) -> Sender:
    """The tenant's enabled WhatsApp sender: a Sender, its id (digits), or its number with ``+``; else
    ValidationError."""
    found = None
    text = str(sender if sender is not None else "").strip()
    if isinstance(sender, Sender):
        found = sender
    elif isinstance(sender, int) or untrusted.ascii_int(text) is not None:
        found = Sender.objects.for_tenant(tenant).select_related("account").filter(pk=int(text)).first()
    elif text:
        try:
            number = normalize_e164(text, field="sender number")
        except ValidationError:
            number = ""
        found = (
            Sender.objects.for_tenant(tenant)
            .select_related("account")
            .filter(channel=Sender.Channel.WHATSAPP, address=number)
            .first()
        )
    if found is None or found.tenant_id != tenant.pk:
        # Another tenant's sender is reported exactly like one that does not exist.
        raise ValidationError({"sender": "Choose one of this org's WhatsApp senders."})
    if found.channel != Sender.Channel.WHATSAPP:
        raise ValidationError({"sender": "Templates are sent from WhatsApp senders only."})
    if not found.enabled:
        raise ValidationError({"sender": "This sender is disabled: an administrator turned it off."})
    return found


def find_template(tenant: Tenant, sender: Sender, name: str, language: str) -> WhatsAppTemplate:
    """The cached approved template; one sync first when it is missing (it may have been approved since)."""

    def lookup():
        return (
            WhatsAppTemplate.objects.for_tenant(tenant)
            .filter(sender=sender, name=(name or "").strip(), language=(language or "").strip())
            .first()
        )

    template = lookup()
    if template is None:
        sync_sender(sender)
        template = lookup()
    if template is None:
        raise ValidationError({"template": f"This sender has no template “{name}” in language “{language}”."})
    if not template.is_approved:
        raise ValidationError(
            {
                "template": f"The template “{name}” ({language}) is {template.status.lower()}: "
                "WhatsApp sends approved templates only."
            }
        )
    return template


def send_template(
    tenant: Tenant,
    sender,
    customer: str,
    template_name: str,
    language: str,
    values: dict | None,
    *,
    idempotency_key: str = "",
    agent: dict | None = None,
    messaging_session_id: str = "",
    source: str = "api",
) -> Message:
    """Validate and queue one template message; returns its Message (the first one again for a repeated
    ``idempotency_key``).

    ``sender``: a Sender, its id or its number. ``values``: see :mod:`relay.outbound.template_values`. Raises
    ValidationError with a message per field (``sender``, ``customer``, ``template``, each value) and stores
    nothing when anything is wrong.
    """
    sender = resolve_sender(tenant, sender)
    errors: dict[str, list[str]] = {}
    try:
        number = normalize_e164(customer, field="customer number")
    except ValidationError as exc:
        errors["customer"] = exc.messages
        number = ""
    try:
        template = find_template(tenant, sender, template_name, language)
        checked = template_values(template.name, template.language, template.structure, values)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    content = template_content(checked)
    content["source"] = source
    if agent:
        content["agent"] = {"id": str(agent.get("id", ""))[:18], "name": str(agent.get("name", ""))[:120]}
    if messaging_session_id:
        content["messaging_session_id"] = messaging_session_id
    with transaction.atomic():
        message, created = send_to_customer(tenant, sender, number, content, idempotency_key=idempotency_key)
        if created and agent and messaging_session_id:
            template_history.queue(message)  # in this transaction: the row, then its task
        if created:
            # A Cases-desk conversation: the template goes on its Case's transcript (from the panel on a
            # Case, the record is that Case); once, as the message itself is created once.
            queue_template_on_case(message, case_id=messaging_session_id)
    return message
