"""The Pub/Sub listener against the sandbox's gRPC Pub/Sub API, with a recording handler."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import caches
from django.db import connection as db_connection
from django.db.backends.signals import connection_created
from django.utils import timezone

from portal.console.wizard.health import listener_status
from relay.errors import ExternalError
from relay.models import ListenerCursor
from relay.salesforce.auth import get_token
from relay.salesforce.interactions import InteractionClient, now_ms
from relay.salesforce.pubsub import Backoff, DatabaseThreads, Listener, TenantSubscriber
from tenants.models import Tenant
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    CUSTOMER,
    EVENT,
    ORG_ID,
    OTHER_ORG_ID,
    USERNAME,
    WHATSAPP,
    console,
    consumer_key,
    create_sandbox_org,
    make_connected_tenant,
    new_id,
    salesforce_urls,
    tokens,
)

pytestmark = pytest.mark.django_db(transaction=True)

FAST = Backoff(initial=0.05, maximum=0.3)


class Recorder:
    """The handler the listener calls; can be told to fail once on a given event."""

    def __init__(self) -> None:
        self.events: list[tuple[int, dict]] = []
        self.condition = threading.Condition()
        self.fail_on: str | None = None

    def __call__(self, tenant, fields: dict) -> None:
        with self.condition:
            if self.fail_on is not None and fields.get("Payload__c") == self.fail_on:
                self.fail_on = None
                raise RuntimeError("database went away")
            self.events.append((tenant.pk, fields))
            self.condition.notify_all()

    def payloads(self, tenant_id: int | None = None) -> list[str]:
        with self.condition:
            return [f["Payload__c"] for t, f in self.events if tenant_id is None or t == tenant_id]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        with self.condition:
            assert self.condition.wait_for(lambda: len(self.events) >= count, timeout), (
                f"{len(self.events)} of {count} events arrived"
            )
        return self.payloads()


def wait_until(predicate, timeout: float = 10.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout} s")
        time.sleep(0.02)


def subscriptions(sandbox, org_id: str = ORG_ID) -> list:
    """The sandbox's open Subscribe streams of an org (the bus keys orgs by their 18-character id)."""
    return sandbox.call(lambda: sandbox.world.pubsub.subscriptions(sandbox.world.orgs.get(org_id).org_id))


def subscriber_count(sandbox, org_id: str = ORG_ID) -> int:
    return len(subscriptions(sandbox, org_id))


def publish(sandbox, payload: str, org_id: str = ORG_ID, event: str = EVENT) -> bytes:
    def run():
        org = sandbox.world.orgs.get(org_id)
        user = org.user_by_username("ada@acme.test")["Id"]
        fields = {"EventType__c": "Interaction", "Payload__c": payload}
        return sandbox.world.pubsub.publish(org.org_id, event, fields, created_by_id=user)

    return sandbox.call(run)


def a_later_millisecond() -> datetime:
    """A time after every event published so far and not after any published from now on, in CreatedDate's
    precision (whole milliseconds, as the listener stores ``last_event_at``).

    ``timezone.now()`` would not do: an event published within the same millisecond gets a CreatedDate that
    is *earlier* than it (cut to the millisecond), and the listener rightly skips it as older than the floor.
    """
    past = now_ms()
    wait_until(lambda: now_ms() > past, message="the clock's next millisecond")
    return datetime.fromtimestamp(now_ms() / 1000, tz=UTC)


def cursor(tenant) -> bytes | None:
    row = ListenerCursor.objects.filter(tenant=tenant).first()
    return bytes(row.replay_id) if row and row.replay_id else None


@pytest.fixture
def tenant(sim, salesforce_urls):  # noqa: F811
    create_sandbox_org(sim)
    return make_connected_tenant(salesforce_urls)


@pytest.fixture
def start(sandbox):
    """Start subscribers for a tenant; all are stopped at the end of the test."""
    started: list[TenantSubscriber] = []

    def start_subscriber(tenant, handler, **options) -> TenantSubscriber:
        options.setdefault("backoff", FAST)
        subscriber = TenantSubscriber(
            tenant.pk, handler, endpoint=sandbox.world.config.grpc_target, tls=False, **options
        ).start()
        started.append(subscriber)
        return subscriber

    yield start_subscriber
    for subscriber in started:
        subscriber.stop()
        subscriber.join(10)


