"""The summary's "send a test message": a real message to a number the admin owns, through the whole
outbound line (a row, the Celery task, the provider, the provider's delivery report to our webhook).

WhatsApp allows free text only within 24 hours of the customer's last message, so on WhatsApp the test
is an approved template without placeholders; SMS and Viber get plain text.
"""

from __future__ import annotations

import re
import uuid

from django.core.exceptions import ValidationError

from relay.errors import ExternalError
from relay.models import Message
from relay.outbound.to_customer import send_to_customer, template_content
from relay.providers.base import TemplateValues
from relay.providers.registry import get_provider
from tenants.models import Sender, Tenant

from ..models import SetupProgress

FINAL = {Message.Status.DELIVERED, Message.Status.READ, Message.Status.FAILED}
PLACEHOLDER = re.compile(r"\{\{\s*\w+\s*\}\}")


def send_test_message(tenant: Tenant, sender: Sender, number: str) -> Message:
    """Queue the test message; ValidationError with a message for the admin when it cannot be sent."""
    if sender.channel == Sender.Channel.WHATSAPP:
        content = template_content(_plain_template(sender))
    else:
        content = {"kind": "text", "text": f"Switchboard test message for {tenant.name}: this channel works."}
    content["system"] = "wizard-test"
    message, _ = send_to_customer(
        tenant, sender, number, content, idempotency_key=f"wizard-test:{uuid.uuid4()}"
    )
    SetupProgress.objects.filter(tenant=tenant).update(test_message_id=message.pk, test_delivered_at=None)
    return message


def _plain_template(sender: Sender) -> TemplateValues:
    try:
        templates = get_provider(sender.account.provider).list_templates(sender.account, sender)
    except ExternalError as exc:
        raise ValidationError(f"The WhatsApp templates could not be read: {exc.message}") from None
    for template in templates:
        structure = template.structure or {}
        body = str((structure.get("body") or {}).get("text") or "")
        if (
            template.status == "APPROVED"
            and body
            and not PLACEHOLDER.search(body)
            and not structure.get("header")
            and not structure.get("buttons")
        ):
            return TemplateValues(name=template.name, language=template.language, rendered_text=body)
    raise ValidationError(
        "WhatsApp only lets a business start a conversation with an approved template, and this sender has "
        "none without placeholders. Send the test from an SMS or Viber sender, or from the template panel."
    )


def record_outcome(tenant: Tenant, message: Message) -> None:
    """Remember a delivered test message: the summary step is then done."""
    if message.status in (Message.Status.DELIVERED, Message.Status.READ):
        SetupProgress.objects.filter(
            tenant=tenant, test_message_id=message.pk, test_delivered_at=None
        ).update(test_delivered_at=message.delivered_at or message.updated_at)


def test_message_of(tenant: Tenant, check) -> Message | None:
    """The message a finished "send a test message" check queued (the summary and its polled status)."""
    return (
        Message.objects.for_tenant(tenant)
        .filter(pk=check.data.get("message"))
        .select_related("conversation__sender")
        .first()
    )
