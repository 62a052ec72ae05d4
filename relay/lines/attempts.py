"""Record every call made on a message's behalf (Saleor's delivery attempts).

Three kinds of failure are told apart here, once, for every caller: the other side's transient and
permanent ``ExternalError``s, and everything else, an *internal* error (a bug of ours, or content we
cannot handle). What to do about an internal error (retry, or give up after
``RELAY_MAX_INTERNAL_ERRORS``) is decided by the delivery loops with :func:`gives_up`.
"""

from __future__ import annotations

import contextlib
import time
from typing import cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from portal.logging import redact
from portal.sql import hot_cursor

from ..errors import ExternalError
from ..models import DeliveryAttempt, Message
from ..untrusted import storable
from . import leases
from .leases import Lease

# What an internal error leaves on the attempt, the message and its reason: enough to recognise it.
INTERNAL_ERROR_MAX_CHARS = 500
_RECORDED = "_relay_attempt_recorded"
# A successful try's row waiting for the statement that marks its message (:func:`attempt` with ``held``).
_HELD = "_relay_attempt_held"
# The line's lease, when the statement marking this message may release it too (the line's last message).
_RELEASE = "_relay_release_lease"


class AttemptLog:
    def __init__(self) -> None:
        self.outcome = DeliveryAttempt.Outcome.OK
        self.error: ExternalError | None = None
        self.error_text = ""


def describe_internal_error(exc: BaseException) -> str:
    """The exception's type and message, secrets redacted, length capped: safe to store and show."""
    detail = storable(str(exc)).strip()  # an exception may quote content PostgreSQL cannot store
    text = redact(f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__)
    if len(text) > INTERNAL_ERROR_MAX_CHARS:
        text = text[: INTERNAL_ERROR_MAX_CHARS - 1] + "…"
    return f"internal error: {text}"


def gives_up(internal_errors: int) -> bool:
    """After this many internal errors a message (or notice) is failed: no content can hold its line longer."""
    return internal_errors >= settings.RELAY_MAX_INTERNAL_ERRORS


@contextlib.contextmanager
def attempt(message: Message, *, target: str, action: str, held: bool = False):
    """Time the block and record its outcome; any exception is recorded and re-raised.

    ``held``: a successful try's row is not written here but by the statement that then marks the message
    (:func:`mark_tried`), so the try costs no statement and no transaction of its own. Whoever runs a held
    block must mark the message or call :func:`write_held` (the pipeline does, whatever happens), or the
    row is lost.
    """
    with attempts_for([(message, action)], target=target, held=held) as log:
        yield log


@contextlib.contextmanager
def attempts_for(items: list[tuple[Message, str]], *, target: str, held: bool = False):
    """:func:`attempt` for one call made on behalf of several messages (a batch of acknowledgements): one
    row per ``(message, action)``, written in one statement."""
    log = AttemptLog()
    started = time.monotonic()
    try:
        yield log
    except ExternalError as exc:
        log.error, log.error_text = exc, str(exc)
        log.outcome = (
            DeliveryAttempt.Outcome.PERMANENT if exc.permanent else DeliveryAttempt.Outcome.TRANSIENT
        )
        raise
    except Exception as exc:
        # Not the other side's failure: recorded as ours; the delivery loop decides whether to try again.
        log.outcome, log.error_text = DeliveryAttempt.Outcome.INTERNAL, describe_internal_error(exc)
        _mark_recorded(exc)
        raise
    finally:
        rows = [
            _row(message, target, action, log.outcome, log.error_text, log.error, started)
            for message, action in items
        ]
        if held and log.outcome == DeliveryAttempt.Outcome.OK:
            for (message, _action), row in zip(items, rows, strict=True):
                row.created_at = timezone.now()  # when the call ended, not when the message is marked
                setattr(message, _HELD, row)
        elif len(rows) == 1:
            rows[0].save(force_insert=True)  # one INSERT; bulk_create would wrap it in a transaction
        else:
            DeliveryAttempt.objects.bulk_create(rows)


def write_held(message: Message) -> None:
    """Write the held row of ``message``'s successful try if no :func:`mark_tried` took it (the message was
    not marked: the step raised after the call, say). The call was made, so it stays visible."""
    setattr(message, _RELEASE, None)
    row = getattr(message, _HELD, None)
    if row is not None:
        setattr(message, _HELD, None)
        row.save(force_insert=True)


def release_with(message: Message, lease: Lease) -> None:
    """Let the statement that marks ``message`` (the last one the line read) release ``lease`` as well, on
    PostgreSQL: one statement fewer per line run. The pipeline releases it itself when nothing marked it."""
    setattr(message, _RELEASE, lease)


