"""Celery tasks. Each takes an id, reads the truth from the database and is safe to run twice.

Their names are spelt out (``name="relay.tasks..."``): queued tasks and the beat schedule refer to them by
name, so moving the code they run never strands a task. relay/lines/wake.py is the one place that wakes them.
"""

from __future__ import annotations

import logging

from celery import shared_task

from .inbound import deliver as inbound
from .lines import pipeline
from .lines import sweep as lines_sweep
from .models import Message
from .outbound import notices, template_history
from .outbound import send as outbound

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


@shared_task(name="relay.tasks.deliver_inbound", ignore_result=True)
def deliver_inbound(conversation_id: int) -> None:
    _run(
        deliver_inbound,
        (conversation_id,),
        lambda: pipeline.run(conversation_id, Message.Direction.INBOUND, inbound.deliver, inbound.on_failed),
    )


@shared_task(name="relay.tasks.deliver_outbound", ignore_result=True)
def deliver_outbound(conversation_id: int) -> None:
    _run(
        deliver_outbound,
        (conversation_id,),
        lambda: pipeline.run(
            conversation_id, Message.Direction.OUTBOUND, outbound.send, outbound.on_send_failed
        ),
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
