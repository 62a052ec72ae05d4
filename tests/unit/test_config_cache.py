"""Per-process configuration caches (tenants/config_cache.py, tenants/lookups.py): a message's account,
senders, tenant and routing rules come without a query once loaded, and every kind of change reaches every
process: a save or delete (signals), a queryset's update or delete (no signals: hooked in the queryset), another
process's change (the shared version token), and without the shared cache nothing is kept at all."""

from __future__ import annotations

import threading
import uuid

import pytest
from celery.signals import task_postrun, task_prerun
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, connections

from portal import shared_cache
from relay.inbound.auth import expected_signature
from tenants import config_cache, lookups
from tenants.models import ProviderAccount, RoutingRule, Sender, Tenant
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    config_cache.clear_local()
    return make_account(make_tenant())


def test_a_webhook_account_is_read_once_per_process(account, django_assert_num_queries):
    with django_assert_num_queries(1):
        first = lookups.webhook_account(account.provider, account.webhook_key)
    with django_assert_num_queries(0):
        again = lookups.webhook_account(account.provider, account.webhook_key)
    assert first is again and first.pk == account.pk and first.tenant.pk == account.tenant_id
    assert lookups.webhook_account(account.provider, "no-such-key") is None


def test_a_saved_change_is_read_at_once(account):
    lookups.webhook_account(account.provider, account.webhook_key)
    account.webhook_secret = "rotated-secret"
    account.save()
    assert (
        str(lookups.webhook_account(account.provider, account.webhook_key).webhook_secret) == "rotated-secret"
    )
    account.delete()
    assert lookups.webhook_account(account.provider, account.webhook_key) is None


def test_a_bulk_update_is_read_at_once(account):
    sender = make_sender(account)
    assert lookups.senders_by_address(account)[(sender.channel, sender.address)].enabled
    Sender.objects.filter(pk=sender.pk).update(enabled=False)  # no post_save
    assert not lookups.senders_by_address(account)[(sender.channel, sender.address)].enabled
    Tenant.objects.filter(pk=account.tenant_id).update(active=False)
    assert lookups.webhook_account(account.provider, account.webhook_key) is None


def test_another_process_change_is_read_through_the_shared_version(account, django_assert_num_queries):
    sender = make_sender(account)
    RoutingRule.objects.create(tenant=account.tenant, sender=sender, target_type="queue", target_id="00G1")
    assert [r.target_id for r in lookups.routing_rules(account.tenant_id, sender.pk)] == ["00G1"]
    with django_assert_num_queries(0):
        lookups.routing_rules(account.tenant_id, sender.pk)
    # What another process does when it commits a change: a new token, nothing cleared here.
    cache.set(config_cache.VERSION_KEY, "another-process-changed-something", timeout=None)
    with django_assert_num_queries(1):
        lookups.routing_rules(account.tenant_id, sender.pk)


def test_without_the_shared_cache_every_read_goes_to_the_database(
    account, monkeypatch, django_assert_num_queries
):
    def unavailable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "get", unavailable)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert lookups.webhook_account(account.provider, account.webhook_key).pk == account.pk


def test_every_cached_model_is_watched():
    labels = {m._meta.label for m in (Tenant, ProviderAccount, Sender, RoutingRule)} | {
        "tenants.SalesforceConnection"
    }
    assert labels == config_cache.WATCHED


# --- the version token is read once per unit of work (a request, a task) -------------------------------------


class _Request:
    """What Django's handler sends around a request (a view's work happens between the two); without closing
    the test's database connection, as Django's test client does."""

    def __enter__(self):
        request_started.disconnect(close_old_connections)
        try:
            request_started.send(sender=self.__class__, environ={})
        finally:
            request_started.connect(close_old_connections)
        return self

    def __exit__(self, *exc):
        request_finished.disconnect(close_old_connections)
        try:
            request_finished.send(sender=self.__class__)
        finally:
            request_finished.connect(close_old_connections)


