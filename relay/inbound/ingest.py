"""Webhook events become rows: one transaction, replays are no-ops, work is queued after commit."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.sql import hot_cursor
from tenants import lookups
from tenants.models import ProviderAccount, Sender
from tenants.validators import normalize_e164

from .. import signals, unique
from ..events import InboundMessage, ReportStatus, StatusReport, WebhookEvent
from ..lines import wake
from ..models import Conversation, Message, conflict_target, insert_at_end_of_line, insert_once, sql_names
from ..outbound.record import queue_outbound
from ..outbound.reports import record_report
from ..untrusted import Repairs, max_length_of

log = logging.getLogger(__name__)


class UnroutableEvent(ValueError):
    """An event for a sender this account does not have (or has disabled). Nothing is stored."""


def routable(account: ProviderAccount, events: list[WebhookEvent]) -> tuple[list[WebhookEvent], list[str]]:
    """The events this account can store, in order, and why each other one cannot.

    One event's sender (unknown, disabled, or a channel we do not carry, such as RCS in a Messages API batch)
    must not hold back the others of its request: they are stored, and the request is still refused for the
    rest, so that the provider sends it again (what was stored is then a duplicate, a no-op) and the event
    that could not be routed is kept at the provider until an admin adds its sender."""
    senders = _senders_by_address(account) if any(isinstance(e, InboundMessage) for e in events) else {}
    good: list[WebhookEvent] = []
    problems: list[str] = []
    for event in events:
        if isinstance(event, InboundMessage):
            try:
                _sender_for(senders, event)
            except UnroutableEvent as exc:
                problems.append(str(exc))
                continue
        good.append(event)
    return good, problems


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    reports: int = 0
    conversations_to_deliver: set[int] = field(default_factory=set)
    # conversation id -> one of its messages with new notices: one task sends a conversation's notices
    notices_to_send: dict[int, int] = field(default_factory=dict)


def ingest(account: ProviderAccount, events: list[WebhookEvent]) -> IngestResult:
    """Store every event of one webhook request, all or nothing, and queue the work after commit. The events'
    senders are known (:func:`routable`); one that is not raises UnroutableEvent and the transaction stores
    nothing."""
    inbound = any(isinstance(event, InboundMessage) for event in events)
    senders = _senders_by_address(account) if inbound else {}
    result = IngestResult()
    arrival = timezone.now()
    lone = events[0] if len(events) == 1 else None
    if isinstance(lone, InboundMessage) and connection.vendor == "postgresql":
        repaired, repairs = repair_inbound(lone, arrival)
        if _store_inbound_at_once(account, _sender_for(senders, lone), repaired, result, repairs.notes):
            transaction.on_commit(lambda: _queue(result))
            return result
    with _all_or_nothing(account, events):
        for event in events:
            if isinstance(event, InboundMessage):
                repaired, repairs = repair_inbound(event, arrival)
                _store_inbound(account, _sender_for(senders, event), repaired, result, repairs.notes)
            else:
                _store_report(account, repair_report(event, arrival), result)
        transaction.on_commit(lambda: _queue(result))
    return result


def _all_or_nothing(account: ProviderAccount, events: list[WebhookEvent]):
    """The request's transaction. A lone report on PostgreSQL is one statement (outbound/reports.py), atomic by
    itself: it needs a transaction only to hold a partner event with it."""
    if len(events) == 1 and isinstance(events[0], StatusReport) and connection.vendor == "postgresql":
        return signals.together(account.tenant_id, signals.MESSAGE_STATUS_CHANGED)
    return transaction.atomic()


def _senders_by_address(account: ProviderAccount) -> dict[tuple[str, str], Sender]:
    return lookups.senders_by_address(account)  # kept per process, reloaded when configuration changes


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
    return _normalized_customer(event.customer)


@functools.lru_cache(maxsize=4096)
def _normalized_customer(customer: str) -> str:
    """Kept: the phone library's parse cost more than the rest of the message's Python, for the same few
    customers again and again; the answer depends on the string alone."""
    try:
        return normalize_e164(customer)
    except Exception:  # noqa: BLE001 - Viber ids and WhatsApp user ids are not numbers; keep them as sent
        return customer


# --- what a customer or a provider sent, made storable (relay/untrusted.py) ---------------------------------

_MESSAGE_ID_LENGTH = max_length_of(Message, "provider_message_id")
_CUSTOMER_LENGTH = max_length_of(Conversation, "customer")
_NAME_LENGTH = max_length_of(Conversation, "customer_name")


def repair_inbound(event: InboundMessage, arrival: datetime) -> tuple[InboundMessage, Repairs]:
    """The event with every value a row can hold, whatever the provider's parser let through; the
    :class:`Repairs` list what was changed. Ids keep their identity (a hash when cut), so replays still
    match; an implausible time becomes the arrival time."""
    repairs = Repairs()
    repaired = dataclasses.replace(
        event,
        provider_message_id=repairs.identifier(event.provider_message_id, "messageId", _MESSAGE_ID_LENGTH),
        customer=repairs.identifier(event.customer, "customer", _CUSTOMER_LENGTH),
        customer_name=repairs.text(event.customer_name, "customer name", _NAME_LENGTH),
        text=repairs.text(event.text, "text"),
        payload=repairs.text(event.payload, "payload"),
        media=None if event.media is None else _repair_media(event.media, repairs),
        location=repairs.json(event.location, "location"),
        contacts=repairs.json(event.contacts, "contacts"),
        reaction=repairs.json(event.reaction, "reaction"),
        order=repairs.json(event.order, "order"),
        received_at=repairs.moment(event.received_at, "receivedAt", arrival),
        raw=repairs.json(event.raw, "raw"),
    )
    return repaired, repairs


def _repair_media(media, repairs: Repairs):
    return dataclasses.replace(
        media,
        url=repairs.text(media.url, "media url"),
        mime_type=repairs.text(media.mime_type, "media type"),
        filename=repairs.text(media.filename, "media file name"),
        caption=repairs.text(media.caption, "caption"),
    )


def repair_report(report: StatusReport, arrival: datetime) -> StatusReport:
    """A report's id mapped as an inbound id is (so it finds our row), its texts and time made storable."""
    repairs = Repairs()
    return dataclasses.replace(
        report,
        provider_message_id=repairs.identifier(report.provider_message_id, "messageId", _MESSAGE_ID_LENGTH),
        client_message_id=repairs.identifier(report.client_message_id, "clientMessageId", _MESSAGE_ID_LENGTH)
        if report.client_message_id
        else "",
        error_code=repairs.text(report.error_code, "error code", 64),
        error_message=repairs.text(report.error_message, "error message"),
        reported_at=None
        if report.reported_at is None
        else repairs.moment(report.reported_at, "reportedAt", arrival),
        raw=repairs.json(report.raw, "raw"),
    )


