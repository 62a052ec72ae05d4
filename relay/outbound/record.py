"""Agent → customer: the agents' events become outbound messages, queued on their conversation's line."""

from __future__ import annotations

import json
import logging
import uuid
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.sql import hot_cursor
from tenants.models import ProviderAccount, Sender, Tenant

from .. import signals, unique
from ..lines import wake
from ..models import Conversation, Message, conflict_target, insert_at_end_of_line
from ..untrusted import bounded_id, max_length_of
from . import agent_events

log = logging.getLogger(__name__)

_ENTRY_ID_LENGTH = max_length_of(Message, "salesforce_entry_id")
_SESSION_STATUS_LENGTH = Conversation._meta.get_field("session_status").max_length
_CONVERSATION_ID_LENGTH = max_length_of(Conversation, "salesforce_conversation_id")
_CONTENT_ENCODER = Message._meta.get_field("content").encoder  # as the ORM would write the column

# --- platform events → rows ----------------------------------------------------------------------


def record_agent_event(tenant: Tenant, fields: dict) -> None:
    """Handle one decoded platform event. Idempotent; a malformed event is logged and skipped."""
    salesforce = tenant.salesforce
    try:
        event = agent_events.parse(
            fields, type_field=salesforce.event_type_field, payload_field=salesforce.event_payload_field
        )
    except agent_events.MalformedEvent as exc:
        log.warning("tenant %s: skipped a malformed platform event: %s", tenant.slug, exc)
        return
    if event is None:
        return
    if event.entry_type == "Message" and event.sender_role != "EndUser":
        for index, content in enumerate(agent_events.message_content(event)):
            entry = event.identifier if index == 0 else f"{event.identifier}#{index}"
            content["entry_identifier"] = event.identifier  # as Salesforce wrote it: notices name it
            content["agent"] = {"id": event.sender_id, "name": event.sender_name}
            if event.repairs:
                content["sanitized"] = list(event.repairs)
            # The column keeps a stable hash of a longer id, so a redelivered event is still recognised.
            if not _record_agent_message(tenant, event, content, bounded_id(entry, _ENTRY_ID_LENGTH)):
                return
        return
    if event.entry_type not in ("ParticipantChanged", "SessionStatusChanged"):
        return  # the echo of the customer's own message, typing, ...: nothing to look up
    conversation = _find_conversation(tenant, event)
    if conversation is None:
        log.warning("tenant %s: event %s for an unknown conversation", tenant.slug, event.identifier)
        return
    if event.entry_type == "ParticipantChanged":
        _record_participants(conversation, event)
    elif event.entry_type == "SessionStatusChanged":
        _record_session_status(conversation, event)


def _record_agent_message(tenant: Tenant, event: agent_events.AgentEvent, content: dict, entry: str) -> bool:
    """Store one content of an agent's message at the end of its conversation's outbound line and wake the
    line; False when the event names no conversation of ours (logged). A redelivered entry changes nothing.

    On PostgreSQL one statement finds and locks the conversation, inserts the row with its sequence (a
    duplicate entry makes it a no-op) and touches the conversation: the listener's hot path, in autocommit,
    so no BEGIN or COMMIT either. The statement's snapshot is taken before it waits for the row lock, so a
    message another transaction committed meanwhile is not seen by its MAX(sequence): that rare race ends in
    the unique position's violation, and the message is then stored the long way (lock first, then insert).
    """
    if connection.vendor != "postgresql":
        return _record_agent_message_locked(tenant, event, content, entry)
    found = _insert_outbound(
        by_salesforce_ids=True,
        tenant=tenant.pk,
        conversation=event.conversation_identifier or None,
        address=event.channel_address_identifier or None,
        customer=event.recipient or None,
        learned=_storable_conversation_id(event),
        content=content,
        provider_message_id=str(uuid.uuid4()),
        entry=entry,
        now=timezone.now(),
        expires=None,  # the tenant's delivery window, read by the statement
    )
    if found is _RACE:
        return _record_agent_message_locked(tenant, event, content, entry)
    if found is None:
        log.warning("tenant %s: event %s for an unknown conversation", tenant.slug, event.identifier)
        return False
    conversation_id, message_id, _ = found
    if message_id is not None:
        wake.after_commit(wake.outbound_line, conversation_id)
    return True


_RACE = object()  # the line's position was taken while the statement waited for the lock


def _insert_outbound(*, by_salesforce_ids: bool, content: dict, **values):
    """Run :func:`_outbound_sql` (PostgreSQL): (conversation id, message id or None for a duplicate entry,
    sequence), None when no conversation matched, or ``_RACE`` (then store it the long way)."""
    params = {
        "conversation": None,
        "address": None,
        "customer": None,
        "conversation_pk": None,
        "learned": None,
        **values,
        "kind": content.get("kind", "text"),
        "text": content.get("text", ""),
        "content": json.dumps(content, cls=_CONTENT_ENCODER),
        "direction": Message.Direction.OUTBOUND.value,
        "pending": Message.Status.PENDING.value,
    }
    sql = _outbound_sql(by_salesforce_ids=by_salesforce_ids)
    try:
        if connection.in_atomic_block:  # a caller's transaction survives the rare race below
            with transaction.atomic():
                return _run(sql, params)
        return _run(sql, params)
    except IntegrityError as exc:
        if not unique.violates(exc, Message, "one_position_per_conversation_direction"):
            raise
        return _RACE


