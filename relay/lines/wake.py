"""Wake a worker for a line, or for a message's Salesforce notices: the one place outside relay/tasks.py that
names the Celery tasks.

The tasks run the relay (tasks → pipeline → desks and providers → ... → the code that stores a message and
wakes its line), so they are looked up when a worker is woken, not imported with this module. Waking is only
an accelerator: the rows say what is left to do, and the sweeper wakes a line whose task was lost.

**One task per line at a time is enough.** A wake while a task for the same line (or the same conversation's
notices) is queued or working adds nothing: that task reads what is pending before it ends. A mark (``SET NX``,
expiring after ``RELAY_LEASE_SECONDS``; in the broker's Redis, taken with the task's push in one round trip, or
in the shared cache where Celery publishes: portal/fast_publish.py) says so; the task removes it
(:func:`finished`) once its work is done and *then* looks for pending work one last time (the pipeline's look
after releasing its lease, the notices' last claim). So work committed before a skipped wake is read by that
last look, and work committed after the mark is gone wakes a new task (a burst of 30 messages in one
conversation is a few tasks, not 30 that mostly find the lease taken). A task that finds the lease taken leaves
the mark to the holder. The sweeper wakes with ``force``; without the cache, every wake queues a task.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import transaction

from portal import fast_publish, queueing, shared_cache

log = logging.getLogger(__name__)


def inbound_line(conversation_id: int, *, force: bool = False) -> None:
    _wake(_tasks().deliver_inbound, (conversation_id,), "in", conversation_id, force)


def outbound_line(conversation_id: int, *, force: bool = False) -> None:
    _wake(_tasks().deliver_outbound, (conversation_id,), "out", conversation_id, force)


def line(conversation_id: int, direction: str, *, force: bool = False) -> None:
    (inbound_line if direction == "in" else outbound_line)(conversation_id, force=force)


def notices(message_id: int, conversation_id: int | None = None, *, force: bool = False) -> None:
    """Wake the sender of the notices of ``message_id``'s conversation (one task sends them all).

    The task starts ``RELAY_NOTICES_GATHER_SECONDS`` later: a message's Delivered and Read, and the reports of
    the conversation's other messages, come within moments of each other, and while the task waits they join
    it (their wakes find it queued) and go up in one acknowledgement call (up to 25). Sent at once, a fast
    worker ran a task and a call for nearly every report. The sweeper's wakes (``force``) do not wait."""
    gather = 0.0 if force else settings.RELAY_NOTICES_GATHER_SECONDS
    _wake(_tasks().notify_salesforce, (message_id,), "notices", conversation_id, force, gather)


def finished(kind: str, conversation_id: int) -> None:
    """The task for ``kind`` ("in", "out", "notices") of the conversation is done but for its last look: later
    wakes queue another."""
    try:
        fast = _publisher()
        if fast is not None:
            fast.clear(_broker_mark(kind, conversation_id))
        else:
            shared_cache.delete(_mark(kind, conversation_id))
    except Exception:  # noqa: BLE001 - the mark expires on its own; meanwhile the sweeper wakes the line
        log.warning("wake: could not clear the queued mark of %s %s", kind, conversation_id, exc_info=True)


def again(kind: str, conversation_id: int) -> bool:
    """A task that found its line due again after its last look takes the line's mark as a wake would: True
    when it is to run the line again itself, False when a task woken since is queued for it (and reads the
    work)."""
    try:
        fast = _publisher()
        if fast is not None:
            return fast.take(_broker_mark(kind, conversation_id))
    except Exception:  # noqa: BLE001 - without the broker's Redis, run again: as a wake without marks would
        return True
    return _first(kind, conversation_id)


def _wake(
    task, args: tuple, kind: str, conversation_id: int | None, force: bool, countdown: float = 0.0
) -> None:
    """Queue ``task(*args)`` unless a task for the conversation's ``kind`` is queued or working (the mark), or
    whatever the mark says when ``force`` or without a conversation."""
    marked = not force and conversation_id is not None
    fast = _publisher()
    if fast is not None:
        # The mark in the broker's Redis, taken with the push in one round trip (portal/fast_publish.py).
        mark = _broker_mark(kind, conversation_id) if marked and conversation_id is not None else None
        try:
            fast.publish(task, args, countdown, unless_marked=mark)
            return
        except Exception as exc:  # noqa: BLE001 - Celery's publish retries as configured; a task per wake meanwhile
            log.warning(
                "wake: could not publish %s%s to Redis (%s); Celery's publish retries",
                task.name,
                args,
                exc.__class__.__name__,
                exc_info=not isinstance(exc, redis.RedisError),  # anything but Redis's own errors is a defect
            )
            marked = False
    if not marked or conversation_id is None or _first(kind, conversation_id):
        # A wake runs once the work's rows are committed: a broker that refuses it is logged, not raised
        # (portal/queueing.py), and the sweeper queues the line.
        queueing.publish(task, args, countdown)


def _first(kind: str, conversation_id: int) -> bool:
    """True when no task for it is queued (and mark one as queued now), the mark in the shared cache."""
    try:
        # The process's one client (portal/shared_cache.py): a wake per stored message is on the hot path.
        return shared_cache.add(_mark(kind, conversation_id), 1, timeout=settings.RELAY_LEASE_SECONDS)
    except Exception:  # noqa: BLE001 - without the cache, a task per wake, as before
        return True


def _publisher() -> fast_publish.Publisher | None:
    """The wakes' own publisher when it is in use (a Redis broker, tasks not run eagerly): the marks then live in
    the broker's Redis beside the queue, else in the shared cache."""
    return fast_publish.active(_tasks().deliver_inbound.app)


def _mark(kind: str, conversation_id: int) -> str:
    return f"relay:queued:{kind}:{conversation_id}"


def _broker_mark(kind: str, conversation_id: int) -> fast_publish.Mark:
    return fast_publish.Mark(_mark(kind, conversation_id), int(settings.RELAY_LEASE_SECONDS))


def after_commit(wake, *args) -> None:
    """``wake(*args)`` once the current transaction commits (at once outside one): a worker must find the rows."""
    transaction.on_commit(lambda: wake(*args))


def _tasks():
    from relay import tasks  # the one import made at call time: relay.tasks imports the whole relay

    return tasks
