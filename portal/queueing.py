"""Queue a Celery task for work whose rows are already committed, without failing the caller when the broker
refuses it.

Every task of the relay only speeds up work its rows record (a pending message, a notice, a partner delivery, a
transcript entry, a template import), and a sweeper queues that work when its task is lost. So a broker that is
down when the task is queued (Redis unreachable, Celery's publish retried and gave up) is logged, not raised: a
request whose rows are stored must not answer 500 for it (a provider would retry and send the message again, a
partner would see an error for a change that was made). :func:`after_commit` is how the relay queues such a task
from inside a transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)


def publish(task: Any, args: tuple, countdown: float = 0, *, kwargs: dict | None = None) -> bool:
    """Celery's own publish of ``task(*args, **kwargs)`` (in ``countdown`` seconds); False, logged, when the broker
    refused it (its sweeper queues the work)."""
    try:
        if countdown > 0 and kwargs:
            task.apply_async(args, kwargs, countdown=countdown)
        elif countdown > 0:
            task.apply_async(args, countdown=countdown)
        else:
            task.delay(*args, **(kwargs or {}))
    except Exception:  # noqa: BLE001 - the broker is down: the rows are stored and the sweeper queues the work
        log.warning("could not queue %s%s; its sweeper queues the work", task.name, args, exc_info=True)
        return False
    return True


def after_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """:func:`publish` ``task(*args, **kwargs)`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish(task, args, kwargs=kwargs))