def stop(subscriber: TenantSubscriber) -> None:
    subscriber.stop()
    subscriber.join(10)
    assert not subscriber.alive


def test_events_arrive_in_order_and_the_cursor_follows(tenant, sandbox, start):
    recorder = Recorder()
    start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    replay_ids = [publish(sandbox, f"message {n}") for n in range(5)]
    assert recorder.wait_for(5) == [f"message {n}" for n in range(5)]
    assert {t for t, _ in recorder.events} == {tenant.pk}
    assert recorder.events[0][1]["EventType__c"] == "Interaction"
    assert isinstance(recorder.events[0][1]["CreatedDate"], int)
    wait_until(lambda: cursor(tenant) == replay_ids[-1], message="cursor at the last event")


def test_restart_resumes_from_the_cursor_without_loss_or_duplicate(tenant, sandbox, start):
    recorder = Recorder()
    first = start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    for n in range(3):
        publish(sandbox, f"before {n}")
    recorder.wait_for(3)
    stop(first)
    wait_until(lambda: subscriber_count(sandbox) == 0, message="stream closed")

    missed = [publish(sandbox, f"while down {n}") for n in range(4)]
    start(tenant, recorder)
    assert recorder.wait_for(7) == [f"before {n}" for n in range(3)] + [f"while down {n}" for n in range(4)]
    wait_until(lambda: cursor(tenant) == missed[-1], message="cursor after the restart")
    publish(sandbox, "after")
    assert recorder.wait_for(8)[-1] == "after"
    assert len(recorder.payloads()) == 8  # nothing twice


def test_an_idle_subscription_keeps_its_place_from_keepalives(tenant, sandbox, start):
    recorder = Recorder()
    first = start(tenant, recorder)
    wait_until(lambda: cursor(tenant) is not None, message="cursor from a keep-alive")
    stop(first)
    publish(sandbox, "sent while nobody listened")
    start(tenant, recorder)
    assert recorder.wait_for(1) == ["sent while nobody listened"]


def test_a_failed_batch_is_offered_again(tenant, sandbox, start):
    recorder = Recorder()
    recorder.fail_on = "second"
    start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "first")
    recorder.wait_for(1)
    publish(sandbox, "second")
    publish(sandbox, "third")
    assert recorder.wait_for(3)[-2:] == ["second", "third"]
    assert recorder.payloads().count("second") == 1
    # The error was visible until the next good batch cleared it.
    wait_until(lambda: ListenerCursor.objects.get(tenant=tenant).last_error == "", message="error cleared")


def test_flow_control_asks_for_more(tenant, sandbox, start):
    recorder = Recorder()
    start(tenant, recorder, batch_size=4)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    for n in range(13):
        publish(sandbox, f"event {n}")
    assert recorder.wait_for(13) == [f"event {n}" for n in range(13)]


def test_reconnects_after_a_pubsub_outage(tenant, sandbox, sim, start):
    recorder = Recorder()
    start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "before the outage")
    recorder.wait_for(1)
    fault = sim.post("/__sim/faults", json={"service": "pubsub", "outage": True}).json()["id"]
    wait_until(lambda: subscriber_count(sandbox) == 0, message="stream dropped")
    publish(sandbox, "during the outage")
    wait_until(
        lambda: "UNAVAILABLE" in (ListenerCursor.objects.get(tenant=tenant).last_error or ""), message="error"
    )
    assert sim.delete(f"/__sim/faults/{fault}").status_code == 200
    assert recorder.wait_for(2) == ["before the outage", "during the outage"]
    publish(sandbox, "after the outage")
    assert recorder.wait_for(3)[-1] == "after the outage"


def test_a_revoked_token_is_replaced_and_the_stream_resumes(tenant, sandbox, sim, start):
    recorder = Recorder()
    start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "one")
    recorder.wait_for(1)
    sim.post(f"/__sim/orgs/{ORG_ID}/tokens/revoke", json={})
    publish(sandbox, "two")
    assert recorder.wait_for(2) == ["one", "two"]
    assert [t["revoked"] for t in tokens(sim)] == [True, False]
    sim.post(f"/__sim/orgs/{ORG_ID}/tokens/revoke", json={})  # again, later: refreshed again
    publish(sandbox, "three")
    assert recorder.wait_for(3) == ["one", "two", "three"]
    assert [t["revoked"] for t in tokens(sim)] == [True, True, False]


