"""The hot statements prepared on PostgreSQL (portal/sql.py, issue 16): a statement run often on a connection is
prepared there and then run as prepared, in the caller's transaction, seen by Django's execute wrappers (the
benchmark's statement counter); a new connection or a rollback (psycopg then deallocates everything) costs
nothing but a new preparation; with ``DATABASE_PREPARED_STATEMENTS`` off nothing is prepared.

The lease's claim and release (relay/lines/leases.py) stand for every hot statement: the same cursor runs them
all, and each one's own tests run it on PostgreSQL with its parameters bound by the server.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction

from portal.sql import PREPARE_AFTER, hot_cursor
from relay.lines import leases
from relay.models import Conversation
from tests.factories import make_account, make_sender, make_tenant

POSTGRES = connection.vendor == "postgresql"
postgres_only = pytest.mark.skipif(not POSTGRES, reason="prepared statements are PostgreSQL's")


@pytest.fixture
def conversation(transactional_db):
    account = make_account(make_tenant(welcome_text=""))
    sender = make_sender(account, "+41793026731")
    connection.close()  # a connection of its own: nothing prepared on it by an earlier test
    yield Conversation.objects.create(tenant=account.tenant, sender=sender, customer="+385919998888")
    connection.close()  # and none left for a later one


def claim_and_release(conversation: Conversation, times: int = 1) -> None:
    for _ in range(times):
        lease = leases.claim(conversation.pk, "in")
        assert lease is not None
        lease.release()


def as_prepared(sql: str) -> str:
    """The statement as PostgreSQL keeps it: psycopg numbers the placeholders."""
    numbers = iter(range(1, sql.count("%s") + 1))
    return re.sub("%s", lambda _: f"${next(numbers)}", sql)


CLAIM, RELEASE = as_prepared(leases.claim_sql("in")), as_prepared(leases.release_sql("in"))


def prepared() -> dict[str, int]:
    """This connection's prepared statements and how often each ran as prepared."""
    with connection.cursor() as cursor:  # Django's own cursor, which never prepares: not in its own answer
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


@postgres_only
def test_a_statement_run_often_is_prepared_then_run_as_prepared_and_still_seen_by_the_wrappers(
    conversation, settings
):
    settings.DATABASE_PREPARED_STATEMENTS = True
    claim_and_release(conversation, PREPARE_AFTER)
    assert prepared() == {}  # psycopg prepares a statement at its next run
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        claim_and_release(conversation)
        assert prepared() == {CLAIM: 1, RELEASE: 1}
        claim_and_release(conversation, 3)
        assert prepared() == {CLAIM: 4, RELEASE: 4}  # run as the prepared statements, not parsed again
    hot = [sql for sql in seen if "pg_prepared_statements" not in sql]
    assert hot == [leases.claim_sql("in"), leases.release_sql("in")] * 4


@postgres_only
def test_it_runs_in_the_caller_s_transaction_and_a_rollback_or_a_new_connection_only_prepares_again(
    conversation, settings
):
    settings.DATABASE_PREPARED_STATEMENTS = True
    claim_and_release(conversation, PREPARE_AFTER + 1)
    assert set(prepared()) == {CLAIM, RELEASE}
    with pytest.raises(RuntimeError), transaction.atomic():
        assert leases.claim(conversation.pk, "in") is not None  # the prepared one
        raise RuntimeError("the caller's transaction fails")
    conversation.refresh_from_db()
    assert conversation.inbound_lease_until is None  # the claim went with the transaction
    # psycopg deallocates every prepared statement with a rollback (DEALLOCATE ALL), and knows it: the next runs
    # neither fail on a statement gone nor stay unprepared.
    claim_and_release(conversation, PREPARE_AFTER + 1)
    assert set(prepared()) == {CLAIM, RELEASE}
    connection.close()  # as CONN_MAX_AGE or a failed health check does
    claim_and_release(conversation)  # a new backend: nothing prepared there, nothing assumed
    assert prepared() == {}
    claim_and_release(conversation, PREPARE_AFTER)
    assert set(prepared()) == {CLAIM, RELEASE}


@postgres_only
def test_with_the_setting_off_nothing_is_prepared(conversation, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False  # behind PgBouncer in transaction mode before 1.21
    claim_and_release(conversation, 3 * PREPARE_AFTER)
    assert prepared() == {}
    conversation.refresh_from_db()
    assert conversation.inbound_lease_until is None  # the statements ran all the same


@pytest.mark.django_db
def test_with_the_setting_off_or_on_sqlite_it_is_django_s_own_cursor(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    with hot_cursor() as hot, connection.cursor() as own:
        assert type(hot.cursor) is type(own.cursor)
    if not POSTGRES:
        settings.DATABASE_PREPARED_STATEMENTS = True
        with hot_cursor() as hot, connection.cursor() as own:
            assert type(hot.cursor) is type(own.cursor)