def another_process_disables(account) -> None:
    """What another process's change looks like from here: the row changes under us (no signal, no hook in
    this process) and, once committed, a new token."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ProviderAccount._meta.db_table} SET active = %s WHERE id = %s", [False, account.pk]
        )
    cache.set(config_cache.VERSION_KEY, uuid.uuid4().hex, timeout=None)


@pytest.fixture
def token_reads(monkeypatch):
    """The token reads from here on; the token exists already (a first read mints it, and reads it back)."""
    config_cache.current_version()
    reads = []
    real = shared_cache.get

    def counting(key):
        reads.append(key)
        return real(key)

    monkeypatch.setattr(shared_cache, "get", counting)
    return reads


def test_a_request_reads_the_token_once(account, token_reads):
    sender = make_sender(account)
    lookups.webhook_account(account.provider, account.webhook_key)  # loaded outside: every lookup reads it
    assert token_reads == [config_cache.VERSION_KEY]
    token_reads.clear()
    with _Request():
        for _ in range(3):
            lookups.webhook_account(account.provider, account.webhook_key)
            lookups.senders_by_address(account)
            lookups.sender_with_account(sender.pk)
    assert token_reads == [config_cache.VERSION_KEY]


def test_a_change_committed_before_a_request_is_seen_by_it(account, client):
    body = b'{"results": []}'
    headers = {"X-Hub-Signature-256": expected_signature(str(account.webhook_secret), body)}
    assert client.post(account.webhook_path, body, "application/json", headers=headers).status_code == 200
    another_process_disables(account)
    response = client.post(account.webhook_path, body, "application/json", headers=headers)
    assert response.status_code == 404  # the next request read the new token, and the account again


def test_a_change_committed_while_a_request_runs_is_seen_from_the_next_one(
    account, django_assert_num_queries
):
    with _Request():
        assert lookups.webhook_account(account.provider, account.webhook_key).pk == account.pk
        another_process_disables(account)
        with django_assert_num_queries(0):  # stale for the rest of this request, as designed
            assert lookups.webhook_account(account.provider, account.webhook_key).pk == account.pk
    with _Request():
        assert lookups.webhook_account(account.provider, account.webhook_key) is None


def test_a_task_is_a_unit_of_its_own_and_gives_its_caller_back_its_token(account, token_reads):
    with _Request():
        lookups.webhook_account(account.provider, account.webhook_key)
        task_prerun.send(sender=None, task_id="eager", task=None)  # an eager task inside the request
        another_process_disables(account)  # committed before the task's first read
        assert lookups.webhook_account(account.provider, account.webhook_key) is None
        task_postrun.send(sender=None, task_id="eager", task=None)
        assert len(token_reads) == 2
        lookups.webhook_account(account.provider, account.webhook_key)  # the request's own token again
        assert len(token_reads) == 2
    task_prerun.send(sender=None, task_id="worker", task=None)  # a worker's task, outside any request
    lookups.webhook_account(account.provider, account.webhook_key)
    lookups.webhook_account(account.provider, account.webhook_key)
    task_postrun.send(sender=None, task_id="worker", task=None)
    assert len(token_reads) == 3


@pytest.mark.skipif(connection.vendor == "sqlite", reason="the unit tier's database is one connection's")
def test_the_thread_that_commits_a_change_reads_it_even_after_another_thread_reloaded_the_old_rows(
    account, django_capture_on_commit_callbacks
):
    loaded = []

    def another_thread_in_a_unit() -> None:
        # Its own connection does not see this test's uncommitted rows: it loads "no such account" under the
        # token both threads read.
        try:
            with config_cache.unit_of_work():
                loaded.append(lookups.webhook_account(account.provider, account.webhook_key))
        finally:
            connections.close_all()

    with _Request():
        lookups.webhook_account(account.provider, account.webhook_key)
        with django_capture_on_commit_callbacks(execute=True):
            account.name = "Renamed"
            account.save()
            other = threading.Thread(target=another_thread_in_a_unit)
            other.start()
            other.join()
        assert loaded == [None]
        assert lookups.webhook_account(account.provider, account.webhook_key).name == "Renamed"
