"""Tell Salesforce what became of an agent's message: Delivered / Read acknowledgements, or
``MessageDeliveryFailed`` with a reason the agent can read.

Runs on the delivery engine (``lines/engine.py``: claim, attempts, backoff, bounds), like a message:

- **claimed once.** One UPDATE takes a conversation's due notices (at most :data:`BATCH`) for
  ``RELAY_LEASE_SECONDS``, marking them with the worker's token: a second task for the same conversation (the
  sweeper's, or a report's) finds them not due and leaves them; a dead worker's claim runs out and the sweeper
  hands them on. Before this, two tasks could both send a notice (28% of acknowledgements went twice).
- **batched.** Every acknowledgement claimed goes in one Interaction Service call (up to 25, the documented
  ``AcknowledgementRequest.acknowledgements`` maximum); a delivery failure is its own call.
- **in order per message**: a message whose notice waits (backing off, or claimed by another worker) has its
  later notices wait too, so Salesforce never hears Read before Delivered of the same entry.
- **bounded**: a notice that fails on an error of ours (not Salesforce's) is failed after
  ``RELAY_MAX_INTERNAL_ERRORS`` tries, so one bad notice cannot be retried forever and does not hold the
  others of its batch; a permanent error fails the notices of that call at once; a transient one backs them off
  (a notice has no count bound: Salesforce must hear it).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from portal.sql import hot_cursor
from tenants import lookups

from ..desks.registry import desk_for
from ..errors import ExternalError
from ..lines import engine, wake
from ..lines.attempts import attempts_for, describe_internal_error, record_internal_error
from ..models import Conversation, Message, SalesforceNotice
from ..salesforce.interactions import MAX_ACKNOWLEDGEMENTS, InteractionClient

log = logging.getLogger(__name__)

BATCH = MAX_ACKNOWLEDGEMENTS  # notices claimed at once: one acknowledgement call can carry them all
ROUNDS = 20  # batches one task works through before it leaves the rest to a fresh task

ORDER: dict[str, int] = {
    SalesforceNotice.Kind.DELIVERED: 0,
    SalesforceNotice.Kind.READ: 1,
    SalesforceNotice.Kind.FAILED: 2,
}
ACK_TYPES: dict[str, str] = {SalesforceNotice.Kind.DELIVERED: "Delivered", SalesforceNotice.Kind.READ: "Read"}
ACTIONS: dict[str, str] = {
    SalesforceNotice.Kind.DELIVERED: "acknowledgement_delivered",
    SalesforceNotice.Kind.READ: "acknowledgement_read",
    SalesforceNotice.Kind.FAILED: "delivery_failed",
}
PENDING = SalesforceNotice.Status.PENDING


def notify(message_id: int):
    """Send the due notices of the message's conversation (all of them: batching is per conversation);
    return when to try again, or None when this task has nothing left to wait for.

    A batch sent is marked done by the statement that claims the next one (on PostgreSQL), so a task that
    sends one acknowledgement spends a statement to claim it, the attempt row, and one to mark it done and
    look for more; a worker that dies in between leaves them claimed, and the lease hands them on."""
    conversation_id, batch = _claim_for_message(message_id)
    if conversation_id is None:
        return None  # deleted, and its notices with it
    sent: list[SalesforceNotice] = []  # sent and settled, not yet marked done
    for _ in range(ROUNDS):
        if not batch:
            # From here on a new notice's wake queues a task: look once more for one that came before it.
            wake.finished("notices", conversation_id)
            batch, sent = _claim(conversation_id, done=sent), []
            if not batch:
                return None
        due, sent = _send_batch(batch)
        if due is not None:
            _done(sent)
            return due
        # A full batch may have more behind it: claim on without giving up the task's mark.
        batch, sent = (_claim(conversation_id, done=sent), []) if len(batch) == BATCH else ([], sent)
    _done(sent)
    return timezone.now()  # more than one task's share: come back at once


def _claim_for_message(message_id: int) -> tuple[int | None, list[SalesforceNotice]]:
    """The message's conversation and the first batch of its due notices (one statement on PostgreSQL)."""
    if connection.vendor == "postgresql":
        return _claim_sql(message_id=message_id)
    conversation_id = Message.objects.filter(pk=message_id).values_list("conversation_id", flat=True).first()
    if conversation_id is None:
        return None, []
    return conversation_id, _claim(conversation_id)


def _claim(conversation_id: int, *, done: list[SalesforceNotice] | None = None) -> list[SalesforceNotice]:
    """Mark ``done`` done, take the conversation's due notices for a lease and read them, ordered."""
    if connection.vendor == "postgresql":
        return _claim_sql(conversation_id=conversation_id, done=done)[1]
    _done(done or [])
    return _claim_orm(conversation_id)