def _message_of(
    account: ProviderAccount, event: InboundMessage, repairs: list[str], now: datetime
) -> Message:
    """The row of a customer's message, but for its conversation and its place in the line."""
    content = event.as_dict()  # the provider's own result in it as it is, not a copy
    if repairs:
        content["sanitized"] = repairs  # what Switchboard changed to store it, for the admin
    tenant = account.tenant
    return Message(
        tenant=tenant,
        direction=Message.Direction.INBOUND,
        kind=str(event.kind),
        text=event.text,
        content=content,
        provider=account.provider,
        provider_message_id=event.provider_message_id,
        received_at=event.received_at or now,
        expires_at=now + tenant.delivery_window,
        next_attempt_at=now,
    )


def _store_inbound_at_once(
    account: ProviderAccount, sender: Sender, event: InboundMessage, result: IngestResult, repairs: list[str]
) -> bool:
    """A lone message of a known conversation, on PostgreSQL: one statement locks the conversation, inserts the
    message at the end of its line (a replay makes it a no-op) and updates the conversation when the message
    is new; in autocommit, so no BEGIN or COMMIT either. False when it could not: a new conversation (the
    welcome text, the race of two first messages), or the rare race below; then the long way stores it.

    The statement's snapshot is taken before it waits for the conversation's lock, so a message another
    request committed meanwhile is missing from its MAX(sequence): the position's unique constraint refuses
    the row, and nothing of the statement remains."""
    now = timezone.now()
    message = _message_of(account, event, repairs, now)
    sql, fields = _at_once_sql()
    params = [f.get_db_prep_save(f.pre_save(message, add=True), connection) for f in fields]
    params = [sender.pk, _customer_id(event), *params, Message.Direction.INBOUND.value]
    params += [_window_start(message, now), event.customer_name, Conversation.Status.OPEN.value, now]
    try:
        # In a caller's transaction (tests, a batch), a savepoint keeps it usable after the race.
        with (
            transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext(),
            hot_cursor() as cursor,
        ):
            cursor.execute(sql, params)
            found = cursor.fetchone()
    except IntegrityError as exc:
        if not unique.violates(exc, Message, "one_position_per_conversation_direction"):
            raise
        return False
    if found is None:
        return False  # no such conversation yet
    conversation_id, message_id = found
    if message_id is None:
        result.duplicates += 1
        return True
    result.accepted += 1
    result.conversations_to_deliver.add(conversation_id)
    return True


