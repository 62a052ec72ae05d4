"""Celery tasks. Each takes an id, reads the truth from the database and is safe to run twice.

Their names are spelt out (``name="relay.tasks..."``): queued tasks and the beat schedule refer to them by
name, so moving the code they run never strands a task. relay/lines/wake.py is the one place that wakes them.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from .inbound import deliver as inbound
from .lines import pipeline, wake
from .lines import sweep as lines_sweep
from .models import Message
from .outbound import notices, template_history
from .outbound import send as outbound

log = logging.getLogger(__name__)


# A line whose next message was stored while its task worked (a conversation's messages follow one another)
# runs again in the same task, this many times at most, instead of a new task through the broker: the publish
# and the worker's receipt and late acknowledgement of a task cost more CPU than the run itself (issue 16).
# After that it goes to the back of the queue, so one busy conversation cannot keep a thread to itself.
LINE_ROUNDS = 10


def _retry_at(task, args: tuple, due) -> None:
    # Run eagerly (tests on embedded defaults), a task cannot wait for its eta; the sweeper retries instead.
    if due is None or task.app.conf.task_always_eager:
        return
    if due <= timezone.now():
        task.apply_async(args)  # no eta: a worker holds an eta task in its timer; this one is due already
    else:
        task.apply_async(args, eta=due)


def _run(task, args: tuple, work, line: tuple[str, int] | None = None) -> None:
    """Do the work and come back when it says; if the work itself raises (the database went away, say: the
    delivery loops keep a message's own errors to themselves), log it and leave the line to the sweeper,
    which re-queues it once its lease is free. The task ends cleanly either way: run eagerly, inside a
    webhook's commit, it must not turn a stored message into a 500.

    ``line`` (direction, conversation id): when the work is due again at once, the task takes the line's
    queued mark as a wake would (relay/lines/wake.py) and runs it again itself; a mark already taken means a
    task woken since is queued for the line and reads that work, so nothing is queued here."""
    for rounds_left in range(LINE_ROUNDS - 1, -1, -1):
        try:
            due = work()
        except Exception:  # noqa: BLE001 - logged; the rows say what is left to do
            log.exception("%s%s raised; the sweeper re-queues the work", task.name, args)
            return
        if line is None or rounds_left == 0 or due is None or due > timezone.now():
            break
        if not wake.again(*line):
            return
    _retry_at(task, args, due)


@shared_task(name="relay.tasks.deliver_inbound", ignore_result=True)
def deliver_inbound(conversation_id: int) -> None:
    _run(
        deliver_inbound,
        (conversation_id,),
        lambda: pipeline.run(conversation_id, Message.Direction.INBOUND, inbound.deliver, inbound.on_failed),
        (Message.Direction.INBOUND, conversation_id),
    )


@shared_task(name="relay.tasks.deliver_outbound", ignore_result=True)
def deliver_outbound(conversation_id: int) -> None:
    _run(
        deliver_outbound,
        (conversation_id,),
        lambda: pipeline.run(
            conversation_id, Message.Direction.OUTBOUND, outbound.send, outbound.on_send_failed
        ),
        (Message.Direction.OUTBOUND, conversation_id),
    )


@shared_task(name="relay.tasks.notify_salesforce", ignore_result=True)
def notify_salesforce(message_id: int) -> None:
    _run(notify_salesforce, (message_id,), lambda: notices.notify(message_id))


@shared_task(name="relay.tasks.sweep", ignore_result=True)
def sweep() -> dict:
    """Re-queue every line, notice and template-history import that is due and not being worked on
    (relay/lines/sweep.py, relay/outbound/template_history.py)."""
    counts = lines_sweep.sweep()
    counts["template_history"] = template_history.sweep()
    return counts
