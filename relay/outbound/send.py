"""Agent → customer: the line's step that sends one outbound message through the provider (run by
relay/lines/pipeline.py), and what the agent hears when it fails for good."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from tenants.models import Sender

from .. import signals
from ..errors import ExternalError
from ..lines import wake
from ..lines.attempts import attempt, mark_tried
from ..models import Message, SalesforceNotice
from ..providers.base import Button, OutboundContent, TemplateValues
from ..providers.registry import get_provider
from .reports import add_notice

OUTSIDE_WINDOW = (
    "Not sent: the customer's last WhatsApp message is more than 24 hours old, so WhatsApp only allows "
    "an approved template. Send one from the template panel."
)


def to_outbound_content(content: dict) -> OutboundContent:
    template = content.get("template")
    return OutboundContent(
        kind=content.get("kind", "text"),
        text=content.get("text", ""),
        media_url=content.get("media_url", ""),
        media_mime_type=content.get("media_mime_type", ""),
        media_filename=content.get("media_filename", ""),
        buttons=[
            Button(title=b.get("title", ""), payload=b.get("payload", ""), url=b.get("url", ""))
            for b in content.get("buttons") or []
        ],
        template=TemplateValues(**template) if template else None,
    )


def webhook_url(sender: Sender) -> str:
    return f"{settings.PUBLIC_BASE_URL}{sender.account.webhook_path}"


def send(message: Message) -> None:
    """Deliver one outbound message through the provider (the pipeline's ``deliver`` for direction out)."""
    conversation = message.conversation
    sender = conversation.sender
    account = sender.account
    if message.content.get("kind") == "refused":
        # An agent message no channel can show faithfully (agent_content): fail it, so the agent hears why.
        raise ExternalError(
            message.content.get("reason") or "Not sent: the customer's channel cannot show this message.",
            permanent=True,
            code=message.content.get("code") or "UNSUPPORTED_MESSAGE",
        )
    content = to_outbound_content(message.content)
    if (
        sender.channel == Sender.Channel.WHATSAPP
        and content.kind != "template"
        and not conversation.window_open()
    ):
        raise ExternalError(OUTSIDE_WINDOW, permanent=True, code="OUTSIDE_24H_WINDOW")
    with attempt(message, target=account.provider, action="send", held=True):  # written by mark_tried below
        result = get_provider(account.provider).send(
            account,
            sender,
            conversation.customer,
            content,
            message_id=message.provider_message_id,
            notify_url=webhook_url(sender),
        )
    now = timezone.now()
    provider_message_id = result.provider_message_id or message.provider_message_id
    with signals.together(message.tenant_id, signals.MESSAGE_STATUS_CHANGED):  # the change and its report
        # The status, the line's bookkeeping and the attempt row in one statement.
        sent = mark_tried(
            message,
            {"status": Message.Status.SENT, "provider_message_id": provider_message_id, "updated_at": now},
            only_pending=True,
        )
        message.attempt_counted = True
        if sent:
            message.provider_message_id = provider_message_id
            signals.message_status_changed.send_robust(
                sender=Message, message=message, status=Message.Status.SENT
            )
        elif provider_message_id != message.provider_message_id:
            # A receipt got here before the send's answer (8x8 reports at once, matched by our own id echoed):
            # it moved the status on, which stays, but the row must still carry the provider's id, which later
            # reports and people looking the message up at the provider go by.
            Message.objects.filter(pk=message.pk, provider_message_id=message.provider_message_id).update(
                provider_message_id=provider_message_id
            )
            message.provider_message_id = provider_message_id


def on_send_failed(message: Message, reason: str, error: ExternalError | None) -> None:
    if add_notice(
        message, SalesforceNotice.Kind.FAILED, reason=reason, error_code=(error.code if error else "") or ""
    ):
        wake.after_commit(wake.notices, message.pk, message.conversation_id)
