"""Agent → customer: platform events become outbound messages; provider reports go back to Salesforce."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.models import Sender, Tenant

from . import agent_events, signals
from .errors import ExternalError
from .events import ReportStatus, StatusReport
from .lines.attempts import attempt
from .models import Conversation, Message, SalesforceNotice, next_sequence
from .providers.base import Button, OutboundContent, TemplateValues
from .providers.registry import get_provider

log = logging.getLogger(__name__)

OUTSIDE_WINDOW = (
    "Not sent: the customer's last WhatsApp message is more than 24 hours old, so WhatsApp only allows "
    "an approved template. Send one from the template panel."
)


# --- platform events → rows ----------------------------------------------------------------------


def record_agent_event(tenant: Tenant, fields: dict) -> None:
    """Handle one decoded platform event. Idempotent; a malformed event is logged and skipped."""
    connection = tenant.salesforce
    try:
        event = agent_events.parse(
            fields, type_field=connection.event_type_field, payload_field=connection.event_payload_field
        )
    except agent_events.MalformedEvent as exc:
        log.warning("tenant %s: skipped a malformed platform event: %s", tenant.slug, exc)
        return
    if event is None:
        return
    conversation = _find_conversation(tenant, event)
    if conversation is None:
        log.warning("tenant %s: event %s for an unknown conversation", tenant.slug, event.identifier)
        return
    if event.entry_type == "Message" and event.sender_role != "EndUser":
        for index, content in enumerate(agent_events.message_content(event)):
            entry = event.identifier if index == 0 else f"{event.identifier}#{index}"
            content["entry_identifier"] = event.identifier
            content["agent"] = {"id": event.sender_id, "name": event.sender_name}
            queue_outbound(conversation, content, salesforce_entry_id=entry)
    elif event.entry_type == "ParticipantChanged":
        _record_participants(conversation, event)
    elif event.entry_type == "SessionStatusChanged":
        _record_session_status(conversation, event)


def _find_conversation(tenant: Tenant, event: agent_events.AgentEvent) -> Conversation | None:
    conversations = Conversation.objects.for_tenant(tenant).select_related("tenant", "sender__account")
    if event.conversation_identifier:
        found = conversations.filter(salesforce_conversation_id=event.conversation_identifier).first()
        if found:
            return found
    if event.channel_address_identifier and event.recipient:
        return conversations.filter(
            sender__channel_address_identifier=event.channel_address_identifier, customer=event.recipient
        ).first()
    return None


def _record_participants(conversation: Conversation, event: agent_events.AgentEvent) -> None:
    for change in event.entry_payload.get("entries") or []:
        participant = change.get("participant") or {}
        if (
            change.get("operation") == "add"
            and participant.get("role") == "Agent"
            and participant.get("subject")
        ):
            Conversation.objects.filter(pk=conversation.pk).update(last_agent_id=participant["subject"][:18])


def _record_session_status(conversation: Conversation, event: agent_events.AgentEvent) -> None:
    status = event.entry_payload.get("sessionStatus") or ""
    changes = {"session_status": status}
    if event.entry_payload.get("sessionId"):
        changes["messaging_session_id"] = str(event.entry_payload["sessionId"])[:18]
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    if status != conversation.session_status:
        signals.conversation_event.send_robust(
            sender=Conversation, conversation=conversation, event="session_status_changed", data=changes
        )
    closing = conversation.tenant.closing_text
    if status == "Ended" and closing:
        queue_outbound(
            conversation,
            {"kind": "text", "text": closing, "system": "closing"},
            salesforce_entry_id=f"closing:{event.identifier}",
        )


def queue_outbound(
    conversation: Conversation, content: dict, *, salesforce_entry_id: str = ""
) -> Message | None:
    """Store an outbound message (once per Salesforce entry) and queue its sending after commit."""
    tenant = conversation.tenant
    now = timezone.now()
    try:
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
            message = Message.objects.create(
                tenant=tenant,
                conversation=locked,
                direction=Message.Direction.OUTBOUND,
                sequence=next_sequence(locked.pk, Message.Direction.OUTBOUND),
                kind=content.get("kind", "text"),
                text=content.get("text", ""),
                content=content,
                # The sender never changes: the caller's conversation usually has it (and its account) loaded.
                provider=conversation.sender.account.provider,
                provider_message_id=str(uuid.uuid4()),
                salesforce_entry_id=salesforce_entry_id,
                expires_at=now + tenant.delivery_window,
                next_attempt_at=now,
            )
            Conversation.objects.filter(pk=locked.pk).update(updated_at=now)
    except IntegrityError:
        return None  # the same agent entry was recorded before (a redelivered event)
    from . import tasks

    transaction.on_commit(lambda: tasks.deliver_outbound.delay(conversation.pk))
    return message


# --- sending ---------------------------------------------------------------------------------------


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
    with attempt(message, target=account.provider, action="send"):
        result = get_provider(account.provider).send(
            account,
            sender,
            conversation.customer,
            content,
            message_id=message.provider_message_id,
            notify_url=webhook_url(sender),
        )
    now = timezone.now()
    sent = Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
        status=Message.Status.SENT,
        provider_message_id=result.provider_message_id or message.provider_message_id,
        updated_at=now,
    )
    if sent:
        message.provider_message_id = result.provider_message_id or message.provider_message_id
        signals.message_status_changed.send_robust(
            sender=Message, message=message, status=Message.Status.SENT
        )


def on_send_failed(message: Message, reason: str, error: ExternalError | None) -> None:
    _add_notice(
        message, SalesforceNotice.Kind.FAILED, reason=reason, error_code=(error.code if error else "") or ""
    )


# --- provider reports → Salesforce notices -----------------------------------------------------------


def apply_status_report(message: Message, report: StatusReport) -> bool:
    """Update the message from a provider report; True when Salesforce has something new to hear."""
    now = report.reported_at or timezone.now()
    changed = False
    if report.status == ReportStatus.FAILED:
        if message.status not in (Message.Status.FAILED,):
            Message.objects.filter(pk=message.pk).update(
                status=Message.Status.FAILED,
                last_error=report.error_message or report.error_code,
                updated_at=timezone.now(),
            )
            signals.message_status_changed.send_robust(
                sender=Message,
                message=message,
                status=Message.Status.FAILED,
                reason=report.error_message or report.error_code,
            )
            changed = _add_notice(
                message,
                SalesforceNotice.Kind.FAILED,
                reason=report.error_message or "The provider could not deliver the message.",
                error_code=report.error_code,
            )
    elif report.status in (ReportStatus.DELIVERED, ReportStatus.READ):
        fields = {"delivered_at": message.delivered_at or now}
        status = Message.Status.DELIVERED
        if report.status == ReportStatus.READ:
            fields["read_at"] = now
            status = Message.Status.READ
        if message.status != Message.Status.READ:
            fields["status"] = status
        Message.objects.filter(pk=message.pk).update(**fields, updated_at=timezone.now())
        if fields.get("status", message.status) != message.status:
            signals.message_status_changed.send_robust(sender=Message, message=message, status=status)
        changed = _add_notice(message, SalesforceNotice.Kind.DELIVERED)
        if report.status == ReportStatus.READ:
            changed = _add_notice(message, SalesforceNotice.Kind.READ) or changed
    return changed


def _add_notice(message: Message, kind: str, *, reason: str = "", error_code: str = "") -> bool:
    if not message.content.get("entry_identifier"):
        return False  # a system message (welcome, closing) that Salesforce never sent: nothing to report
    _, created = SalesforceNotice.objects.get_or_create(
        message=message,
        kind=kind,
        defaults={"tenant_id": message.tenant_id, "reason": reason[:2000], "error_code": error_code[:64]},
    )
    if created:
        from . import tasks

        transaction.on_commit(lambda: tasks.notify_salesforce.delay(message.pk))
    return created
