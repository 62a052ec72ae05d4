"""BYOC for Messaging: inbound messages become Interaction Service entries; the agents' replies arrive as
the connection's platform event over Pub/Sub (``relay_listen``)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import signals
from ..errors import ExternalError
from ..handover import presence
from ..handover.importer import deliver_history
from ..lines import wake
from ..lines.attempts import attempt
from ..models import Conversation, Message, insert_at_end_of_line
from ..outbound import agent_events
from ..outbound.record import record_agent_event
from ..providers.registry import get_provider
from ..salesforce.interactions import InteractionClient, attachment_problem, attachment_refused
from .base import Desk, mark_delivered
from .render import as_text, media_link_note, stored_event
from .routing import routing_attributes

log = logging.getLogger(__name__)

ENTRY_NAMESPACE = uuid.UUID("5b0e4f9e-43a4-4c86-9d3c-4a1b0f6d2c11")
# A customer's file Salesforce accepted (202) but could not store: its MessageUpdated event says so
# (outbound-custom-event-payload.yaml, AttachmentUploadResultType).
UPLOAD_FAILED = "ErrorAttachmentUploadResult"


def entry_id(message: Message) -> str:
    """Stable across retries, so Salesforce can recognise a message it already has."""
    return str(
        uuid.uuid5(ENTRY_NAMESPACE, f"{message.tenant_id}:{message.provider}:{message.provider_message_id}")
    )


class MessagingDesk(Desk):
    name = "messaging"
    agent_feed = "pubsub"

    def deliver(self, message: Message) -> None:
        conversation = message.conversation
        sender = conversation.sender
        client = InteractionClient(self.connection)
        common: dict[str, Any] = {
            "to": sender.channel_address_identifier,
            "from_": conversation.customer,
            "entry_id": entry_id(message),
            "timestamp_ms": int(message.received_at.timestamp() * 1000),
            "routing_attributes": _routing(conversation),
        }
        with attempt(message, target="salesforce", action="interaction", held=True):  # written by _record
            try:
                if message.kind == "media":
                    response = self._deliver_media(client, message, common)
                else:
                    response = client.send_text(text=as_text(message) or "(empty message)", **common)
            except ExternalError as exc:
                if not _stored_by_an_earlier_try(message, exc):
                    raise
                response = {}
        _record(message, conversation, response)

    def _deliver_media(self, client: InteractionClient, message: Message, common: dict) -> dict:
        media = stored_event(message).media
        if media is None or not media.url:
            return client.send_text(
                text=media_link_note(message, "the provider gave no link to it"), **common
            )
        account = message.conversation.sender.account
        try:
            content, mime_type, filename = get_provider(account.provider).download_media(account, media.url)
        except ExternalError as exc:
            if not exc.permanent:
                raise
            return client.send_text(
                text=media_link_note(message, f"download failed: {exc.message}"), **common
            )
        mime_type = mime_type or media.mime_type or "application/octet-stream"
        problem = attachment_problem(mime_type, len(content))
        if problem is not None:
            return client.send_text(text=media_link_note(message, problem.message), **common)
        try:
            return client.send_attachment(
                content=content,
                filename=media.filename or filename or media.kind,
                mime=mime_type,
                caption=media.caption,
                **common,
            )
        except ExternalError as exc:
            # Salesforce judges the file too (its MIME detection, its size count): a file it refuses is
            # the customer's message all the same. No entry was made, so the note takes the entry's id.
            if not attachment_refused(exc):
                raise
            return client.send_text(text=media_link_note(message, exc.message), **common)

    def import_transcript(self, message: Message) -> None:
        deliver_history(message, agent_available=self.agent_available)

    def agent_available(self, conversation: Conversation) -> bool | None:
        return presence.agent_available(conversation)

    def receive(self, event: dict) -> None:
        record_agent_event(self.connection.tenant, event)
        payload = event.get(self.connection.event_payload_field)
        if isinstance(payload, str | dict) and UPLOAD_FAILED in str(payload):  # rare: parse only then
            _upload_failed(self.connection, event)

    def end_session(self, conversation: Conversation) -> None:
        InteractionClient(self.connection).end_session(
            conversation.sender.channel_address_identifier,
            conversation.customer,
            conversation.salesforce_conversation_id,
        )


# ERRORCODES.md: "Invalid message ID. Provide a unique ID for each message entry." The entry id is stable across
# tries (entry_id), so on a retry it says an earlier try's entry is there: the call was taken, its answer lost.
ENTRY_ID_USED = "10073"


def _stored_by_an_earlier_try(message: Message, exc: ExternalError) -> bool:
    """Whether Salesforce refused a retried message because an earlier try of it was stored (a timeout after the
    service took it): delivered, not failed. On a first try the same code is a refusal like any other."""
    return exc.code == ENTRY_ID_USED and message.attempts > 0


_ROUTING = "_switchboard_routing_attributes"


def _routing(conversation: Conversation) -> dict[str, str] | None:
    """The conversation's routing attributes, looked up once per conversation instance: the pipeline hands a
    batch's messages one instance, read with the batch, and each lookup costs a shared-cache round trip."""
    if not hasattr(conversation, _ROUTING):
        setattr(conversation, _ROUTING, routing_attributes(conversation) or None)
    return getattr(conversation, _ROUTING)


