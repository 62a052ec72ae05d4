"""Deliver a conversation's pending messages of one direction, in order, exactly once.

Used by both directions: inbound messages go to the tenant's desk (Salesforce), outbound ones to
the provider. A transient failure stops the line (later messages wait, so order holds) and
schedules a retry; a permanent failure marks that message failed and the line moves on. Any other
exception (a bug of ours, content we cannot handle) is an internal error: retried with backoff
``RELAY_MAX_INTERNAL_ERRORS`` times in all, then the message fails like any other, so no content holds
its conversation longer. The retry rules are the delivery engine's (``engine.py``); the line adds its lease,
its order and its deadline (the tenant's delivery window, checked before each try).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from portal.sql import hot_cursor
from tenants import lookups

from .. import signals
from ..errors import ExternalError
from ..models import Conversation, Message
from . import attempts, engine, leases, wake

log = logging.getLogger(__name__)

BATCH = 20  # messages read per query; a transient failure ends the batch, so a larger one mostly wastes reads

# deliver(message) -> None; raises ExternalError (or RetryLater). on_failed(message, reason, error) tells the
# other side about a message given up (error is None when it was not the other side's: expiry, internal error).
Deliver = Callable[[Message], None]
OnFailed = Callable[[Message, str, ExternalError | None], None]


class RetryLater(Exception):
    """Raised by ``deliver`` when the message must wait for something that is not a failure (an agent to
    come online for a handover): the line pauses until ``eta`` and no attempt is counted."""

    def __init__(self, eta, reason: str = "") -> None:
        super().__init__(reason)
        self.eta = eta
        self.reason = reason


class _Unreadable(Exception):
    """The line's configuration (the tenant and its connection, the sender and its account) could not be loaded,
    e.g. a secret that no longer decrypts: raised with the line's lease held, for its head message to bear."""

    def __init__(self, head: Message, cause: Exception) -> None:
        super().__init__(str(cause))
        self.head, self.cause = head, cause
        self.lease: leases.Lease | None = None


def run(conversation_id: int, direction: str, deliver: Deliver, on_failed: OnFailed, *, limit: int = 500):
    """Work through the line; returns the time a retry is due, or None when nothing is left."""
    try:
        lease, first = _claim_and_read(conversation_id, direction, min(BATCH, limit))
    except _Unreadable as unreadable:
        try:
            return _configuration_error(unreadable.head, unreadable.cause, on_failed)
        finally:
            if unreadable.lease is not None:
                unreadable.lease.release()
    if lease is None:
        return None  # another worker holds this line; it picks up whatever is pending
    try:
        due, drained = _work(lease, conversation_id, direction, deliver, on_failed, limit, first)
    finally:
        lease.release()
    # From here on a new message's wake queues a task (until now this run was the one to read it: wake.py).
    wake.finished(direction, conversation_id)
    if drained and _due_now(conversation_id, direction):
        # A message committed between our last look and the release found the lease taken and left its
        # task to us: come back at once, or it would wait for the sweeper.
        return timezone.now()
    return due


def _work(
    lease,
    conversation_id: int,
    direction: str,
    deliver: Deliver,
    on_failed: OnFailed,
    limit: int,
    first: list,
):
    """(when to come back, whether the line was found empty). ``first``: the first batch, read with the claim."""
    handled = 0
    while handled < limit:
        count = min(BATCH, limit - handled)
        batch, first = (first, []) if handled == 0 else (_pending(conversation_id, direction, count), [])
        if not batch:
            return None, True
        for message in batch:
            handled += 1
            now = timezone.now()
            if message.expires_at <= now:
                _give_up(message, "not delivered within the tenant's delivery window", on_failed)
                continue
            if message.next_attempt_at and message.next_attempt_at > now:
                return message.next_attempt_at, False
            if _renewal_due(lease, now) and not lease.renew():
                log.warning("lost the %s lease of conversation %s", direction, conversation_id)
                return None, False
            if len(batch) < count and message is batch[-1]:
                # The line's last message as read: the statement marking it may give the lease up too, as
                # run() would next (a message committed since is found by run()'s last look).
                attempts.release_with(message, lease)
            try:
                _step(deliver, message)
            except RetryLater as wait:
                Message.objects.filter(pk=message.pk).update(
                    next_attempt_at=wait.eta, last_error=wait.reason, updated_at=timezone.now()
                )
                return wait.eta, False
            except ExternalError as exc:
                due = engine.next_try(
                    engine.kind_of(exc), attempts=message.attempts + 1, retry_after=exc.retry_after
                )
                if due is None:  # permanent: this message fails, the line moves on
                    _give_up(message, str(exc), on_failed, exc, attempted=True)
                    continue
                Message.objects.filter(pk=message.pk).update(
                    attempts=message.attempts + 1,
                    next_attempt_at=due,
                    last_error=str(exc),
                    updated_at=timezone.now(),
                )
                return due, False
            except Exception as exc:  # noqa: BLE001 - whatever it is, it must not hold the line forever
                due = _internal_error(message, exc, on_failed)
                if due is None:
                    continue  # given up: the next message's turn
                return due, False
            # The desk has marked it delivered (or sent); count the attempt and forget an earlier try's error,
            # unless the statement that marked it did so already (desks/base.py's mark_delivered, send.py).
            if not message.attempt_counted:
                Message.objects.filter(pk=message.pk).update(attempts=message.attempts + 1, last_error="")
        if len(batch) < count:
            # The line is empty: a message committed since the read finds the lease taken, and run() looks
            # once more after releasing it.
            return None, True
    return timezone.now(), False  # more work than one run does: come back at once