def _claim_sql(
    *,
    message_id: int | None = None,
    conversation_id: int | None = None,
    done: list[SalesforceNotice] | None = None,
) -> tuple[int | None, list[SalesforceNotice]]:
    """PostgreSQL: one statement marks ``done`` done, takes the conversation's due notices for a lease (the
    same choice and order rule as :func:`_claim_orm`) and returns them with their messages and conversation:
    (the conversation, or None when the message is gone; the batch)."""
    now = timezone.now()
    done = done or []
    params = {
        "message": message_id,
        "conversation": conversation_id,
        "done": [n.pk for n in done],
        "done_claims": [n.claim for n in done],
        "now": now,
        "lease": now + timedelta(seconds=settings.RELAY_LEASE_SECONDS),
        "token": uuid.uuid4(),
        "batch": BATCH,
        "pending": PENDING.value,
        "finished": SalesforceNotice.Status.DONE.value,
    }
    with hot_cursor() as cursor:
        cursor.execute(_claim_statement(by_message=message_id is not None), params)
        rows = cursor.fetchall()
    if not rows:
        return None, []
    notice_fields, message_fields, conversation_fields = _claim_columns()
    batch = []
    for row in rows:
        if row[1] is None:  # the conversation, and nothing claimed
            continue
        values = iter(row[1:])
        notice = _from_row(SalesforceNotice, notice_fields, values)
        message = _from_row(Message, message_fields, values)
        message.conversation = _from_row(Conversation, conversation_fields, values)
        notice.message = message
        batch.append(notice)
    return rows[0][0], _ready(batch)


@cache
def _claim_columns() -> tuple[list, list, list]:
    fields = [list(model._meta.concrete_fields) for model in (SalesforceNotice, Message, Conversation)]
    return fields[0], fields[1], fields[2]


