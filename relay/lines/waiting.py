"""Why a pending message has not gone yet, derived when it is shown (never written on each retry).

A line (a conversation's messages of one direction) delivers in order, so only its head, the first
pending message, is ever tried: its own ``last_error`` and ``next_attempt_at`` say why it waits. Every
message behind it waits for the head: "waiting behind message #N: <the head's reason>", N being the
head's ``sequence`` in the same conversation and direction.

Lists read the head of each shown message's line with :func:`with_line_head` (three correlated
subqueries on the partial index of pending messages, evaluated only for pending rows); a single message
not read that way looks its head up when asked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, cast

from django.db.models import Case, OuterRef, Q, QuerySet, Subquery, When
from django.utils import timezone

if TYPE_CHECKING:
    # Only for the annotations: relay.models asks this module for Message.waiting_reason, so the model comes
    # from the queryset or the message it is given.
    from ..models import Message

_HEAD_FIELDS = {"line_head_sequence": "sequence", "line_head_error": "last_error"}
_HEAD_DUE = "line_head_next_attempt_at"


class _AnnotatedLineHead(Protocol):
    """A message from :func:`with_line_head`: its line head's sequence, last error and next attempt."""

    line_head_sequence: int | None  # None: no pending head (then the other two are unused)
    line_head_error: str
    line_head_next_attempt_at: datetime | None


def with_line_head(queryset: QuerySet) -> QuerySet:
    """``queryset`` with what :func:`waiting_reason` needs about each pending message's line head."""
    model = queryset.model
    head = model.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        direction=OuterRef("direction"),
        status=model.Status.PENDING,
    ).order_by("sequence")[:1]
    pending = Q(status=model.Status.PENDING)
    annotations = {
        name: Case(When(pending, then=Subquery(head.values(field))), default=None)
        for name, field in {**_HEAD_FIELDS, _HEAD_DUE: "next_attempt_at"}.items()
    }
    return queryset.annotate(**annotations)


def waiting_reason(message: Message, now: datetime | None = None) -> str:
    model = type(message)
    if message.status != model.Status.PENDING:
        return ""
    if hasattr(message, "line_head_sequence"):
        # with_line_head() annotates all three together.
        annotated = cast(_AnnotatedLineHead, message)
        head_sequence = annotated.line_head_sequence
        head_error, head_due = annotated.line_head_error, annotated.line_head_next_attempt_at
    else:
        head = (
            model.objects.filter(
                conversation_id=message.conversation_id,
                direction=message.direction,
                status=model.Status.PENDING,
            )
            .order_by("sequence")
            .values_list("sequence", "last_error", "next_attempt_at")
            .first()
        )
        if head is None:  # delivered (or failed) since it was read
            return ""
        head_sequence, head_error, head_due = head
    if head_sequence is None:
        return ""
    own = head_sequence == message.sequence
    reason = (
        _own_reason(message.last_error, message.next_attempt_at, now)
        if own
        else _own_reason(head_error, head_due, now)
    )
    return reason if own else f"waiting behind message #{head_sequence}: {reason}"


def _own_reason(last_error: str, due: datetime | None, now: datetime | None) -> str:
    now = now or timezone.now()
    if due is not None and due > now:
        when = f"next try at {due.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        return f"{last_error} ({when})" if last_error else f"scheduled: {when}"
    return f"{last_error} (trying again now)" if last_error else "queued for delivery"
