"""Agent → customer: the agents' events become outbound messages, queued on their conversation's line."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.utils import timezone

from tenants.models import Tenant

from .. import signals
from ..lines import wake
from ..models import Conversation, Message, insert_at_end_of_line
from ..untrusted import bounded_id, max_length_of
from . import agent_events

log = logging.getLogger(__name__)

_ENTRY_ID_LENGTH = max_length_of(Message, "salesforce_entry_id")
_SESSION_STATUS_LENGTH = Conversation._meta.get_field("session_status").max_length

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
            content["entry_identifier"] = event.identifier  # as Salesforce wrote it: notices name it
            content["agent"] = {"id": event.sender_id, "name": event.sender_name}
            if event.repairs:
                content["sanitized"] = list(event.repairs)
            # The column keeps a stable hash of a longer id, so a redelivered event is still recognised.
            queue_outbound(conversation, content, salesforce_entry_id=bounded_id(entry, _ENTRY_ID_LENGTH))
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
    entries = event.entry_payload.get("entries")
    for change in entries if isinstance(entries, list) else []:
        participant = change.get("participant") if isinstance(change, dict) else None
        if (
            isinstance(participant, dict)
            and change.get("operation") == "add"
            and participant.get("role") == "Agent"
            and isinstance(participant.get("subject"), str)
            and participant["subject"]
        ):
            Conversation.objects.filter(pk=conversation.pk).update(last_agent_id=participant["subject"][:18])


def _record_session_status(conversation: Conversation, event: agent_events.AgentEvent) -> None:
    status = event.entry_payload.get("sessionStatus") or ""
    if not isinstance(status, str):
        log.warning(
            "tenant %s: event %s has no readable sessionStatus", conversation.tenant_id, event.identifier
        )
        return
    # No documented status is longer than the column; a longer one must not fail every replay of the event.
    changes = {"session_status": status[:_SESSION_STATUS_LENGTH]}
    session_id = event.entry_payload.get("sessionId")
    if session_id and isinstance(session_id, str):
        changes["messaging_session_id"] = session_id[:18]
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    if changes["session_status"] != conversation.session_status:
        signals.conversation_event.send_robust(
            sender=Conversation, conversation=conversation, event="session_status_changed", data=changes
        )
    closing = conversation.tenant.closing_text
    if status == "Ended" and closing:
        queue_outbound(
            conversation,
            {"kind": "text", "text": closing, "system": "closing"},
            salesforce_entry_id=bounded_id(f"closing:{event.identifier}", _ENTRY_ID_LENGTH),
        )


def queue_outbound(
    conversation: Conversation, content: dict, *, salesforce_entry_id: str = ""
) -> Message | None:
    """Store an outbound message (once per Salesforce entry) and queue its sending after commit."""
    tenant = conversation.tenant
    now = timezone.now()
    message = Message(
        tenant=tenant,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
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
    with transaction.atomic():
        # The row lock serializes the line's sequence numbers until the transaction ends.
        Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk").first()
        # The same agent entry recorded before (a redelivered event) makes the INSERT a no-op; any other
        # integrity error is a defect, never a duplicate: the listener offers the event again, bounded.
        if not insert_at_end_of_line(message, unless="one_message_per_salesforce_entry"):
            return None
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=now)
    wake.after_commit(wake.outbound_line, conversation.pk)
    return message