def test_a_refused_replay_id_falls_back_to_earliest_from_the_last_event_handled(tenant, sandbox, start):
    """Salesforce refuses a corrupted replay id (INVALID_ARGUMENT, ...replayid.corrupted); the listener
    replays from EARLIEST, handing on what was created since the last event it handled: nothing lost, and
    nothing older handed on again. Within the retention window that is no gap."""
    publish(sandbox, "handled long ago")
    ListenerCursor.objects.filter(tenant=tenant).update(
        replay_id=b"\x7f" * 8,
        last_event_at=a_later_millisecond(),
        deliver_since=timezone.now() - timedelta(hours=1),
    )
    publish(sandbox, "retained 1")
    publish(sandbox, "retained 2")
    recorder = Recorder()
    start(tenant, recorder, clock_skew=timedelta(0))
    assert recorder.wait_for(2) == ["retained 1", "retained 2"]
    wait_until(lambda: cursor(tenant) not in (None, b"\x7f" * 8), message="cursor replaced")
    assert ListenerCursor.objects.get(tenant=tenant).gap == ""


# --- where a subscription starts: nothing published after the connection was saved is lost --------------


def test_events_published_before_the_first_subscription_are_delivered(tenant, sandbox, start):
    """The connection is saved; agents answer before the listener ever subscribed (it was down, or had not
    re-read the tenant list yet). LATEST would skip these for good."""
    published = [publish(sandbox, f"early {n}") for n in range(3)]
    recorder = Recorder()
    start(tenant, recorder)
    assert recorder.wait_for(3) == ["early 0", "early 1", "early 2"]
    wait_until(lambda: cursor(tenant) == published[-1], message="cursor at the last early event")
    publish(sandbox, "later")
    assert recorder.wait_for(4) == ["early 0", "early 1", "early 2", "later"]


class CountingThreads(DatabaseThreads):
    """The listener's database threads, counting the jobs handed to them."""

    def __init__(self) -> None:
        super().__init__(1, name="counted-db")
        self.jobs = 0

    def run(self, fn, /, *args, **kwargs):
        self.jobs += 1
        return super().run(fn, *args, **kwargs)


def test_a_batch_of_events_and_its_position_are_one_database_job(tenant, sandbox, start):
    """Handing a job to a database thread (and the connection's health check before it) cost more than
    storing an agent's message: a batch's events and its replay id go in one job, in order, on that thread."""
    published = [publish(sandbox, f"early {n}") for n in range(4)]  # retained: replayed in one batch
    db = CountingThreads()
    seen: list[tuple[str, int, str]] = []

    def handler(tenant, fields) -> None:
        seen.append((threading.current_thread().name, db.jobs, fields["Payload__c"]))

    subscriber = start(tenant, handler, db=db)
    try:
        wait_until(lambda: len(seen) == 4, message="the four events")
        wait_until(lambda: cursor(tenant) == published[-1], message="cursor at the last event")
    finally:
        stop(subscriber)  # before its database threads end
        db.shutdown()
    assert [payload for _, _, payload in seen] == [f"early {n}" for n in range(4)]
    assert {(thread, job) for thread, job, _ in seen} == {("counted-db-0", seen[0][1])}


def test_events_from_before_the_connection_was_saved_are_not_handed_on(sim, sandbox, salesforce_urls, start):  # noqa: F811
    create_sandbox_org(sim)
    publish(sandbox, "another connector's")  # on the org's bus before this tenant existed
    tenant = make_connected_tenant(salesforce_urls)
    publish(sandbox, "ours")
    recorder = Recorder()
    start(tenant, recorder, clock_skew=timedelta(0))
    assert recorder.wait_for(1) == ["ours"]
    publish(sandbox, "ours too")
    assert recorder.wait_for(2) == ["ours", "ours too"]


@pytest.fixture
def slow_keepalives(sandbox):
    """Keep-alives as rare as Salesforce's (minutes): a fresh stream stores no position from one."""
    config = sandbox.world.config
    before, config.keepalive_seconds = config.keepalive_seconds, 300.0
    yield
    config.keepalive_seconds = before


