"""Record every call made on a message's behalf (Saleor's delivery attempts)."""

from __future__ import annotations

import time
from contextlib import contextmanager

from .errors import ExternalError
from .models import DeliveryAttempt, Message


class AttemptLog:
    def __init__(self) -> None:
        self.outcome = DeliveryAttempt.Outcome.OK
        self.error: ExternalError | None = None


@contextmanager
def attempt(message: Message, *, target: str, action: str):
    """Time the block and record its outcome; an ExternalError is recorded and re-raised."""
    log = AttemptLog()
    started = time.monotonic()
    try:
        yield log
    except ExternalError as exc:
        log.error = exc
        log.outcome = (
            DeliveryAttempt.Outcome.PERMANENT if exc.permanent else DeliveryAttempt.Outcome.TRANSIENT
        )
        raise
    except Exception as exc:
        # A bug of ours, not the other side's: recorded as transient so the sweeper retries after the fix.
        log.outcome = DeliveryAttempt.Outcome.TRANSIENT
        log.error = ExternalError(f"internal error: {exc.__class__.__name__}")
        raise
    finally:
        DeliveryAttempt.objects.create(
            tenant_id=message.tenant_id,
            message=message,
            target=target,
            action=action,
            outcome=log.outcome,
            status_code=log.error.status if log.error else None,
            error=str(log.error) if log.error else "",
            duration_ms=int((time.monotonic() - started) * 1000),
        )
