"""Wake a worker for a line, or for a message's Salesforce notices: the one place outside relay/tasks.py that
names the Celery tasks.

The tasks run the relay (tasks → pipeline → desks and providers → ... → the code that stores a message and
wakes its line), so they are looked up when a worker is woken, not imported with this module. Waking is only
an accelerator: the rows say what is left to do, and the sweeper wakes a line whose task was lost.
"""

from __future__ import annotations

from django.db import transaction


def inbound_line(conversation_id: int) -> None:
    _tasks().deliver_inbound.delay(conversation_id)


def outbound_line(conversation_id: int) -> None:
    _tasks().deliver_outbound.delay(conversation_id)


def line(conversation_id: int, direction: str) -> None:
    (inbound_line if direction == "in" else outbound_line)(conversation_id)


def notices(message_id: int) -> None:
    _tasks().notify_salesforce.delay(message_id)


def after_commit(wake, *args) -> None:
    """``wake(*args)`` once the current transaction commits (at once outside one): a worker must find the rows."""
    transaction.on_commit(lambda: wake(*args))


def _tasks():
    from relay import tasks  # the one import made at call time: relay.tasks imports the whole relay

    return tasks