def test_a_restart_before_any_position_was_stored_loses_nothing(tenant, sandbox, start, slow_keepalives):
    recorder = Recorder()
    first = start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    stop(first)
    assert cursor(tenant) is None  # nothing read yet, so no replay id to resume from
    publish(sandbox, "while restarting")
    start(tenant, recorder)
    assert recorder.wait_for(1) == ["while restarting"]
    publish(sandbox, "after")
    assert recorder.wait_for(2) == ["while restarting", "after"]


@pytest.fixture
def short_retention(sandbox):
    """Salesforce keeps events 72 hours; here one second, on both sides."""
    config = sandbox.world.config
    before, config.event_retention_seconds = config.event_retention_seconds, 1.0
    yield timedelta(seconds=1)
    config.event_retention_seconds = before


def retained(sandbox) -> list[str]:
    org_id = sandbox.call(lambda: sandbox.world.orgs.get(ORG_ID).org_id)
    return [e["Payload__c"] for e in sandbox.call(lambda: sandbox.world.pubsub.events(org_id, EVENT))]


def test_events_purged_while_the_listener_was_down_are_reported_as_a_gap(
    tenant, sandbox, start, short_retention
):
    recorder = Recorder()
    first = start(tenant, recorder, retention=short_retention)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "read")
    recorder.wait_for(1)
    stop(first)
    publish(sandbox, "purged before anyone read it")
    wait_until(lambda: retained(sandbox) == [], message="the retention window to pass")
    publish(sandbox, "after the gap")
    start(tenant, recorder, retention=short_retention)
    assert recorder.wait_for(2) == ["read", "after the gap"]
    row = ListenerCursor.objects.get(tenant=tenant)
    assert "may be lost" in row.gap and row.gap_at is not None
    assert "Salesforce keeps events for" in row.gap
    health = listener_status(tenant, f"/event/{EVENT}")  # the wizard's health check says so too
    assert health.state == "warn" and "may be lost" in health.detail


# --- access tokens -----------------------------------------------------------------------------------


def test_a_newer_cached_token_that_is_itself_revoked_is_replaced_too(tenant, sandbox, sim, start):
    """Revoked twice in a row: the token of the stream, and the newer one another process put in the
    shared cache meanwhile. The listener must not settle for the cached one because it is newer."""
    recorder = Recorder()
    start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "one")
    recorder.wait_for(1)
    streaming = tokens(sim)[-1]["access_token"]
    get_token(tenant.salesforce, refresh=True, rejected=streaming)  # a worker's refresh, after its 401
    assert len(tokens(sim)) == 2
    sim.post(f"/__sim/orgs/{ORG_ID}/tokens/revoke", json={})  # every token so far, the cached one too
    publish(sandbox, "two")
    assert recorder.wait_for(2) == ["one", "two"]
    wait_until(lambda: subscriber_count(sandbox) == 1, message="resubscribed")
    issued = tokens(sim)
    assert [t["revoked"] for t in issued] == [True, True, False]
    publish(sandbox, "three")
    assert recorder.wait_for(3) == ["one", "two", "three"]


def test_when_no_token_can_be_minted_the_cursor_says_why_until_it_recovers(
    tenant, sandbox, sim, start, monkeypatch
):
    from relay.salesforce import auth

    # A refused login is remembered (auth.REFUSAL_SECONDS, a minute): a second here, so the fix is seen soon.
    monkeypatch.setattr(auth, "REFUSAL_SECONDS", 1.0)
    recorder = Recorder()
    start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    app = f"/__sim/orgs/{ORG_ID}/connected-apps/{consumer_key(ORG_ID)}/preauthorized"
    assert sim.delete(f"{app}/{USERNAME}").status_code in (200, 204)  # the admin un-approves the user
    sim.post(f"/__sim/orgs/{ORG_ID}/tokens/revoke", json={})
    publish(sandbox, "while locked out")

    def error() -> str:
        return ListenerCursor.objects.get(tenant=tenant).last_error

    wait_until(lambda: "no new access token could be minted" in error(), message="the reason")
    assert "UNAUTHENTICATED" in error() and "Salesforce refused the login" in error()
    assert not any(t["access_token"] in error() for t in tokens(sim))  # no secret in the status
    health = listener_status(tenant, f"/event/{EVENT}")  # the wizard's health check says so too
    assert health.state == "error" and "no new access token could be minted" in health.detail
    assert sim.post(app, json={"username": USERNAME}).status_code in (200, 201)  # approved again
    assert recorder.wait_for(1) == ["while locked out"]
    wait_until(lambda: error() == "", message="the error cleared once a stream works")
    assert listener_status(tenant, f"/event/{EVENT}").state == "ok"


