"""The database health check of web requests and worker tasks, skipped for a connection busy a moment ago.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` on the first query of every request that reuses a
connection: a PostgreSQL round trip per webhook, 5-7% of a gunicorn worker's CPU per customer webhook under the
benchmark's bursts (``python -m bench.web_parts``: 0.26-0.45 ms of 5.1-6.5 ms). The check is there for a
connection that died while it sat idle (PostgreSQL restarted, an idle timeout, the network). A connection that
ended a request without error less than ``DB_HEALTH_CHECK_AFTER_IDLE_SECONDS`` ago (default 1 s) is not
checked: under load every request reuses such a connection, and a server that went away in that second fails
the next request as it fails the requests in flight, with a 503 the provider retries (nothing stored;
portal/unavailable.py), and Django closes the connection at the end of that request. A connection idle
longer, or one that saw a database error, is checked as before.

A request's end marks a connection (``request_finished``), and so does a task's in a Celery worker
(``task_postrun``: portal/celery.py closes and checks connections before each task as Django does before each
request), where the check was a round trip per task, with a task per message or two; a server gone within the
window fails that task, whose work the sweeper queues again (relay/tasks.py), and the connection, marked by the
error, is checked before the next. The listener checks as Django does. The check itself is replaced on each
connection wrapper when it connects, not reordered around Django's own ``request_started`` receiver (Django's
test client disconnects and reconnects that one).
"""

from __future__ import annotations

import functools
import time

from celery.signals import task_postrun
from django.conf import settings
from django.core.signals import request_finished
from django.db import connections
from django.db.backends.signals import connection_created

# On the connection wrapper: when it last ended a request without error (time.monotonic()), or None.
_ENDED_OK_AT = "_switchboard_ended_ok_at"


def _check_unless_recent(conn) -> None:
    """Django's ``close_if_health_check_failed``, skipped for a connection that ended a request cleanly less
    than the window ago."""
    window = settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS
    ended = getattr(conn, _ENDED_OK_AT, None)
    if (
        window > 0
        and ended is not None
        and not conn.health_check_done
        and not conn.errors_occurred
        and time.monotonic() - ended < window
    ):
        conn.health_check_done = True
        return
    type(conn).close_if_health_check_failed(conn)


def _on_connection(sender, connection, **kwargs) -> None:
    # Sent on every (re)connection of the same wrapper: replaced once.
    if "close_if_health_check_failed" not in vars(connection):
        connection.close_if_health_check_failed = functools.partial(_check_unless_recent, connection)


def note_clean_end(**kwargs) -> None:
    """When each open connection ended this request without error (None: check it before its next use)."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        clean = conn.connection is not None and not conn.errors_occurred
        setattr(conn, _ENDED_OK_AT, now if clean else None)


def run_eagerly(task) -> bool:
    """Whether a task of Celery's signals ran in its caller (a request, a test) rather than in a worker."""
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


def note_task_end(task=None, **kwargs) -> None:
    """:func:`note_clean_end` for a task a worker ran (one run eagerly is part of its caller's request)."""
    if not run_eagerly(task):
        note_clean_end()


def install() -> None:
    connection_created.connect(_on_connection, dispatch_uid="portal.db_health.check")
    request_finished.connect(note_clean_end, dispatch_uid="portal.db_health.note")
    task_postrun.connect(note_task_end, dispatch_uid="portal.db_health.note_task", weak=False)
