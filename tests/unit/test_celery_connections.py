"""Workers keep their database connection between tasks, and check it before each one as Django does
before a request (Celery's own default is a new connection per task)."""

from types import SimpleNamespace

import pytest
from django.db import connection

from portal.celery import app, check_database_connection


def test_the_worker_reuses_its_connection_for_many_tasks():
    assert app.conf.get("CELERY_DB_REUSE_MAX") >= 100


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_its_age_is_replaced_before_the_next_task():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "Django never closes an in-memory SQLite database (the unit tier's); the full suite checks"
        )
    connection.ensure_connection()
    connection.close_at = 0  # older than CONN_MAX_AGE
    check_database_connection(task=SimpleNamespace(request=SimpleNamespace(is_eager=False)))
    assert connection.connection is None  # closed: the task's first query opens a fresh one


@pytest.mark.django_db(transaction=True)
def test_a_fresh_connection_is_kept():
    connection.ensure_connection()
    kept = connection.connection
    connection.close_at = None  # no age limit
    check_database_connection(task=SimpleNamespace(request=SimpleNamespace(is_eager=False)))
    assert connection.connection is kept


@pytest.mark.django_db
def test_an_eager_task_leaves_its_callers_connection_alone():
    connection.ensure_connection()
    kept = connection.connection
    connection.close_at = 0
    check_database_connection(task=SimpleNamespace(request=SimpleNamespace(is_eager=True)))
    assert connection.connection is kept