def mark_tried(message: Message, changes: dict, *, only_pending: bool = False) -> bool:
    """Write ``changes`` to ``message``'s row with its successful try counted (``attempts + 1``, an earlier
    try's error forgotten) and the try's held attempt row (:func:`attempt` with ``held``), if any: one statement
    on PostgreSQL (the INSERT rides on the UPDATE as a data-modifying WITH), one transaction elsewhere.
    ``only_pending``: change the message only while it is pending (the attempt row is written anyway: the call
    was made). True when the message row changed."""
    row = getattr(message, _HELD, None)
    lease: Lease | None = getattr(message, _RELEASE, None)
    setattr(message, _HELD, None)
    setattr(message, _RELEASE, None)
    fields = [_message_field(name) for name in changes]
    params = [
        f.get_db_prep_save(value, connection) for f, value in zip(fields, changes.values(), strict=True)
    ]
    params += ["", message.pk] + ([str(Message.Status.PENDING)] if only_pending else [])
    postgres = connection.vendor == "postgresql"
    together = row is not None and postgres
    release = lease if lease is not None and not lease.released and postgres else None
    sql = _statement(
        tuple(changes), only_pending, together, release.direction if release is not None else None
    )
    if release is not None:
        params = [release.conversation_id, leases.sql_time(release.token)] + params
    if together:
        params = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _ATTEMPT_FIELDS] + params
    with (
        transaction.atomic(savepoint=False) if row is not None and not together else contextlib.nullcontext()
    ):
        with hot_cursor() as cursor:
            cursor.execute(sql, params)
            changed = cursor.rowcount > 0
        if row is not None and not together:
            row.save(force_insert=True)
    if release is not None:
        # Once committed (at once outside a transaction): a rolled-back release must be done again by the line.
        transaction.on_commit(lambda: setattr(release, "released", True))
    return changed


def _message_field(name: str) -> Field:
    return cast(Field, Message._meta.get_field(name))


_ATTEMPT_FIELDS = [f for f in DeliveryAttempt._meta.concrete_fields if not f.primary_key]
_STATEMENTS: dict[tuple, str] = {}


def _statement(names: tuple[str, ...], only_pending: bool, with_attempt: bool, release: str | None) -> str:
    """The UPDATE of :func:`mark_tried`; its parameters: the attempt row's fields when ``with_attempt``, the
    conversation id and lease token when ``release`` (the lease's direction), the changes, "" for last_error,
    the id, "pending" when ``only_pending``. Made once per shape."""
    key = (names, only_pending, with_attempt, release, connection.vendor)
    found = _STATEMENTS.get(key)
    if found is not None:
        return found
    quote = connection.ops.quote_name
    sets = [f"{quote(cast(str, _message_field(name).column))} = %s" for name in names]
    sets += [f"{quote('attempts')} = {quote('attempts')} + 1", f"{quote('last_error')} = %s"]
    where = f"{quote('id')} = %s" + (f" AND {quote('status')} = %s" if only_pending else "")
    sql = f"UPDATE {quote(Message._meta.db_table)} SET {', '.join(sets)} WHERE {where}"  # noqa: S608
    # Data-modifying WITH queries run once, to completion, whether or not the UPDATE reads them: the attempt
    # row is written and the lease released even when the message is no longer pending (the call was made).
    first = []
    if with_attempt:
        columns = ", ".join(quote(cast(str, f.column)) for f in _ATTEMPT_FIELDS)
        marks = ", ".join(["%s"] * len(_ATTEMPT_FIELDS))
        insert = f"INSERT INTO {quote(DeliveryAttempt._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
        first.append(f"tried AS ({insert})")
    if release is not None:
        first.append(f"released AS ({leases.release_sql(release)})")
    if first:
        sql = f"WITH {', '.join(first)} {sql}"
    _STATEMENTS[key] = sql
    return sql


def record_internal_error(message: Message, exc: BaseException, *, target: str, action: str) -> None:
    """Record an internal error raised outside any ``attempt`` block (a renderer before the call, say);
    one recorded by an ``attempt`` block is not recorded twice."""
    if getattr(exc, _RECORDED, False):
        return
    _create(
        message,
        target,
        action,
        DeliveryAttempt.Outcome.INTERNAL,
        describe_internal_error(exc),
        None,
        time.monotonic(),
    )
    _mark_recorded(exc)


def _mark_recorded(exc: BaseException) -> None:
    with contextlib.suppress(AttributeError):  # an exception class with __slots__: at worst, a second row
        setattr(exc, _RECORDED, True)


def _create(message, target, action, outcome, error_text, error, started) -> None:
    _row(message, target, action, outcome, error_text, error, started).save(force_insert=True)


def _row(message, target, action, outcome, error_text, error, started) -> DeliveryAttempt:
    return DeliveryAttempt(
        tenant_id=message.tenant_id,
        message=message,
        target=target[:20],
        action=action[:40],
        outcome=outcome,
        status_code=error.status if error else None,
        error=error_text,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