def test_agent_reply_in_the_console_reaches_the_handler(tenant, sandbox, sim, start):
    recorder = Recorder()
    start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    sent = InteractionClient(tenant.salesforce).send_text(
        WHATSAPP, CUSTOMER, "Where is my order?", entry_id=new_id(), timestamp_ms=now_ms()
    )
    session = sent["workItemIds"][0]
    ada = next(a for a in console(sim, ORG_ID, "/agents") if a["username"] == "ada@acme.test")["id"]
    sim.post(f"/__sim/console/api/orgs/{ORG_ID}/sessions/{session}/accept", json={"agent": ada})
    sim.post(
        f"/__sim/console/api/orgs/{ORG_ID}/sessions/{session}/reply",
        json={"agent": ada, "text": "On its way"},
    )

    def agent_messages():
        found = []
        for payload in recorder.payloads():
            event = json.loads(payload)
            entry = event["payload"]
            if entry["entryType"] == "Message" and entry["sender"]["role"] == "Agent":
                found.append(entry["entryPayload"]["abstractMessage"]["staticContent"]["text"])
        return found

    wait_until(lambda: agent_messages() == ["On its way"], message="the agent's reply")


def test_listener_follows_the_tenant_list(tenant, sandbox, sim, salesforce_urls):  # noqa: F811
    recorder = Recorder()
    listener = Listener(
        recorder, refresh_seconds=0.1, endpoint=sandbox.world.config.grpc_target, tls=False, backoff=FAST
    )
    runner = threading.Thread(target=listener.run)
    runner.start()
    try:
        wait_until(lambda: subscriber_count(sandbox) == 1, message="first tenant subscribed")

        create_sandbox_org(sim, OTHER_ORG_ID)  # a tenant added while running
        other = make_connected_tenant(salesforce_urls, OTHER_ORG_ID)
        wait_until(lambda: subscriber_count(sandbox, OTHER_ORG_ID) == 1, message="second tenant subscribed")
        publish(sandbox, "for the new tenant", org_id=OTHER_ORG_ID)
        recorder.wait_for(1)
        assert recorder.payloads(other.pk) == ["for the new tenant"]

        connection = tenant.salesforce  # the platform event renamed: resubscribed to the new topic
        connection.platform_event = "Renamed_Event__e"
        connection.save()
        wait_until(
            lambda: [s.topic.api_name for s in subscriptions(sandbox)] == ["Renamed_Event__e"],
            message="resubscribed to the renamed event",
        )
        publish(sandbox, "on the renamed event", event="Renamed_Event__e")
        recorder.wait_for(2)
        assert recorder.payloads(tenant.pk) == ["on the renamed event"]

        tenant.active = False  # disabled: its stream closes
        tenant.save()
        wait_until(lambda: subscriber_count(sandbox) == 0, message="disabled tenant unsubscribed")
        assert subscriber_count(sandbox, OTHER_ORG_ID) == 1
    finally:
        listener.stop()
        runner.join(15)
    assert not runner.is_alive()
    wait_until(lambda: subscriber_count(sandbox, OTHER_ORG_ID) == 0, message="streams closed on stop")


class ConnectionsOpened:
    """The threads, other than the test's own, that open a database connection while connected."""

    def __init__(self) -> None:
        self.test_thread = threading.current_thread()
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, sender, connection, **kwargs) -> None:
        thread = threading.current_thread()
        if thread is not self.test_thread:
            with self.lock:
                self.threads.add(thread.name)

    def __enter__(self) -> ConnectionsOpened:
        connection_created.connect(self, weak=False)
        return self

    def __exit__(self, *exc) -> None:
        connection_created.disconnect(self)