def _step(deliver: Deliver, message: Message) -> None:
    try:
        deliver(message)
    finally:
        # A successful call's attempt row the step held for the statement marking the message (attempts.py),
        # when that statement never ran (the step raised after the call): the call was made, it stays visible.
        attempts.write_held(message)


def _pending(conversation_id: int, direction: str, count: int) -> list[Message]:
    """The next pending messages of the line, in order, read in one query.

    Only the lease holder changes a pending message of this line, so what is read here stays true while
    the batch is worked through. The messages share one conversation and tenant object: what the desk
    learns from the first (Salesforce's conversation id, say) the second sees.
    """
    batch = list(
        Message.objects.filter(
            conversation_id=conversation_id, direction=direction, status=Message.Status.PENDING
        )
        .select_related("conversation")
        .order_by("sequence")[:count]
    )
    return _share(batch[0].conversation, batch) if batch else batch


def _share(conversation: Conversation, batch: list[Message]) -> list[Message]:
    # The tenant with its Salesforce connection and the sender with its account: every delivery needs them,
    # and this process keeps them (tenants/config_cache.py), secrets decrypted once.
    if not batch:
        return batch
    try:
        tenant = lookups.tenant_with_connection(conversation.tenant_id)
        sender = lookups.sender_with_account(conversation.sender_id)
    except DatabaseError:
        raise  # the database away: nothing to count on the message, the line is tried again
    except Exception as exc:  # noqa: BLE001 - whatever it is, it must not hold the line forever
        raise _Unreadable(batch[0], exc) from exc
    conversation.tenant, conversation.sender = tenant, sender
    for message in batch:
        message.conversation, message.tenant = conversation, tenant
    return batch


def _claim_and_read(
    conversation_id: int, direction: str, count: int
) -> tuple[leases.Lease | None, list[Message]]:
    """Claim the line's lease and read its first batch (:func:`_pending`): on PostgreSQL in one statement, the
    claim's UPDATE as a data-modifying WITH whose conversation row the read joins (no row: not claimed)."""
    if connection.vendor != "postgresql":
        lease = leases.claim(conversation_id, direction)
        if lease is None:
            return None, []
        try:
            return lease, _pending(conversation_id, direction, count)
        except _Unreadable as unreadable:
            unreadable.lease = lease
            raise
    now = timezone.now()
    token = leases.new_token(now)
    with hot_cursor() as cursor:
        cursor.execute(
            _claim_and_read_sql(direction),
            [token, conversation_id, now, direction, count],
        )
        rows = cursor.fetchall()
    if not rows:
        return None, []
    lease = leases.Lease(conversation_id, direction, token)
    try:
        width = len(_CONVERSATION.fields)
        conversation = _CONVERSATION.load(rows[0][:width])
        batch = [_MESSAGE.load(row[width:]) for row in rows if row[width] is not None]
        return lease, _share(conversation, batch)
    except _Unreadable as unreadable:
        unreadable.lease = lease  # the caller settles the head message first, then releases it
        raise
    except BaseException:
        lease.release()  # as run() would: the line is not held until the lease runs out
        raise