def _record_agent_message_locked(
    tenant: Tenant, event: agent_events.AgentEvent, content: dict, entry: str
) -> bool:
    conversation = _find_conversation(tenant, event)
    if conversation is None:
        log.warning("tenant %s: event %s for an unknown conversation", tenant.slug, event.identifier)
        return False
    learned = _storable_conversation_id(event)
    if learned and not conversation.salesforce_conversation_id:
        Conversation.objects.filter(pk=conversation.pk, salesforce_conversation_id="").update(
            salesforce_conversation_id=learned
        )
        conversation.salesforce_conversation_id = learned
    queue_outbound(conversation, content, salesforce_entry_id=entry)
    return True


def _storable_conversation_id(event: agent_events.AgentEvent) -> str | None:
    """The event's Salesforce conversation id, for a conversation found by its channel address and customer that
    has none yet (one Salesforce started, or one Switchboard opened with a template): the acknowledgements of its
    messages must name it (the Interaction Service requires ``conversationIdentifier`` and answers an empty one
    with 10018, which is final). None when there is none, or one too long to be Salesforce's (a UUID)."""
    identifier = event.conversation_identifier
    return identifier if identifier and len(identifier) <= _CONVERSATION_ID_LENGTH else None


def _run(sql: str, params: dict):
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


@cache
def _outbound_sql(*, by_salesforce_ids: bool) -> str:
    conversations = Conversation._meta.db_table
    messages = Message._meta.db_table
    senders = Sender._meta.db_table
    accounts_table = ProviderAccount._meta.db_table
    tenants = Tenant._meta.db_table
    # By the Salesforce ids, the same choice as _find_conversation: the conversation id, else the sender's
    # channel address and the customer; the most recently updated when several match (Conversation's ordering).
    lookup = (
        f"""COALESCE(
            (SELECT c1.id FROM {conversations} c1
             WHERE c1.tenant_id = %(tenant)s AND c1.salesforce_conversation_id = %(conversation)s
             ORDER BY c1.updated_at DESC LIMIT 1),
            (SELECT c2.id FROM {conversations} c2 JOIN {senders} s2 ON s2.id = c2.sender_id
             WHERE c2.tenant_id = %(tenant)s AND s2.channel_address_identifier = %(address)s
               AND c2.customer = %(customer)s
             ORDER BY c2.updated_at DESC LIMIT 1)
        )"""  # noqa: S608 - table names from the models
        if by_salesforce_ids
        else "%(conversation_pk)s"
    )
    # A conversation found by its channel address and customer learns the event's conversation id if it has
    # none (_storable_conversation_id).
    learn = (
        ", salesforce_conversation_id = CASE WHEN salesforce_conversation_id = '' "
        "THEN COALESCE(%(learned)s::varchar, '') ELSE salesforce_conversation_id END"
        if by_salesforce_ids
        else ""
    )
    # Bound by PostgreSQL (portal/sql.py): %(direction)s stands both in the SELECT list (text) and in a
    # comparison with a varchar column, so it is cast to one type.
    return f"""
    WITH conv AS (
        SELECT c.id, c.tenant_id, a.provider, t.delivery_window
        FROM {conversations} c
        JOIN {senders} s ON s.id = c.sender_id
        JOIN {accounts_table} a ON a.id = s.account_id
        JOIN {tenants} t ON t.id = c.tenant_id
        WHERE c.id = {lookup}
        FOR UPDATE OF c
    ), added AS (
        INSERT INTO {messages} (
            tenant_id, conversation_id, direction, kind, text, content, provider, provider_message_id,
            salesforce_entry_id, status, attempts, internal_errors, next_attempt_at, expires_at, last_error,
            received_at, created_at, updated_at, sequence
        )
        SELECT
            conv.tenant_id, conv.id, %(direction)s::varchar, %(kind)s, %(text)s, %(content)s::jsonb, conv.provider,
            %(provider_message_id)s, %(entry)s, %(pending)s, 0, 0, %(now)s,
            COALESCE(%(expires)s, %(now)s + conv.delivery_window), '',
            %(now)s, %(now)s, %(now)s,
            (SELECT COALESCE(MAX(m.sequence), 0) + 1 FROM {messages} m
             WHERE m.conversation_id = conv.id AND m.direction = %(direction)s)
        FROM conv
        ON CONFLICT {conflict_target(Message, "one_message_per_salesforce_entry")} DO NOTHING
        RETURNING id, conversation_id, sequence
    ), touched AS (
        UPDATE {conversations} SET updated_at = %(now)s{learn} WHERE id IN (SELECT conversation_id FROM added)
    )
    SELECT conv.id, added.id, added.sequence FROM conv LEFT JOIN added ON true
    """  # noqa: S608 - table names from the models; every value is a parameter


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
    """Store an outbound message (once per Salesforce entry) and queue its sending after commit. On
    PostgreSQL in one statement (see :func:`_record_agent_message`), else locked in a transaction."""
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
    if connection.vendor == "postgresql":
        found = _insert_outbound(
            by_salesforce_ids=False,
            conversation_pk=conversation.pk,
            content=content,
            provider_message_id=message.provider_message_id,
            entry=salesforce_entry_id,
            now=now,
            expires=message.expires_at,
        )
        if found is not _RACE:
            if found is None or found[1] is None:  # no such conversation; or a redelivered entry
                return None
            message.pk, message.sequence = found[1], found[2]
            message.received_at = message.created_at = message.updated_at = now
            message._state.adding, message._state.db = False, connection.alias
            wake.after_commit(wake.outbound_line, conversation.pk)
            return message
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