def other_backends() -> int:
    """PostgreSQL: the connections to the test database other than this thread's."""
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_many_tenants_share_a_few_database_connections(sandbox, sim, salesforce_urls, settings, monkeypatch):  # noqa: F811
    """12 tenants, RELAY_LISTENER_DB_THREADS=3: every event is handled, and only the 3 database threads
    ever connect (formerly every subscriber thread held its own connection: 100 tenants, 100 connections).
    The same for the cache, where the access tokens live: Django opens a cache client per thread that uses
    it, and with Redis each is a connection (1,000 tenants held 1,000 Redis connections)."""
    settings.RELAY_LISTENER_DB_THREADS = 3
    cache_threads: set[str] = set()
    open_cache = caches.create_connection

    def note_cache_client(alias):
        cache_threads.add(threading.current_thread().name)
        return open_cache(alias)

    monkeypatch.setattr(caches, "create_connection", note_cache_client)
    org_ids = [f"00D8d000000T{n:03d}" for n in range(12)]
    tenants = []
    for org_id in org_ids:
        create_sandbox_org(sim, org_id)
        tenants.append(make_connected_tenant(salesforce_urls, org_id))
    postgres = db_connection.vendor == "postgresql"
    before = other_backends() if postgres else 0

    handler_threads: set[str] = set()

    def handler(tenant, fields) -> None:
        ListenerCursor.objects.filter(tenant=tenant).exists()  # a query, as the real handler makes
        handler_threads.add(threading.current_thread().name)
        recorder(tenant, fields)

    recorder = Recorder()
    with ConnectionsOpened() as opened:
        listener = Listener(
            handler, refresh_seconds=0.1, endpoint=sandbox.world.config.grpc_target, tls=False, backoff=FAST
        )
        runner = threading.Thread(target=listener.run, name="listener")
        runner.start()
        try:
            wait_until(
                lambda: all(subscriber_count(sandbox, org_id) == 1 for org_id in org_ids),
                timeout=30,
                message="every tenant subscribed",
            )
            last = {}
            for n in range(2):
                for tenant in tenants:
                    last[tenant.pk] = publish(sandbox, f"{tenant.org_id} {n}", org_id=tenant.org_id)
            recorder.wait_for(2 * len(tenants), timeout=30)
            for tenant in tenants:
                assert recorder.payloads(tenant.pk) == [f"{tenant.org_id} 0", f"{tenant.org_id} 1"]
            wait_until(
                lambda: all(cursor(tenant) == last[tenant.pk] for tenant in tenants),
                timeout=30,
                message="every cursor at its last event",
            )
            if postgres:  # counted while the listener runs and its connections are open
                assert other_backends() - before <= 3
        finally:
            listener.stop()
            runner.join(15)
    assert not runner.is_alive()
    assert handler_threads and handler_threads <= opened.threads
    assert 1 <= len(opened.threads) <= 3, sorted(opened.threads)
    assert all(name.startswith("pubsub-db-") for name in opened.threads), sorted(opened.threads)
    assert cache_threads, "the tokens were never looked up"
    assert not [name for name in cache_threads if name.startswith("pubsub-tenant-")], sorted(cache_threads)


def test_database_threads_run_jobs_and_pass_on_their_exceptions():
    db = DatabaseThreads(2, name="test-db")

    def fail():
        raise ValueError("the database said no")

    try:
        assert db.run(lambda a, b=0: a + b, 1, b=2) == 3
        with pytest.raises(ValueError, match="the database said no"):
            db.run(fail)
        names = {db.run(lambda: threading.current_thread().name) for _ in range(20)}
        assert names <= {"test-db-0", "test-db-1"}
        assert db.run(lambda: Tenant.objects.count()) == 0
    finally:
        db.shutdown()
    with pytest.raises(RuntimeError):
        db.run(lambda: None)


@pytest.mark.skipif(db_connection.vendor != "postgresql", reason="terminates a PostgreSQL backend")
def test_database_threads_replace_a_dropped_connection():
    db = DatabaseThreads(1)

    def backend_pid() -> int:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    try:
        first = db.run(backend_pid)
        with db_connection.cursor() as cursor:  # the server drops the pool thread's connection
            cursor.execute("SELECT pg_terminate_backend(%s)", [first])
        assert db.run(backend_pid) != first
    finally:
        db.shutdown()