@functools.cache
def _at_once_sql() -> tuple[str, list]:
    """The statement of :func:`_store_inbound_at_once`, and the message fields whose values it takes."""
    conversations, conversation = sql_names(Conversation)
    messages, column = sql_names(Message)
    fields = [
        f
        for f in Message._meta.concrete_fields
        if not f.primary_key and f.name not in ("conversation", "sequence")
    ]
    values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    return (
        f"WITH conv AS ("  # noqa: S608 - names from the models; every value is a parameter
        f"SELECT {conversation('id')} AS id FROM {conversations} WHERE {conversation('sender')} = %s "
        f"AND {conversation('customer')} = %s LIMIT 1 FOR UPDATE"
        f"), added AS ("
        f"INSERT INTO {messages} ({', '.join(column(f.name) for f in fields)}, {column('conversation')}, "
        f"{column('sequence')}) SELECT {values}, conv.id, (SELECT COALESCE(MAX(m.{column('sequence')}), 0) + 1 "
        f"FROM {messages} m WHERE m.{column('conversation')} = conv.id AND m.{column('direction')} = %s) "
        f"FROM conv ON CONFLICT {conflict_target(Message, 'one_message_per_provider_message_id')} DO NOTHING "
        f"RETURNING {column('id')} AS id, {column('conversation')} AS conversation_id"
        f"), opened AS ("
        f"UPDATE {conversations} SET {conversation('last_inbound_at')} = "
        f"GREATEST({conversation('last_inbound_at')}, CAST(%s AS timestamptz)), "
        f"{conversation('customer_name')} = COALESCE(NULLIF(%s, ''), {conversation('customer_name')}), "
        f"{conversation('status')} = %s, {conversation('updated_at')} = %s "
        f"WHERE {conversation('id')} IN (SELECT conversation_id FROM added)"
        f") SELECT conv.id, added.id FROM conv LEFT JOIN added ON true"
    ), fields


def _store_inbound(
    account: ProviderAccount,
    sender: Sender,
    event: InboundMessage,
    result: IngestResult,
    repairs: list[str],
) -> None:
    tenant = account.tenant
    customer = _customer_id(event)
    conversation_id, created = _conversation_locked(tenant, sender, customer, event.customer_name)
    now = timezone.now()
    message = _message_of(account, event, repairs, now)
    message.conversation_id = conversation_id
    # A replayed webhook, or the same message arriving concurrently through another request: the unique
    # (tenant, provider, provider message id) constraint makes it a no-op, in the INSERT itself. Any other
    # integrity error is a defect, never a duplicate: it fails the request (the provider retries) rather than
    # dropping the message.
    # The conversation's update rides on the INSERT (one statement on PostgreSQL) and happens only when the
    # message is new: a replay changes nothing at all.
    opened = _conversation_update(conversation_id, _window_start(message, now), now, event.customer_name)
    if not insert_at_end_of_line(message, unless="one_message_per_provider_message_id", then=opened):
        result.duplicates += 1
        return
    result.accepted += 1
    result.conversations_to_deliver.add(conversation_id)
    if created and tenant.welcome_text:
        conversation = Conversation.objects.select_related("tenant", "sender__account").get(
            pk=conversation_id
        )
        queue_outbound(conversation, {"kind": "text", "text": tenant.welcome_text, "system": "welcome"})


