"""Record every call made on a message's behalf (Saleor's delivery attempts).

Three kinds of failure are told apart here, once, for every caller: the other side's transient and
permanent ``ExternalError``s, and everything else, an *internal* error (a bug of ours, or content we
cannot handle). What to do about an internal error (retry, or give up after
``RELAY_MAX_INTERNAL_ERRORS``) is decided by the delivery loops with :func:`gives_up`.
"""

from __future__ import annotations

import contextlib
import time

from django.conf import settings

from portal.logging import redact

from ..errors import ExternalError
from ..models import DeliveryAttempt, Message
from ..untrusted import storable

# What an internal error leaves on the attempt, the message and its reason: enough to recognise it.
INTERNAL_ERROR_MAX_CHARS = 500
_RECORDED = "_relay_attempt_recorded"


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
def attempt(message: Message, *, target: str, action: str):
    """Time the block and record its outcome; any exception is recorded and re-raised."""
    with attempts_for([(message, action)], target=target) as log:
        yield log


@contextlib.contextmanager
def attempts_for(items: list[tuple[Message, str]], *, target: str):
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
        DeliveryAttempt.objects.bulk_create(
            [
                _row(message, target, action, log.outcome, log.error_text, log.error, started)
                for message, action in items
            ]
        )


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
