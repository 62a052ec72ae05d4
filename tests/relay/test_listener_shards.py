"""Several relay_listen processes share the tenants through leases (relay/salesforce/shards.py): every tenant held
by exactly one live process, an even split, a dead process's tenants taken over once its leases run out (never
before), a clean stop handing them back at once, and ``owns`` turning False by itself when renewals stop."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from relay.salesforce import shards
from relay.salesforce.pubsub import Listener
from relay.salesforce.shard_models import ListenerLease, ListenerProcess
from relay.salesforce.shards import Shard, rendezvous_owner
from tenants.models import SalesforceConnection, Tenant
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    OTHER_ORG_ID,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
)
from tests.relay.test_listener import FAST, Recorder, publish, subscriber_count

pytestmark = pytest.mark.django_db


def make_tenants(count: int, *, start: int = 0) -> list[int]:
    ids = []
    for index in range(start, start + count):
        tenant = Tenant.objects.create(
            name=f"T{index}", slug=f"shard-{index}", org_id=f"00D8d0000S{index:05d}"
        )
        SalesforceConnection.objects.create(tenant=tenant, instance_url="https://example.invalid")
        ids.append(tenant.pk)
    return ids


def settle(*shards: Shard, rounds: int = 3) -> None:
    for _ in range(rounds):
        for shard in shards:
            shard.round()


def expire(holder: str) -> None:
    """What a lease's time running out looks like to the others (the process stopped renewing)."""
    past = timezone.now() - timedelta(seconds=1)
    ListenerLease.objects.filter(holder=holder).update(expires_at=past)
    ListenerProcess.objects.filter(holder=holder).update(expires_at=past)


def test_one_listener_holds_every_active_tenant_with_a_connection():
    tenants = make_tenants(5)
    Tenant.objects.filter(pk=tenants[0]).update(active=False)
    Tenant.objects.create(name="No connection", slug="no-connection", org_id="00D8d0000S99999")
    shard = Shard(holder="a", lease_seconds=30)
    assert shard.round() == frozenset(tenants[1:])
    assert [shard.owns(t) for t in tenants] == [False, True, True, True, True]
    assert ListenerProcess.objects.get(holder="a").tenants == 4
    assert set(ListenerLease.objects.filter(holder="a").values_list("tenant_id", flat=True)) == set(
        tenants[1:]
    )


def test_two_listeners_split_the_tenants_evenly_and_never_share_one():
    tenants = make_tenants(60)
    a, b = (
        Shard(holder="host-a:1:aa", lease_seconds=30),
        Shard(holder="host-b:2:bb", lease_seconds=30, drop_seconds=0),
    )
    a.round()
    assert a.held == frozenset(tenants)  # alone at first: all of them
    b.round()
    assert b.held == frozenset()  # a's leases have not run out: b takes none of them yet
    a.drop_seconds = 0  # let go of b's share at the next round (in production: after the feeds' refresh)
    settle(a, b)
    assert a.held | b.held == frozenset(tenants)
    assert a.held & b.held == frozenset()
    assert 15 <= len(a.held) <= 45, (len(a.held), len(b.held))  # rendezvous hashing: roughly half each
    for tenant in tenants:  # each tenant where rendezvous hashing puts it, as both compute it
        owner = rendezvous_owner(tenant, ["host-a:1:aa", "host-b:2:bb"])
        assert (a if owner == a.holder else b).owns(tenant)


def test_a_tenant_that_moves_is_dropped_by_owns_at_once_and_handed_back_only_later():
    tenants = make_tenants(20)
    a = Shard(holder="a", lease_seconds=30, drop_seconds=3600)
    b = Shard(holder="b", lease_seconds=30)
    a.round()
    b.round()  # b registers; a's leases still run
    a.round()  # a sees b: b's share is no longer a's to serve...
    moving = {t for t in tenants if rendezvous_owner(t, ["a", "b"]) == "b"}
    assert moving and not any(a.owns(t) for t in moving)
    assert all(a.owns(t) for t in set(tenants) - moving)
    b.round()  # ...but its leases are still a's until handed back (or run out): b cannot take them yet
    assert b.held == frozenset()
    a.drop_seconds = 0
    a.round()  # handed back
    b.round()
    assert b.held == frozenset(moving)


def test_a_dead_listeners_tenants_are_taken_over_once_its_leases_run_out():
    tenants = make_tenants(12)
    a, b = (
        Shard(holder="a", lease_seconds=30, drop_seconds=0),
        Shard(holder="b", lease_seconds=30, drop_seconds=0),
    )
    settle(a, b)
    a_tenants = a.held
    assert a_tenants and b.held == frozenset(tenants) - a_tenants
    # a is killed: no more rounds. While its leases run, b does not take them.
    b.round()
    assert b.held & a_tenants == frozenset()
    expire("a")
    b.round()
    assert b.held == frozenset(tenants)
    assert set(ListenerLease.objects.values_list("holder", flat=True)) == {"b"}