def _record(message: Message, conversation: Conversation, response: dict) -> None:
    mark_delivered(message, salesforce_entry_id=entry_id(message))
    changes = {}
    if response.get("conversationIdentifier"):
        changes["salesforce_conversation_id"] = response["conversationIdentifier"]
    work_items = response.get("workItemIds") or []
    if work_items:
        changes["messaging_session_id"] = work_items[0]
    # Salesforce answers the same conversation and session for every message: write only what is new.
    if any(getattr(conversation, field) != value for field, value in changes.items()):
        with signals.together(conversation.tenant_id, "conversation.connected"):  # the change and its report
            Conversation.objects.filter(pk=conversation.pk).update(**changes)
            for field, value in changes.items():  # the pipeline hands the next message the same instance
                setattr(conversation, field, value)
            signals.conversation_event.send_robust(
                sender=Conversation, conversation=conversation, event="connected", data=changes
            )


def _upload_failed(connection, fields: dict) -> None:
    """Salesforce accepted a customer's file (202, "Uploading file...") and then could not store it
    (``MessageUpdated`` with an ``ErrorAttachmentUploadResult``: StorageLimitExceeded,
    AttachmentUploadNotEnabled, ...). The agent sees a failed upload and nothing else, so the customer's file
    would be lost: the same message follows as a link with the reason, at the end of the inbound line. Once
    per file: a replayed event finds the note stored."""
    tenant = connection.tenant
    try:
        event = agent_events.parse(
            fields, type_field=connection.event_type_field, payload_field=connection.event_payload_field
        )
    except agent_events.MalformedEvent:
        return  # logged by record_agent_event
    if event is None or event.entry_type != "MessageUpdated":
        return
    updated = event.entry_payload.get("updatedMessage")
    if not isinstance(updated, dict) or not isinstance(entry := updated.get("id"), str) or not entry:
        return
    static = updated.get("staticContent")
    attachments = static.get("attachments") if isinstance(static, dict) else None
    errors = [
        str(result.get("errorType") or "an unknown error")[:80]
        for item in (attachments if isinstance(attachments, list) else [])
        if isinstance(item, dict)
        and isinstance(result := item.get("attachmentUploadResult"), dict)
        and result.get("resultType") == UPLOAD_FAILED
    ]
    if not errors:
        return
    original = (
        Message.objects.for_tenant(tenant)
        .filter(direction=Message.Direction.INBOUND, salesforce_entry_id=entry[:64])
        .first()
    )
    if original is None:
        log.warning("tenant %s: upload result for entry %s, no message of ours", tenant.slug, entry)
        return
    text = media_link_note(original, f"Salesforce could not store the file: {errors[0]}")
    now = timezone.now()
    note = Message(
        tenant=tenant,
        conversation_id=original.conversation_id,
        direction=Message.Direction.INBOUND,
        kind="text",
        text=text,
        content={"kind": "text", "text": text, "system": "upload_failed", "file_message": original.pk},
        provider=original.provider,
        provider_message_id=f"upload-failed:{original.pk}",
        received_at=now,
        expires_at=now + tenant.delivery_window,
        next_attempt_at=now,
    )
    with transaction.atomic():
        # The conversation's lock serializes the line's positions.
        list(Conversation.objects.select_for_update().filter(pk=original.conversation_id).values_list("pk"))
        if insert_at_end_of_line(note, unless="one_message_per_provider_message_id"):
            wake.after_commit(wake.inbound_line, original.conversation_id)
