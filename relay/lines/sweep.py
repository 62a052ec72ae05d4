"""Re-queue every line and notice that is due and not being worked on.

This is what makes Celery an accelerator only: a lost broker message, a task that never ran, or a worker
killed mid-delivery delays a message until the next sweep (``relay.tasks.sweep``, every
``RELAY_SWEEP_SECONDS``), and loses nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..models import Message, SalesforceNotice
from . import engine, wake

log = logging.getLogger(__name__)

BATCH = 5000  # lines (and messages with notices) woken per sweep at most; the next sweep wakes the rest


def sweep() -> dict:
    """Wake every due line and every message with due notices; the counts, by direction and "notices"."""
    now = timezone.now()
    head_start = 5  # seconds: the task queued at commit time goes first
    counts: dict[str, int] = {}  # by direction (a Message.Direction, a str) and "notices"
    for direction, lease in (
        (Message.Direction.INBOUND, "conversation__inbound_lease_until"),
        (Message.Direction.OUTBOUND, "conversation__outbound_lease_until"),
    ):
        pending = Message.objects.filter(direction=direction, status=Message.Status.PENDING)
        # A message behind its line's head that waits for a retry is not due: its line is not (the head goes
        # first), and counting such messages let one backed-off line with a long queue fill the cap below.
        waits_behind = pending.filter(
            conversation_id=OuterRef("conversation_id"),
            sequence__lt=OuterRef("sequence"),
            next_attempt_at__gt=now,
        )
        due = (
            engine.due(pending, now=now, head_start=head_start, none_is_due=True)
            .filter(Q(**{f"{lease}__isnull": True}) | Q(**{f"{lease}__lt": now}))
            .exclude(Exists(waits_behind))
            .order_by()  # one row per conversation: the model's ordering would add its columns to the DISTINCT
            .values_list("conversation_id", flat=True)
            .distinct()
        )
        ids = _not_requeued_lately(direction, list(due[:BATCH]))
        for conversation_id in ids:
            wake.line(conversation_id, direction, force=True)
        counts[direction] = len(ids)
    message_ids = _not_requeued_lately(
        "notices",
        list(
            engine.due(
                SalesforceNotice.objects.filter(status=SalesforceNotice.Status.PENDING),
                now=now,
                head_start=head_start,
            )
            .order_by()
            .values_list("message_id", flat=True)
            .distinct()[:BATCH]
        ),
    )
    for message_id in message_ids:
        wake.notices(message_id, force=True)
    counts["notices"] = len(message_ids)
    if any(counts.values()):
        log.info("sweep re-queued %s", counts)
    return counts


def _not_requeued_lately(kind: str, ids: list[int]) -> list[int]:
    """The lines (or messages with notices) not re-queued within a lease time, now marked as re-queued.

    When the workers are behind, a message waits in the broker longer than the sweep's 5 s head start;
    without this, every sweep would queue every waiting conversation again, and the backlog would grow
    by thousands of tasks each doing nothing but claim a lease. A task lost after its re-queue is
    re-queued again once the mark expires.
    """
    if not ids:
        return []
    keys = {f"relay:requeued:{kind}:{pk}": pk for pk in ids}
    try:
        marked = cache.get_many(list(keys))
        fresh = {key: pk for key, pk in keys.items() if key not in marked}
        cache.set_many(dict.fromkeys(fresh, 1), timeout=settings.RELAY_LEASE_SECONDS)
    except Exception:  # noqa: BLE001 - without the cache, re-queue everything: a spare task beats a lost one
        log.warning("sweep: the cache is unavailable; re-queueing every waiting line", exc_info=True)
        return ids
    return list(fresh.values())
