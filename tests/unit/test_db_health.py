"""The web's database health check (portal/db_health.py): skipped for a connection that ended a request cleanly
a moment ago, made as Django makes it otherwise. The requests are Django's own signals, sent as its handler
sends them; what is counted is Django's health check (``is_usable``) on the request's first query."""

import time

import pytest
from django.core.signals import request_finished, request_started
from django.db import connection, connections

from portal import db_health


@pytest.fixture
def checks():
    """A reused connection with health checks on; the list of health checks made."""
    connection.ensure_connection()
    wrapper = connections["default"]
    made: list[bool] = []
    usable = type(wrapper).is_usable

    def counted(self):
        made.append(True)
        return usable(self)

    enabled, close_at = wrapper.health_check_enabled, wrapper.close_at
    wrapper.is_usable = counted.__get__(wrapper)
    wrapper.health_check_enabled = True
    wrapper.close_at = None  # no age limit: the connection is reused
    try:
        yield made
    finally:
        del wrapper.is_usable
        wrapper.health_check_enabled, wrapper.close_at = enabled, close_at
        wrapper.errors_occurred = False


def request(error: bool = False) -> None:
    request_started.send(sender=None)
    with connection.cursor() as cursor:  # the request's first query
        cursor.execute("SELECT 1")
    if error:
        connection.errors_occurred = True  # what Django's wrapper notes on a database error
    request_finished.send(sender=None)


@pytest.mark.django_db(transaction=True)
def test_a_request_right_after_a_clean_one_is_not_checked(checks):
    request()
    checks.clear()
    request()
    request()
    assert checks == []


@pytest.mark.django_db(transaction=True)
def test_a_connection_idle_longer_than_the_window_is_checked(checks, settings):
    settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0
    request()
    setattr(connection, db_health._ENDED_OK_AT, time.monotonic() - 1.5)  # idle 1.5 s since
    checks.clear()
    request()
    assert checks == [True]


@pytest.mark.django_db(transaction=True)
def test_after_a_database_error_the_connection_is_checked_before_reuse(checks):
    request()
    checks.clear()
    request(error=True)
    request()
    # Checked before its reuse: by Django at the end of the failed request (which closes a broken one), and
    # again at the next one's first query when our mark of the request's end ran before Django's check.
    assert checks in ([True], [True, True])


@pytest.mark.django_db(transaction=True)
def test_a_window_of_zero_checks_every_request(checks, settings):
    settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = 0
    request()
    checks.clear()
    request()
    request()
    assert checks == [True, True]


@pytest.mark.django_db(transaction=True)
def test_a_fresh_connection_is_never_checked_and_its_first_request_counts_as_clean(checks):
    connection.close()  # e.g. closed at the end of the last request
    if connection.connection is not None:
        pytest.skip(
            "Django never closes an in-memory SQLite database (the unit tier's); the full suite checks"
        )
    request()
    checks.clear()
    request()
    assert checks == []


@pytest.mark.django_db(transaction=True)
def test_a_server_gone_within_the_window_fails_one_request_then_the_next_reconnects(checks):
    if connection.vendor != "postgresql":
        pytest.skip("ends the connection's PostgreSQL backend")
    import psycopg
    from django.db import OperationalError

    request()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    request_started.send(sender=None)
    with pytest.raises(OperationalError), connection.cursor() as cursor:  # a 503 (portal/unavailable.py)
        cursor.execute("SELECT 1")
    request_finished.send(sender=None)  # Django finds the connection broken and closes it
    assert connection.connection is None
    request()
    assert connection.connection.info.backend_pid != pid


class _WorkerTask:
    """What the signals carry about a task a worker runs (``task.request.is_eager``)."""

    def __init__(self, eager: bool = False) -> None:
        self.request = type("Request", (), {"is_eager": eager})()


def task(error: bool = False, eager: bool = False) -> None:
    """One task as a worker runs it: its signals around its first query, as Celery sends them."""
    from celery.signals import task_postrun, task_prerun

    sender = _WorkerTask(eager)
    task_prerun.send(sender=sender, task=sender, task_id="t", args=(), kwargs={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if error:
        connection.errors_occurred = True
    task_postrun.send(
        sender=sender, task=sender, task_id="t", args=(), kwargs={}, retval=None, state="SUCCESS"
    )


@pytest.mark.django_db(transaction=True)
def test_a_task_right_after_a_clean_one_is_not_checked(checks):
    """A worker checked its connection before every task (portal/celery.py: close_old_connections), a round
    trip per task: a task that ended cleanly a moment ago leaves it unchecked, as a request does."""
    setattr(connection, db_health._ENDED_OK_AT, None)  # nothing ended on it lately
    task()
    assert checks == [True]
    checks.clear()
    task()
    task()
    assert checks == []


@pytest.mark.django_db(transaction=True)
def test_a_task_after_a_database_error_or_a_long_idle_is_checked(checks, settings):
    settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0
    task()
    checks.clear()
    task(error=True)
    task()
    assert checks  # the connection that saw the error is checked before it serves another task
    checks.clear()
    task()
    setattr(connection, db_health._ENDED_OK_AT, time.monotonic() - 1.5)
    task()
    assert checks == [True]


@pytest.mark.django_db(transaction=True)
def test_an_eager_task_marks_nothing(checks):
    """Run in its caller (a request, a test), a task's end is not its connection's: the request's is."""
    setattr(connection, db_health._ENDED_OK_AT, None)
    task(eager=True)
    assert getattr(connection, db_health._ENDED_OK_AT) is None
