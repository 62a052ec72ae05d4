"""Wake a worker for a line, or for a message's Salesforce notices: the one place outside relay/tasks.py that
names the Celery tasks.

The tasks run the relay (tasks → pipeline → desks and providers → ... → the code that stores a message and
wakes its line), so they are looked up when a worker is woken, not imported with this module. Waking is only
an accelerator: the rows say what is left to do, and the sweeper wakes a line whose task was lost.

**One task per line at a time is enough.** A wake while a task for the same line (or the same conversation's
notices) is queued or working adds nothing: that task reads what is pending before it ends. A mark in the
shared cache (``SET NX``, expiring after ``RELAY_LEASE_SECONDS``) says so; the task removes it
(:func:`finished`) once its work is done and *then* looks for pending work one last time (the pipeline's look
after releasing its lease, the notices' last claim). So work committed before a skipped wake is read by that
last look, and work committed after the mark is gone wakes a new task (a burst of 30 messages in one
conversation is a few tasks, not 30 that mostly find the lease taken). A task that finds the lease taken leaves
the mark to the holder. The sweeper wakes with ``force``; without the cache, every wake queues a task.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from portal import fast_publish, shared_cache

log = logging.getLogger(__name__)


def inbound_line(conversation_id: int, *, force: bool = False) -> None:
    if _first("in", conversation_id, force):
        fast_publish.send(_tasks().deliver_inbound, (conversation_id,))


def outbound_line(conversation_id: int, *, force: bool = False) -> None:
    if _first("out", conversation_id, force):
        fast_publish.send(_tasks().deliver_outbound, (conversation_id,))


def line(conversation_id: int, direction: str, *, force: bool = False) -> None:
    (inbound_line if direction == "in" else outbound_line)(conversation_id, force=force)


def notices(message_id: int, conversation_id: int | None = None, *, force: bool = False) -> None:
    """Wake the sender of the notices of ``message_id``'s conversation (one task sends them all).

    The task starts ``RELAY_NOTICES_GATHER_SECONDS`` later: a message's Delivered and Read, and the reports of
    the conversation's other messages, come within moments of each other, and while the task waits they join
    it (their wakes find it queued) and go up in one acknowledgement call (up to 25). Sent at once, a fast
    worker ran a task and a call for nearly every report. The sweeper's wakes (``force``) do not wait."""
    if conversation_id is None or _first("notices", conversation_id, force):
        gather = 0.0 if force else settings.RELAY_NOTICES_GATHER_SECONDS
        fast_publish.send(_tasks().notify_salesforce, (message_id,), countdown=gather)


def finished(kind: str, conversation_id: int) -> None:
    """The task for ``kind`` ("in", "out", "notices") of the conversation is done but for its last look: later
    wakes queue another."""
    try:
        shared_cache.delete(_mark(kind, conversation_id))
    except Exception:  # noqa: BLE001 - the mark expires on its own; meanwhile the sweeper wakes the line
        log.warning("wake: could not clear the queued mark of %s %s", kind, conversation_id, exc_info=True)


def again(kind: str, conversation_id: int) -> bool:
    """A task that found its line due again after its last look takes the line's mark as a wake would: True
    when it is to run the line again itself, False when a task woken since is queued for it (and reads the
    work)."""
    return _first(kind, conversation_id, force=False)


def _first(kind: str, conversation_id: int, force: bool) -> bool:
    """True when no task for it is queued (and mark one as queued now)."""
    if force:
        return True
    try:
        # The process's one client (portal/shared_cache.py): a wake per stored message is on the hot path.
        return shared_cache.add(_mark(kind, conversation_id), 1, timeout=settings.RELAY_LEASE_SECONDS)
    except Exception:  # noqa: BLE001 - without the cache, a task per wake, as before
        return True


def _mark(kind: str, conversation_id: int) -> str:
    return f"relay:queued:{kind}:{conversation_id}"


def after_commit(wake, *args) -> None:
    """``wake(*args)`` once the current transaction commits (at once outside one): a worker must find the rows."""
    transaction.on_commit(lambda: wake(*args))


def _tasks():
    from relay import tasks  # the one import made at call time: relay.tasks imports the whole relay

    return tasks
