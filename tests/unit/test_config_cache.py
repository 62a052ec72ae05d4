"""Per-process configuration caches (tenants/config_cache.py, tenants/lookups.py): a message's account,
senders, tenant and routing rules come without a query once loaded, and every kind of change reaches every
process: a save or delete (signals), a queryset's update or delete (no signals: hooked in the queryset), another
process's change (the shared version token), and without the shared cache nothing is kept at all."""

from __future__ import annotations

import pytest
from django.core.cache import cache

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
