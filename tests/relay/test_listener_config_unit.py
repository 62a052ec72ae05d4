"""The listener's database jobs are configuration units of work (relay/salesforce/pubsub.py ``DatabaseThreads``):
the listener runs outside any request or Celery task, so without a unit every configuration lookup of a
batch read the version token from the shared cache again."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.db import connection

from portal import shared_cache
from relay.salesforce.pubsub import DatabaseThreads
from tenants import config_cache, lookups
from tenants.models import ProviderAccount
from tests.factories import make_account, make_tenant

# The jobs run on the pool's own thread and connection: the rows must be committed for it to see them.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token_reads(monkeypatch):
    reads: list[str] = []
    real = shared_cache.get

    def counting(key):
        if key == config_cache.VERSION_KEY:
            reads.append(key)
        return real(key)

    monkeypatch.setattr(shared_cache, "get", counting)
    return reads


@pytest.fixture
def db():
    threads = DatabaseThreads(1, name="unit-db")
    yield threads
    threads.shutdown()


def test_a_batch_reads_the_token_once_and_sees_a_change_committed_before_the_next(db, token_reads):
    config_cache.clear_local()
    account = make_account(make_tenant())
    cache.set(config_cache.VERSION_KEY, uuid.uuid4().hex, timeout=None)

    def batch() -> list[bool]:
        # A batch's events each look their configuration up; three lookups stand for them.
        return [lookups.webhook_account(account.provider, account.webhook_key) is not None for _ in range(3)]

    assert db.run(batch) == [True, True, True]
    assert len(token_reads) == 1

    # The account is disabled between two batches; once committed, the queryset's hook publishes a new token.
    ProviderAccount.objects.filter(pk=account.pk).update(active=False)
    assert db.run(batch) == [False, False, False]
    assert len(token_reads) == 2


def test_a_batch_does_not_keep_the_token_of_the_one_before(db, token_reads):
    """A change committed by another process, with nothing cleared in this one, is seen by the next batch:
    the token a batch read ends with it, even when the batch raised."""
    config_cache.clear_local()
    account = make_account(make_tenant())
    cache.set(config_cache.VERSION_KEY, uuid.uuid4().hex, timeout=None)

    def lookup() -> str:
        return lookups.webhook_account(account.provider, account.webhook_key).name

    def failing_batch() -> None:
        lookup()
        raise RuntimeError("a handler failed")

    assert db.run(lookup) == account.name
    with pytest.raises(RuntimeError):
        db.run(failing_batch)
    with connection.cursor() as cursor:  # the row changes under this process: no signal, no hook here
        cursor.execute(
            f"UPDATE {ProviderAccount._meta.db_table} SET name = %s WHERE id = %s", ["Renamed", account.pk]
        )
    assert db.run(lookup) == account.name  # the same token: the entry this process loaded is still good
    cache.set(config_cache.VERSION_KEY, uuid.uuid4().hex, timeout=None)  # that process's commit publishes
    assert db.run(lookup) == "Renamed"
    assert len(token_reads) == 4  # one per batch
    assert db.run(lambda: len(config_cache._units.open)) == 1  # noqa: SLF001 - no unit left open by a job