def _from_row(model, fields: list, values):
    """A model instance from the next ``len(fields)`` values, converted as a query would (JSON, say)."""
    converted = []
    for field in fields:
        value = next(values)
        if value is not None and hasattr(field, "from_db_value"):
            value = field.from_db_value(value, None, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


@cache
def _claim_statement(*, by_message: bool) -> str:
    quote = connection.ops.quote_name
    notices, messages = SalesforceNotice._meta.db_table, Message._meta.db_table
    conversations = Conversation._meta.db_table
    notice_fields, message_fields, conversation_fields = _claim_columns()
    columns = ", ".join(
        [f"claimed.{quote(f.column)}" for f in notice_fields]
        + [f"m.{quote(f.column)}" for f in message_fields]
        + [f"c.{quote(f.column)}" for f in conversation_fields]
    )
    returning = ", ".join(f"n.{quote(f.column)}" for f in notice_fields)
    target = (
        f"SELECT conversation_id FROM {messages} WHERE id = %(message)s"  # noqa: S608 - a model's table
        if by_message
        else "SELECT %(conversation)s::bigint AS conversation_id"
    )
    # The candidates are locked as they are read, in their order: two claims of one conversation that locked
    # the same notices in different orders (the UPDATE's own scan) deadlocked in the benchmark's bursts. The
    # second claim waits for the first, then finds the notices it took leased and takes only what is left (not
    # SKIP LOCKED: that split one conversation's receipts over two calls).
    # A notice is taken only with every earlier pending notice of its message (Delivered before Read): one that
    # waited for another claim's lock and was dropped, taken there meanwhile, holds its message's later ones
    # back (the NOT EXISTS in candidates read the notices before that wait, when it still looked due).
    # 'pending' is written into the statement, not bound: a prepared statement's generic plan can use the partial
    # index of due notices (relay_notice_due) only for a condition it can read. The UPDATE takes its rows by
    # primary key from the candidates (ANY(ARRAY(...))), never by scanning what is due.
    # The conditions of the claim are repeated on the row itself: PostgreSQL re-checks them on a row another
    # worker claimed meanwhile, so of two concurrent claims only one takes it. The notices marked done here
    # still look pending and leased to this statement (one snapshot): they hold no later notice back.
    return f"""
    WITH target AS ({target}),
    settled AS (
        UPDATE {notices} SET status = %(finished)s, last_error = '', claim = NULL, updated_at = %(now)s
        WHERE (id, claim) IN (SELECT * FROM unnest(%(done)s::bigint[], %(done_claims)s::uuid[]))
    ),
    candidates AS (
        SELECT n.id FROM {notices} n JOIN {messages} m ON m.id = n.message_id
        WHERE m.conversation_id = (SELECT conversation_id FROM target)
          AND n.status = '{PENDING.value}' AND n.next_attempt_at <= %(now)s
          AND NOT EXISTS (
              SELECT 1 FROM {notices} w
              WHERE w.message_id = n.message_id AND w.status = %(pending)s AND w.next_attempt_at > %(now)s
                AND NOT (w.id = ANY(%(done)s::bigint[]))
          )
        ORDER BY m.sequence, n.id
        LIMIT %(batch)s
        FOR UPDATE OF n
    ),
    claimed AS (
        UPDATE {notices} n
        SET claim = %(token)s, attempts = n.attempts + 1, next_attempt_at = %(lease)s, updated_at = %(now)s
        WHERE n.id = ANY(ARRAY(SELECT id FROM candidates)) AND n.status = '{PENDING.value}'
          AND n.next_attempt_at <= %(now)s
          AND NOT EXISTS (
              SELECT 1 FROM {notices} e
              WHERE e.message_id = n.message_id AND e.status = %(pending)s AND {_rank("e")} < {_rank("n")}
                AND e.id NOT IN (SELECT id FROM candidates) AND NOT (e.id = ANY(%(done)s::bigint[]))
          )
        RETURNING {returning}
    )
    SELECT target.conversation_id, {columns}
    FROM target
    LEFT JOIN claimed ON true
    LEFT JOIN {messages} m ON m.id = claimed.message_id
    LEFT JOIN {conversations} c ON c.id = m.conversation_id
    WHERE target.conversation_id IS NOT NULL
    """  # noqa: S608 - table and column names from the models; every value is a parameter


def _rank(alias: str) -> str:
    """SQL for the place of ``alias``'s kind in :data:`ORDER` (the kinds are this module's constants)."""
    cases = " ".join(f"WHEN '{kind}' THEN {place}" for kind, place in ORDER.items())
    return f"(CASE {alias}.kind {cases} ELSE {len(ORDER)} END)"


def _claim_orm(conversation_id: int) -> list[SalesforceNotice]:
    """Take the conversation's due notices for a lease, in one UPDATE; read them back by the token."""
    now = timezone.now()
    # A notice whose message has an earlier notice still waiting (backing off, or in another worker's hands,
    # whose lease makes it not due) waits with it: order per message.
    waiting = SalesforceNotice.objects.filter(message_id=OuterRef("message_id"), status=PENDING).filter(
        next_attempt_at__gt=now
    )
    candidates = (
        SalesforceNotice.objects.filter(
            message__conversation_id=conversation_id, status=PENDING, next_attempt_at__lte=now
        )
        .exclude(Exists(waiting))
        .order_by("message__sequence", "pk")
        .values("pk")[:BATCH]
    )
    token = uuid.uuid4()
    # The conditions are repeated on the row itself: PostgreSQL re-checks them on a row another worker claimed
    # meanwhile, so of two concurrent claims only one takes it.
    claimed = engine.claim(
        SalesforceNotice.objects.filter(pk__in=candidates, status=PENDING, next_attempt_at__lte=now),
        claim=token,
        attempts=F("attempts") + 1,
        next_attempt_at=now + timedelta(seconds=settings.RELAY_LEASE_SECONDS),
        updated_at=now,
    )
    if not claimed:
        return []
    return _ready(list(SalesforceNotice.objects.filter(claim=token).select_related("message__conversation")))


def _ready(batch: list[SalesforceNotice]) -> list[SalesforceNotice]:
    """The claimed notices in the order Salesforce hears them, with what sending needs attached."""
    # The tenant with its Salesforce connection and the sender: this process keeps them (config_cache).
    try:
        for notice in batch:
            message = notice.message
            message.tenant = lookups.tenant_with_connection(message.tenant_id)
            message.conversation.sender = lookups.sender_with_account(message.conversation.sender_id)
    except DatabaseError:
        raise  # the database away: the claims run out, and the notices are tried again
    except Exception as exc:  # noqa: BLE001 - e.g. a secret that no longer decrypts: counted, then given up
        for notice in batch:
            _internal_error(notice, exc)
        return []
    batch.sort(key=lambda n: (n.message.sequence, ORDER.get(n.kind, len(ORDER)), n.pk))
    return batch


def _send_batch(batch: list[SalesforceNotice]) -> tuple[datetime | None, list[SalesforceNotice]]:
    """Send one claimed batch: (None when every notice in it is settled, else when to retry; the notices sent,
    which the caller marks done). A notice given up or backing off is written here."""
    sent: list[SalesforceNotice] = []
    acks: list[tuple[SalesforceNotice, tuple[str, str, int]]] = []
    retry_at = []
    for notice in batch:
        try:
            if notice.kind in ACK_TYPES:
                acks.append((notice, _ack_item(notice)))
            elif notice.kind == SalesforceNotice.Kind.FAILED:
                _send_failed(notice)
                sent.append(notice)
            else:
                raise ValueError(f"no way to tell Salesforce a notice of kind {notice.kind!r}")
        except ExternalError as exc:
            retry_at.append(_failed_try([notice], exc))
        except Exception as exc:  # noqa: BLE001 - whatever it is, it must not be retried forever
            retry_at.append(_internal_error(notice, exc))
    if acks:
        acknowledged, when = _send_acks(acks)
        sent += acknowledged
        retry_at.append(when)
    due = [when for when in retry_at if when is not None]
    return (min(due) if due else None), sent


def _ack_item(notice: SalesforceNotice) -> tuple[str, str, int]:
    entry = notice.message.content["entry_identifier"]
    return entry, ACK_TYPES[notice.kind], int(notice.occurred_at.timestamp() * 1000)


def _send_acks(
    acks: list[tuple[SalesforceNotice, tuple[str, str, int]]],
) -> tuple[list[SalesforceNotice], datetime | None]:
    """(the notices acknowledged, when to try the others again)."""
    notices = [notice for notice, _ in acks]
    first = notices[0].message
    conversation = first.conversation
    try:
        with attempts_for([(n.message, _action(n)) for n in notices], target="salesforce"):
            items = [item for _, item in acks]
            desk = desk_for(first.tenant.salesforce)
            if hasattr(desk, "acknowledge"):  # a desk with its own acknowledgements (Enhanced Chat)
                desk.acknowledge(conversation, items)
            else:
                InteractionClient(first.tenant.salesforce).acknowledge(
                    conversation.salesforce_conversation_id, conversation.customer, items
                )
    except ExternalError as exc:
        return [], _failed_try(notices, exc)
    except Exception as exc:  # noqa: BLE001 - an error of ours in the call itself: counted on each notice
        due = [_internal_error(notice, exc) for notice in notices]
        return [], min((d for d in due if d is not None), default=None)
    return notices, None


def _send_failed(notice: SalesforceNotice) -> None:
    message = notice.message
    conversation = message.conversation
    desk = desk_for(message.tenant.salesforce)
    if hasattr(desk, "acknowledge"):  # such a desk's API has no delivery failure to tell: the row says it
        return
    with attempts_for([(message, _action(notice))], target="salesforce"):
        InteractionClient(message.tenant.salesforce).send_delivery_failed(
            to=conversation.sender.channel_address_identifier,
            from_=conversation.customer,
            failed_entry_id=message.content["entry_identifier"],
            error_code=notice.error_code or "DELIVERY_FAILED",
            error_message=notice.reason,
            entry_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"failed:{notice.pk}")),
            timestamp_ms=int(notice.occurred_at.timestamp() * 1000),
        )


