"""Celery tasks. Each takes an id, reads the truth from the database and is safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from . import notices, outbound, pipeline
from .inbound import deliver as inbound
from .models import Message, SalesforceNotice

log = logging.getLogger(__name__)


def _retry_at(task, args: tuple, due) -> None:
    # Run eagerly (tests on embedded defaults), a task cannot wait for its eta; the sweeper retries instead.
    if due is not None and not task.app.conf.task_always_eager:
        task.apply_async(args, eta=due)


def _run(task, args: tuple, work) -> None:
    """Do the work and come back when it says; if the work itself raises (the database went away, say: the
    delivery loops keep a message's own errors to themselves), log it and leave the line to the sweeper,
    which re-queues it once its lease is free. The task ends cleanly either way: run eagerly, inside a
    webhook's commit, it must not turn a stored message into a 500."""
    try:
        due = work()
    except Exception:  # noqa: BLE001 - logged; the rows say what is left to do
        log.exception("%s%s raised; the sweeper re-queues the work", task.name, args)
        return
    _retry_at(task, args, due)


@shared_task(ignore_result=True)
def deliver_inbound(conversation_id: int) -> None:
    _run(
        deliver_inbound,
        (conversation_id,),
        lambda: pipeline.run(conversation_id, Message.Direction.INBOUND, inbound.deliver, inbound.on_failed),
    )


@shared_task(ignore_result=True)
def deliver_outbound(conversation_id: int) -> None:
    _run(
        deliver_outbound,
        (conversation_id,),
        lambda: pipeline.run(
            conversation_id, Message.Direction.OUTBOUND, outbound.send, outbound.on_send_failed
        ),
    )


@shared_task(ignore_result=True)
def notify_salesforce(message_id: int) -> None:
    _run(notify_salesforce, (message_id,), lambda: notices.notify(message_id))


@shared_task(ignore_result=True)
def sweep() -> dict:
    """Re-queue every line and notice that is due and not being worked on.

    This is what makes Celery an accelerator only: a lost broker message, a task that never ran, or a
    worker killed mid-delivery delays a message until the next sweep, and loses nothing.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=5)  # give the task queued at commit time a head start
    counts = {}
    for direction, task, lease in (
        (Message.Direction.INBOUND, deliver_inbound, "conversation__inbound_lease_until"),
        (Message.Direction.OUTBOUND, deliver_outbound, "conversation__outbound_lease_until"),
    ):
        due = (
            Message.objects.filter(direction=direction, status=Message.Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), updated_at__lt=stale)
            .filter(Q(**{f"{lease}__isnull": True}) | Q(**{f"{lease}__lt": now}))
            .values_list("conversation_id", flat=True)
            .distinct()
        )
        ids = _not_requeued_lately(direction, list(due[:5000]))
        for conversation_id in ids:
            task.delay(conversation_id)
        counts[direction] = len(ids)
    message_ids = _not_requeued_lately(
        "notices",
        list(
            SalesforceNotice.objects.filter(
                status=SalesforceNotice.Status.PENDING, next_attempt_at__lte=now, updated_at__lt=stale
            )
            .values_list("message_id", flat=True)
            .distinct()[:5000]
        ),
    )
    for message_id in message_ids:
        notify_salesforce.delay(message_id)
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
