"""Put failed messages back in line (the admin's "Retry now" and the partner API's "retry")."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import signals
from ..models import Message
from . import wake

# A retried message gets a fresh, shorter delivery window than a new one.
RETRY_WINDOW = timedelta(days=1)


def retry_failed(messages) -> list[Message]:
    """Retry the failed ones among ``messages`` (a queryset); returns them, now pending."""
    now = timezone.now()
    with transaction.atomic():
        failed = list(messages.select_for_update().filter(status=Message.Status.FAILED))
        Message.objects.filter(pk__in=[m.pk for m in failed], status=Message.Status.FAILED).update(
            status=Message.Status.PENDING,
            next_attempt_at=now,
            internal_errors=0,  # a retry (after a fix, say) gets RELAY_MAX_INTERNAL_ERRORS tries again
            last_error="",
            expires_at=now + RETRY_WINDOW,
            updated_at=now,
        )
        for message in failed:
            message.status, message.last_error, message.next_attempt_at = Message.Status.PENDING, "", now
            signals.message_status_changed.send_robust(
                sender=Message, message=message, status=Message.Status.PENDING, reason="retry requested"
            )
        for conversation_id, direction in {(m.conversation_id, m.direction) for m in failed}:
            wake.after_commit(wake.line, conversation_id, direction)
    return failed