class _Rows:
    """Model instances from the columns of a hand-written query, converted as the ORM converts them."""

    def __init__(self, model) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.names = [f.attname for f in self.fields]
        self._converters: list | None = None

    def columns(self, alias: str) -> str:
        return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in self.fields)

    def load(self, values):
        if self._converters is None:
            table = self.model._meta.db_table
            cols = [f.get_col(table) for f in self.fields]
            self._converters = [
                (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
                for col in cols
            ]
        converted = []
        for value, (col, converters) in zip(values, self._converters, strict=True):
            for convert in converters:
                value = convert(value, col, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.names, converted)


_CONVERSATION, _MESSAGE = _Rows(Conversation), _Rows(Message)

# Written into the line's statements, not bound: a prepared statement's generic plan uses the partial index of
# a line's pending messages (relay_message_pending_line) only for a condition it can read; with the status a
# parameter it walked every delivered message of the conversation.
PENDING_LINE = Message.Status.PENDING.value


@cache
def _claim_and_read_sql(direction: str) -> str:
    quote = connection.ops.quote_name
    lease = leases.column(direction)
    conversations, messages = quote(Conversation._meta.db_table), quote(Message._meta.db_table)
    return (
        f"WITH lease AS (UPDATE {conversations} c SET {lease} = %s "  # noqa: S608
        f"WHERE c.{quote('id')} = %s AND (c.{lease} IS NULL OR c.{lease} < %s) "
        f"RETURNING {_CONVERSATION.columns('c')}) "
        f"SELECT {_CONVERSATION.columns('lease')}, {_MESSAGE.columns('m')} FROM lease LEFT JOIN LATERAL "
        f"(SELECT {_MESSAGE.columns('p')} FROM {messages} p WHERE p.{quote('conversation_id')} = lease.{quote('id')} "
        f"AND p.{quote('direction')} = %s AND p.{quote('status')} = '{PENDING_LINE}' "
        f"ORDER BY p.{quote('sequence')} LIMIT %s) m "
        f"ON TRUE ORDER BY m.{quote('sequence')}"
    )


def _renewal_due(lease: leases.Lease, now) -> bool:
    """Renew once half the lease is used up: until it expires nobody else can take it, so renewing a
    fresh lease before every message would only cost a round trip."""
    return lease.token - now < timedelta(seconds=settings.RELAY_LEASE_SECONDS / 2)


def _due_now(conversation_id: int, direction: str) -> bool:
    quote = connection.ops.quote_name
    with hot_cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {quote(Message._meta.db_table)} WHERE {quote('conversation_id')} = %s "  # noqa: S608
            f"AND {quote('direction')} = %s AND {quote('status')} = '{PENDING_LINE}' "
            f"AND ({quote('next_attempt_at')} IS NULL OR {quote('next_attempt_at')} <= %s) LIMIT 1",
            [conversation_id, direction, leases.sql_time(timezone.now())],
        )
        return cursor.fetchone() is not None


def _configuration_error(head: Message, exc: Exception, on_failed: OnFailed):
    """The line's configuration could not be loaded: the head message bears it as an internal error (tried again
    ``RELAY_MAX_INTERNAL_ERRORS`` times in all, then failed), or fails at once when its delivery window is over,
    so the line moves on instead of waiting for the configuration forever. Returns when to run the line again."""
    if head.expires_at <= timezone.now():
        _give_up(head, "not delivered within the tenant's delivery window", on_failed)
        return timezone.now()  # the next message's turn
    return _internal_error(head, exc, on_failed) or timezone.now()


def _internal_error(message: Message, exc: Exception, on_failed: OnFailed):
    """Record an internal error; returns when to try again, or None when the message was given up."""
    target = "salesforce" if message.direction == Message.Direction.INBOUND else message.provider
    attempts.record_internal_error(message, exc, target=target, action="deliver")
    log.exception(
        "tenant %s, conversation %s: delivering %s message %s raised (try %s of %s)",
        message.tenant_id,
        message.conversation_id,
        message.direction,
        message.pk,
        message.internal_errors + 1,
        settings.RELAY_MAX_INTERNAL_ERRORS,
    )
    error = attempts.describe_internal_error(exc)
    internal_errors = message.internal_errors + 1
    due = engine.next_try(engine.INTERNAL, internal_errors=internal_errors)
    if due is None:
        reason = f"Switchboard could not handle this message ({error}); gave up after {internal_errors} tries"
        _give_up(message, reason, on_failed, attempted=True, internal_errors=internal_errors)
        return None
    # Backoff on the internal errors alone (the engine's rule), so the bound is a fixed time however long the
    # other side made the message wait before.
    Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
        attempts=message.attempts + 1,
        internal_errors=internal_errors,
        next_attempt_at=due,
        last_error=error,
        updated_at=timezone.now(),
    )
    return due


def _give_up(
    message: Message,
    reason: str,
    on_failed: OnFailed,
    error: ExternalError | None = None,
    *,
    attempted: bool = False,
    **changes,
) -> None:
    """Fail the message (``attempted``: a try of it just failed) and tell the other side.

    A failing ``on_failed`` does not keep the message pending, or its line would be stuck again: the
    message stays failed (and visible as such), and the error is logged.
    """
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
            status=Message.Status.FAILED,
            attempts=message.attempts + (1 if attempted else 0),
            last_error=reason,
            next_attempt_at=None,
            updated_at=timezone.now(),
            **changes,
        )
        if updated:
            message.status, message.last_error = Message.Status.FAILED, reason
            try:
                with transaction.atomic():
                    on_failed(message, reason, error)
            except Exception:  # noqa: BLE001 - logged; the failure itself stands
                log.exception(
                    "tenant %s, conversation %s: telling the other side that message %s failed raised",
                    message.tenant_id,
                    message.conversation_id,
                    message.pk,
                )
            signals.message_status_changed.send_robust(
                sender=Message, message=message, status=Message.Status.FAILED, reason=reason
            )
