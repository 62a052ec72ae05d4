"""The one delivery engine (Saleor's way): claim, attempt, back off, give up, sweep.

Everything Switchboard delivers with retries runs on it: a conversation's messages (``lines/pipeline.py``),
Salesforce notices (``outbound/notices.py``), partner webhooks (``portal/api/webhooks.py``) and the
template-history import (``outbound/template_history.py``). Each kind keeps its own rows and says, in a small
adapter, what delivering one means and what giving one up means; the engine decides the rest the same way
for all of them:

- **claim**: one worker per item, by a conditional UPDATE (PostgreSQL and SQLite alike); a dead worker's
  claim runs out and the sweep hands the item on.
- **attempts**: every try is a row (``lines/attempts.py`` for the relay's messages, ``WebhookAttempt`` for
  partner webhooks), shown in the admin and the API.
- **after a failed try** (:func:`next_try`): a permanent error gives up at once; an internal error (ours,
  not the other side's) backs off on the internal errors alone and gives up after
  ``RELAY_MAX_INTERNAL_ERRORS``; a transient error backs off with jitter (``lines/backoff.py``, honouring
  ``Retry-After``) until the kind's bound: its attempts (``max_attempts``) or its time (the deadline each
  kind checks before a try, like a message's delivery window).
- **the sweep** (:func:`due`): what is pending, due and not touched lately, re-queued by ``lines/sweep.py``
  and the partner API's sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from ..errors import ExternalError
from .attempts import gives_up
from .backoff import next_attempt

TRANSIENT, PERMANENT, INTERNAL = "transient", "permanent", "internal"


def kind_of(exc: BaseException) -> str:
    """How a failed try failed: the other side's transient or permanent error, or an internal one (ours)."""
    if isinstance(exc, ExternalError):
        return PERMANENT if exc.permanent else TRANSIENT
    return INTERNAL


def next_try(
    kind: str,
    *,
    attempts: int = 0,
    internal_errors: int = 0,
    retry_after: float | None = None,
    max_attempts: int | None = None,
    now: datetime | None = None,
) -> datetime | None:
    """When to try again after a failed try, or None to give up.

    ``attempts`` and ``internal_errors`` count the tries so far, this one included. Internal errors back off
    on their own count, so their bound is a fixed time (2 + 4 + 8 + 16 s by default) however long the other
    side made the item wait before.
    """
    if kind == PERMANENT:
        return None
    if kind == INTERNAL:
        return None if gives_up(internal_errors) else next_attempt(internal_errors, now=now)
    if max_attempts is not None and attempts >= max_attempts:
        return None
    return next_attempt(attempts, retry_after=retry_after, now=now)


def claim(items: QuerySet, **changes) -> bool:
    """Take the item(s) matching ``items`` (a filter that only a free item matches) by writing ``changes``;
    False when another worker was first. One statement, so two workers never both win."""
    return bool(items.update(**changes))


def due(
    items: QuerySet,
    *,
    now: datetime | None = None,
    head_start: float = 0,
    none_is_due: bool = False,
    field: str = "next_attempt_at",
) -> QuerySet:
    """The pending ``items`` whose next try is due and that nobody touched for ``head_start`` seconds (the
    task queued at commit time goes first). ``none_is_due``: an item without a retry time is due too."""
    now = now or timezone.now()
    when = Q(**{f"{field}__lte": now})
    if none_is_due:
        when |= Q(**{f"{field}__isnull": True})
    items = items.filter(when)
    if head_start:
        items = items.filter(updated_at__lt=now - timedelta(seconds=head_start))
    return items