def _done(notices: list[SalesforceNotice]) -> None:
    if not notices:
        return
    SalesforceNotice.objects.filter(pk__in=[n.pk for n in notices], claim=notices[0].claim).update(
        status=SalesforceNotice.Status.DONE, last_error="", claim=None, updated_at=timezone.now()
    )


def _failed_try(notices: list[SalesforceNotice], exc: ExternalError):
    """Salesforce refused or failed the call: give the notices up (permanent) or back them off together."""
    changes: dict = {"last_error": str(exc), "claim": None, "updated_at": timezone.now()}
    attempts = max(n.attempts for n in notices)
    due = engine.next_try(engine.kind_of(exc), attempts=attempts, retry_after=exc.retry_after)
    if due is None:  # permanent: given up at once
        changes["status"] = SalesforceNotice.Status.FAILED
    else:
        changes["next_attempt_at"] = due
    SalesforceNotice.objects.filter(pk__in=[n.pk for n in notices], claim=notices[0].claim).update(**changes)
    return due


def _internal_error(notice: SalesforceNotice, exc: Exception):
    """Record an internal error; returns when to try the notice again, or None when it was given up."""
    message = notice.message
    record_internal_error(message, exc, target="salesforce", action=_action(notice))
    notice.internal_errors += 1
    log.exception(
        "tenant %s, conversation %s: sending the %s notice %s of message %s raised (try %s of %s)",
        message.tenant_id,
        message.conversation_id,
        notice.kind,
        notice.pk,
        message.pk,
        notice.internal_errors,
        settings.RELAY_MAX_INTERNAL_ERRORS,
    )
    changes: dict = {
        "last_error": describe_internal_error(exc),
        "internal_errors": notice.internal_errors,
        "claim": None,
        "updated_at": timezone.now(),
    }
    due = engine.next_try(engine.INTERNAL, internal_errors=notice.internal_errors)
    if due is None:
        changes["status"] = SalesforceNotice.Status.FAILED
        changes["last_error"] += f"; gave up after {notice.internal_errors} tries"
    else:
        changes["next_attempt_at"] = due
    SalesforceNotice.objects.filter(pk=notice.pk, claim=notice.claim).update(**changes)
    return due


def _action(notice: SalesforceNotice) -> str:
    return ACTIONS.get(notice.kind, f"notice_{notice.kind}")