def test_backoff_grows_with_jitter_up_to_its_maximum():
    backoff = Backoff(initial=1.0, maximum=8.0)
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        delays = [backoff.delay(failures) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered: reconnecting listeners do not stampede together


class Poisoned(Recorder):
    """A handler that always fails on one event, the way a defect of ours would (not the database)."""

    def __init__(self, poison: str, error: Exception) -> None:
        super().__init__()
        self.poison, self.error, self.tries = poison, error, 0

    def __call__(self, tenant, fields: dict) -> None:
        if fields.get("Payload__c") == self.poison:
            self.tries += 1
            raise self.error
        super().__call__(tenant, fields)


@pytest.mark.parametrize("error", [ValueError("bad shape"), TypeError("unhashable"), KeyError("entryType")])
def test_an_event_that_always_fails_is_set_aside_after_the_bound_and_later_events_move(
    tenant, sandbox, start, settings, error
):
    settings.RELAY_MAX_INTERNAL_ERRORS = 3
    handler = Poisoned("poison", error)
    start(tenant, handler)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "before")
    publish(sandbox, "poison")
    publish(sandbox, "after")
    assert handler.wait_for(2) == ["before", "after"]
    assert handler.tries == 3
    row = ListenerCursor.objects.get(tenant=tenant)
    assert "set aside" in row.gap and error.__class__.__name__ in row.gap and row.gap_at is not None
    wait_until(lambda: ListenerCursor.objects.get(tenant=tenant).last_error == "", message="stream healthy")
    health = listener_status(tenant, f"/event/{EVENT}")  # the admin's health check keeps showing it
    assert health.state == "warn" and "set aside" in health.detail


def test_a_database_outage_never_sets_an_event_aside(tenant, sandbox, start, settings):
    from django.db import OperationalError

    settings.RELAY_MAX_INTERNAL_ERRORS = 2
    handler = Poisoned("during the outage", OperationalError("server closed the connection"))
    start(tenant, handler)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "during the outage")
    wait_until(lambda: handler.tries >= 4, message="offered again past the bound")
    handler.poison = None  # the database is back
    assert handler.wait_for(1) == ["during the outage"]
    assert ListenerCursor.objects.get(tenant=tenant).gap == ""


class AwayFor(Recorder):
    """A handler whose call to Salesforce fails transiently (a 503) ``times`` times on one event, then works: a
    Cases desk reading the Case for a gap event while Salesforce is away for a few seconds."""

    def __init__(self, event: str, times: int) -> None:
        super().__init__()
        self.event, self.left, self.tries = event, times, 0

    def __call__(self, tenant, fields: dict) -> None:
        if fields.get("Payload__c") == self.event and self.left:
            self.left -= 1
            self.tries += 1
            raise ExternalError("Salesforce answered 503", permanent=False, status=503)
        super().__call__(tenant, fields)


def test_an_event_whose_handling_meets_a_transient_outage_is_never_set_aside(
    tenant, sandbox, start, settings
):
    """Salesforce away for longer than RELAY_MAX_INTERNAL_ERRORS tries: the event is not to blame and waits for it
    (before, five 503s within seconds set it aside for good: a Case's status or close lost)."""
    settings.RELAY_MAX_INTERNAL_ERRORS = 3
    handler = AwayFor("gap", times=5)
    start(tenant, handler)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "gap")
    publish(sandbox, "after")
    assert handler.wait_for(2) == ["gap", "after"]
    assert handler.tries == 5
    assert "set aside" not in ListenerCursor.objects.get(tenant=tenant).gap


def test_an_event_fastavro_refuses_with_any_error_is_skipped_and_later_events_move(tenant, sandbox, start):
    """Bytes that do not decode are skipped whatever fastavro raises: an out-of-range union branch raises an
    IndexError, which held the tenant's stream on that event for ever."""
    import uuid

    from sandbox.pubsub.bus import RetainedEvent

    def inject(payload: bytes) -> None:
        bus = sandbox.world.pubsub
        org = sandbox.world.orgs.get(ORG_ID)
        schema, topic = bus.schema(org.org_id, EVENT), bus.topic(org.org_id, EVENT)
        position = next(bus._positions)
        bus._last_position = position
        topic.events.append(
            RetainedEvent(position, str(uuid.uuid4()), schema.schema_id, payload, {}, time.time())
        )
        topic.tip = position
        for subscription in topic.subscriptions:
            subscription.wake.set()

    recorder = Recorder()
    start(tenant, recorder)
    wait_until(lambda: subscriber_count(sandbox) == 1, message="subscription")
    publish(sandbox, "before")
    recorder.wait_for(1)
    sandbox.call(lambda: inject(b"\x02\x02a\x08"))  # a long, a string, then union branch 4: there is none
    publish(sandbox, "after")
    assert recorder.wait_for(2) == ["before", "after"]