def _conversation_locked(tenant, sender: Sender, customer: str, customer_name: str) -> tuple[int, bool]:
    """The conversation's id, its row locked until the transaction ends (the lock serializes the sequence
    numbers; a no-op on SQLite, whose writes are serialized anyway), and whether it is new. A known
    conversation costs one statement; a new one an INSERT that another request's concurrent insert of the same
    conversation turns into a no-op (then it is read, locked, as a known one)."""
    for _ in range(2):
        with hot_cursor() as cursor:
            cursor.execute(_locked_conversation_sql(), [sender.pk, customer])
            found = cursor.fetchone()
        if found is not None:
            return found[0], False
        conversation = Conversation(
            tenant=tenant, sender=sender, customer=customer, customer_name=customer_name
        )
        if insert_once(conversation, unless="one_conversation_per_sender_and_customer"):
            return conversation.pk, True
    raise RuntimeError(f"conversation of {customer} with sender {sender.pk} neither found nor created")


@functools.cache
def _locked_conversation_sql() -> str:
    """Written once as SQL: the ORM built the same query again for every message."""
    table, column = sql_names(Conversation)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return (
        f"SELECT {column('id')} FROM {table} WHERE {column('sender')} = %s AND {column('customer')} = %s "  # noqa: S608
        f"LIMIT 1{lock}"
    )


def _window_start(message: Message, now: datetime) -> datetime:
    """When the customer's message opened WhatsApp's 24-hour window: when the provider received it (a webhook
    can come hours later: a provider's retries, an outage), never later than now."""
    return min(message.received_at or now, now)


def _conversation_update(
    conversation_id: int, window_start: datetime, now: datetime, customer_name: str
) -> tuple[str, list]:
    """What a new customer message changes in its conversation: the window's start (never earlier than a later
    message's: webhooks can come out of order), the name when one came, the status (open again) and the time of
    the change."""
    prepare = connection.ops.adapt_datetimefield_value
    start = prepare(window_start)
    return _conversation_update_sql(), [
        start,
        start,
        customer_name,
        Conversation.Status.OPEN.value,
        prepare(now),
        conversation_id,
    ]


@functools.cache
def _conversation_update_sql() -> str:
    table, column = sql_names(Conversation)
    return (
        f"UPDATE {table} SET {column('last_inbound_at')} = CASE WHEN {column('last_inbound_at')} IS NULL "  # noqa: S608
        f"OR {column('last_inbound_at')} < %s THEN %s ELSE {column('last_inbound_at')} END, "
        f"{column('customer_name')} = COALESCE(NULLIF(%s, ''), {column('customer_name')}), "
        f"{column('status')} = %s, {column('updated_at')} = %s WHERE {column('id')} = %s"
    )


def _report_ids(report: StatusReport) -> list[str]:
    """The ids our row may carry: the provider's, or (until the send's answer is stored) our own, echoed."""
    return [found for found in (report.provider_message_id, report.client_message_id) if found]


_REPORT_ORDER = {ReportStatus.PENDING: 0, ReportStatus.DELIVERED: 1, ReportStatus.READ: 2}


def _store_report(account: ProviderAccount, report: StatusReport, result: IngestResult) -> None:
    result.reports += 1
    recorded = record_report(account.tenant_id, account.provider, _report_ids(report), report)
    if recorded is None:
        if report.status != ReportStatus.PENDING:
            log.info(
                "status report for unknown message %s (account %s)", report.provider_message_id, account.pk
            )
        return
    if recorded.new_notices:
        result.notices_to_send.setdefault(recorded.conversation_id, recorded.message_id)


def _queue(result: IngestResult) -> None:
    for conversation_id in sorted(result.conversations_to_deliver):
        wake.inbound_line(conversation_id)
    for conversation_id, message_id in sorted(result.notices_to_send.items()):
        wake.notices(message_id, conversation_id)