def test_a_clean_stop_hands_every_tenant_back_at_once():
    tenants = make_tenants(8)
    a, b = (
        Shard(holder="a", lease_seconds=30, drop_seconds=0),
        Shard(holder="b", lease_seconds=30, drop_seconds=0),
    )
    settle(a, b)
    assert a.held and b.held
    a.stop()
    assert not ListenerProcess.objects.filter(holder="a").exists()
    assert not any(a.owns(t) for t in tenants)
    b.round()
    assert b.held == frozenset(tenants)


def test_owns_turns_false_by_itself_when_the_leases_are_not_renewed():
    """A process cut off from the database stops serving before its leases can run out for the others."""
    [tenant] = make_tenants(1)
    shard = Shard(holder="a", lease_seconds=0.6)
    shard.round()
    assert shard.owns(tenant)
    deadline = time.monotonic() + 5
    while shard.owns(tenant):
        assert time.monotonic() < deadline, "owns() still True long after the lease"
        time.sleep(0.02)
    # it stopped trusting the lease before the lease itself ran out (by the database's clock)
    assert ListenerLease.objects.filter(tenant_id=tenant, holder="a", expires_at__gt=Now()).exists()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_slow_rounds_keep_their_cadence_so_the_leases_stay_trusted(monkeypatch):
    """Rounds start a period apart from their starts: slow rounds do not add up to a lapse of trust (which would
    stop every feed of the process), as long as each takes less than a period."""
    [tenant] = make_tenants(1)
    clock = FakeClock()
    monkeypatch.setattr(shards, "_now", clock)
    shard = Shard(holder="a", lease_seconds=9)  # a round every 3 s, each trusted 6 s from its start
    for _ in range(5):
        shard.round()
        clock.now += 2.5  # every round takes 2.5 s of its 3 s period
        assert shard.owns(tenant)
        assert shard.until_next_round() == pytest.approx(0.5)
        clock.now += shard.until_next_round()
    clock.now += 3.0  # a round late by a whole period: nothing waits before the next
    assert shard.until_next_round() == 0.0


def test_a_lapse_of_trust_is_logged_as_a_warning_when_the_leases_are_renewed(monkeypatch, caplog):
    [tenant] = make_tenants(1)
    clock = FakeClock()
    monkeypatch.setattr(shards, "_now", clock)
    shard = Shard(holder="a", lease_seconds=9)
    shard.round()
    clock.now += 6.5  # past the 6 s of trust: the feeds stopped serving the tenant
    assert not shard.owns(tenant)
    with caplog.at_level("WARNING", logger="relay.salesforce.shards"):
        shard.round()
    assert shard.owns(tenant)
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "0.5 s after this process stopped trusting them" in warning.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="relay.salesforce.shards"):
        clock.now += 3
        shard.round()  # on time: nothing to say
    assert not caplog.records


def test_a_lease_is_never_taken_while_it_runs_even_by_the_tenants_rendezvous_owner():
    [tenant] = make_tenants(1)
    ListenerLease.objects.create(
        tenant_id=tenant, holder="someone-else", expires_at=timezone.now() + timedelta(minutes=5)
    )
    shard = Shard(holder="a", lease_seconds=30)  # the only live process: the tenant is its by rendezvous
    assert shard.round() == frozenset()
    assert not shard.owns(tenant)
    ListenerLease.objects.filter(tenant_id=tenant).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert shard.round() == frozenset({tenant})


def test_tenant_slugs_limit_the_share():
    tenants = make_tenants(4)
    shard = Shard(holder="a", lease_seconds=30, tenant_slugs=["shard-1", "shard-3"])
    assert shard.round() == frozenset({tenants[1], tenants[3]})


# --- the Pub/Sub feed serves only what its process holds ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_pubsub_listener_subscribes_only_held_tenants_and_lets_go_of_one_that_moves(
    sandbox,
    sim,
    salesforce_urls,  # noqa: F811
):
    create_sandbox_org(sim)
    create_sandbox_org(sim, OTHER_ORG_ID)
    mine = make_connected_tenant(salesforce_urls)
    other = make_connected_tenant(salesforce_urls, OTHER_ORG_ID)
    held = {mine.pk}
    recorder = Recorder()
    listener = Listener(
        recorder,
        owns=lambda tenant_id: tenant_id in held,
        refresh_seconds=0.1,
        endpoint=sandbox.world.config.grpc_target,
        tls=False,
        backoff=FAST,
    )
    runner = threading.Thread(target=listener.run)
    runner.start()
    try:
        wait(lambda: subscriber_count(sandbox) == 1, "the held tenant subscribed")
        assert subscriber_count(sandbox, OTHER_ORG_ID) == 0  # another process's
        publish(sandbox, "for the held tenant")
        assert recorder.wait_for(1) == ["for the held tenant"]

        held.clear()  # the tenant moved to another process: its stream closes, its events are left alone
        wait(lambda: subscriber_count(sandbox) == 0, "the moved tenant's stream closed")
        publish(sandbox, "for whoever holds it now")
        held.add(other.pk)
        wait(lambda: subscriber_count(sandbox, OTHER_ORG_ID) == 1, "the newly held tenant subscribed")
        assert recorder.payloads(mine.pk) == ["for the held tenant"]
        assert listener.channels.open_channels == 1  # the streams share the listener's channel
    finally:
        listener.stop()
        runner.join(15)
    assert not runner.is_alive()


def wait(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)
