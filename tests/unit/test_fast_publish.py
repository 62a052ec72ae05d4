"""The wake's own publish (portal/fast_publish.py) writes to the Redis broker what Celery's ``apply_async`` writes,
a real Celery worker runs it, and anywhere it could differ Celery's own publish is used. Needs a Redis server
(the broker's, when it is Redis); skipped without one."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import datetime

import pytest
import redis
from celery import Celery, signals
from celery import _state as celery_state
from celery.contrib.testing.worker import start_worker

from portal import broker, fast_publish
from relay import tasks
from relay.lines import wake

REDIS_URL = os.environ.get("CELERY_BROKER_URL", "")
if not REDIS_URL.startswith("redis://"):
    REDIS_URL = os.environ.get("CACHE_URL", "")

ran: list[tuple] = []


def _redis() -> redis.Redis:
    if not REDIS_URL.startswith("redis://"):
        pytest.skip("no Redis server: CELERY_BROKER_URL or CACHE_URL names none")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("the Redis server named does not answer")
    return client


@pytest.fixture
def app():
    client = _redis()
    queue = (
        f"test-fast-publish-{uuid.uuid4().hex[:8]}"  # this test's own list, whoever else uses the database
    )
    celery = Celery("fast-publish-test", broker=REDIS_URL, set_as_current=False)
    celery.conf.update(
        broker_transport=broker.TRANSPORT,
        task_default_queue=queue,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )

    @celery.task(name="relay.tasks.test_wake", ignore_result=True, shared=False)
    def wake(conversation_id: int) -> None:
        ran.append((conversation_id,))

    celery.wake = wake  # type: ignore[attr-defined]
    celery.queue_list = client  # type: ignore[attr-defined]
    yield celery
    client.delete(queue)


def _popped(app) -> dict:
    raw = app.queue_list.rpop(app.conf.task_default_queue)
    assert raw is not None, "nothing was published"
    return json.loads(raw)


def _comparable(message: dict) -> tuple[dict, float | None]:
    """The message without what differs on every publish (ids, the eta), the body decoded; and the eta."""
    message = json.loads(json.dumps(message))
    headers, properties = message["headers"], message["properties"]
    assert headers["root_id"] == headers["id"] == properties["correlation_id"]
    for key in ("id", "root_id"):
        uuid.UUID(headers.pop(key))
    uuid.UUID(properties.pop("correlation_id"))
    uuid.UUID(properties.pop("delivery_tag"))
    eta = headers.pop("eta")
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return message, eta and datetime.fromisoformat(eta).timestamp()


@pytest.mark.parametrize("countdown", [0, 30])
def test_the_message_is_the_one_celery_writes(app, countdown):
    publisher = fast_publish.Publisher(app)
    if countdown:
        app.wake.apply_async((42,), countdown=countdown)
    else:
        app.wake.delay(42)
    celerys = _popped(app)
    publisher.publish(app.wake, (42,), countdown)
    ours = _popped(app)
    ours_without_eta, our_eta = _comparable(ours)
    celerys_without_eta, celerys_eta = _comparable(celerys)
    assert ours_without_eta == celerys_without_eta
    assert ours_without_eta["body"] == [
        [42],
        {},
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
    ]
    if countdown:
        assert our_eta is not None and celerys_eta is not None
        assert 0 <= our_eta - celerys_eta < 1  # ours published just after, with the same countdown
    else:
        assert our_eta is None and celerys_eta is None


@pytest.fixture
def project_app_restored():
    """start_worker makes its app the current and default one, which the relay's shared tasks then resolve to
    (with that app's settings: not eager, for every later test): the project's app is put back."""
    project = celery_state.get_current_app()
    yield
    project.set_current()
    project.set_default()
    assert tasks.deliver_inbound.app is project


def test_a_real_worker_runs_what_it_publishes(app, project_app_restored):
    ran.clear()
    publisher = fast_publish.Publisher(app)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        publisher.publish(app.wake, (7,))
        publisher.publish(app.wake, (8,), countdown=0.2)
        app.wake.delay(9)  # Celery's own beside it, as a rolling deploy mixes them
        for _ in range(200):
            if len(ran) == 3:
                break
            app.queue_list.blpop("test-fast-publish-nothing", timeout=0.05)  # waits without sleeping blindly
    assert sorted(ran) == [(7,), (8,), (9,)]
    assert app.queue_list.llen(app.conf.task_default_queue) == 0


def test_the_signals_are_sent_only_for_what_is_pushed(app):
    published: list[str] = []

    def before(sender=None, **kwargs):
        published.append(sender)

    mark = fast_publish.Mark(f"relay:queued:test:{uuid.uuid4().hex}", 30)
    signals.before_task_publish.connect(before, weak=False)
    try:
        publisher = fast_publish.Publisher(app)
        assert publisher.publish(app.wake, (1,), unless_marked=mark)
        assert not publisher.publish(app.wake, (2,), unless_marked=mark)  # the mark is taken: not published
    finally:
        signals.before_task_publish.disconnect(before)
        app.queue_list.delete(mark.key)
    assert published == ["relay.tasks.test_wake"]
    assert _popped(app)["body"] and app.queue_list.llen(app.conf.task_default_queue) == 0


def test_the_publish_signals_are_sent_as_celery_sends_them(app):
    seen: list[tuple[str, str]] = []

    def before(sender=None, headers=None, **kwargs):
        headers["traceparent"] = "00-trace"  # what a tracer adds
        seen.append(("before", sender))

    def after(sender=None, **kwargs):
        seen.append(("after", sender))

    signals.before_task_publish.connect(before, weak=False)
    signals.after_task_publish.connect(after, weak=False)
    try:
        fast_publish.Publisher(app).publish(app.wake, (1,))
    finally:
        signals.before_task_publish.disconnect(before)
        signals.after_task_publish.disconnect(after)
    assert seen == [("before", "relay.tasks.test_wake"), ("after", "relay.tasks.test_wake")]
    assert _popped(app)["headers"]["traceparent"] == "00-trace"


@pytest.mark.parametrize(
    "setting",
    [
        {"broker_url": "filesystem://localhost/"},
        {"broker_url": "amqp://guest@localhost//"},
        # Failover brokers (Celery's broker_url "a;b"): kombu tries each in turn, one redis client cannot.
        {"broker_url": "redis://redis-a:6379;redis://redis-b:6379"},
        {"broker_url": "redis://redis-a:6379/0;redis://redis-b:6379/0"},
        {"broker_transport": None},
        {"task_routes": {"relay.tasks.*": {"queue": "relay"}}},
        {"task_compression": "gzip"},
        {"task_serializer": "pickle"},
        {"task_protocol": 1},
        {"task_default_priority": 5},
        {"broker_transport_options": {"global_keyprefix": "sb:"}},
        {"enable_utc": False},
        {"broker_url": "rediss://127.0.0.1:6380/0", "broker_use_ssl": {"ssl_cert_reqs": "none"}},
        {"broker_url": "redis://127.0.0.1:6379/0?visibility_timeout=3600"},  # kombu's options, not redis-py's
    ],
)
def test_celerys_own_publish_wherever_the_message_could_differ(setting, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery's conf reads it before the app's own

    def configured(**changes):
        url = changes.pop("broker_url", "redis://127.0.0.1:6379/0")
        celery = Celery("fast-publish-test", broker=url, set_as_current=False)
        celery.conf.update({"broker_transport": broker.TRANSPORT, **changes})
        return celery.conf

    assert fast_publish.writes_what_celery_writes(configured())
    assert not fast_publish.writes_what_celery_writes(configured(**setting))


def test_eager_tasks_are_celery_s(app, monkeypatch):
    monkeypatch.setattr(fast_publish, "_publisher", fast_publish.Publisher(app))
    app.conf.task_always_eager = True
    assert fast_publish.active(app) is None
    app.conf.task_always_eager = False
    assert fast_publish.active(app) is fast_publish._publisher


# --- the wakes (relay/lines/wake.py) on it: the mark and the push in one round trip -------------------------

LINE, OTHER = (
    9_000_001,
    9_000_002,
)  # ids no other test's conversation has: the marks live in the broker's Redis


@pytest.fixture
def wakes(app, monkeypatch, settings):
    """The relay's wakes publishing to this test's queue; returns what is queued there, oldest first, as
    (task name, args, whether it has an eta)."""
    settings.RELAY_NOTICES_GATHER_SECONDS = 0.25
    monkeypatch.setitem(tasks.deliver_inbound.app.conf, "task_always_eager", False)
    monkeypatch.setattr(fast_publish, "_publisher", fast_publish.Publisher(app))
    keys = [f"relay:queued:{kind}:{pk}" for kind in ("in", "out", "notices") for pk in (LINE, OTHER)]
    app.queue_list.delete(*keys)

    def queued() -> list[tuple[str, list, bool]]:
        found = []
        for raw in reversed(app.queue_list.lrange(app.conf.task_default_queue, 0, -1)):
            message = json.loads(raw)
            args = json.loads(base64.b64decode(message["body"]))[0]
            found.append((message["headers"]["task"], args, message["headers"]["eta"] is not None))
        return found

    yield queued
    app.queue_list.delete(*keys)


def test_a_wake_while_its_task_is_queued_pushes_nothing(wakes, app, settings):
    for _ in range(3):
        wake.inbound_line(LINE)
    wake.inbound_line(OTHER)
    wake.outbound_line(LINE)
    wake.notices(10, LINE)
    wake.notices(11, LINE)  # the queued task sends both
    assert wakes() == [
        ("relay.tasks.deliver_inbound", [LINE], False),
        ("relay.tasks.deliver_inbound", [OTHER], False),
        ("relay.tasks.deliver_outbound", [LINE], False),
        ("relay.tasks.notify_salesforce", [10], True),  # after the gather
    ]
    ttl = app.queue_list.ttl(f"relay:queued:in:{LINE}")
    assert 0 < ttl <= settings.RELAY_LEASE_SECONDS  # it expires should the task never clear it


def test_the_task_clears_its_mark_or_takes_it_again(wakes):
    wake.inbound_line(LINE)
    assert not wake.again("in", LINE)  # queued: a task woken since reads the work
    wake.finished("in", LINE)
    wake.inbound_line(LINE)
    wake.finished("in", LINE)
    assert wake.again("in", LINE)  # free: the task runs the line again itself, holding the mark
    wake.inbound_line(LINE)
    assert [name for name, _, _ in wakes()] == ["relay.tasks.deliver_inbound"] * 2


def test_the_sweeper_forces_and_a_wake_without_a_conversation_always_pushes(wakes):
    wake.inbound_line(LINE)
    wake.line(LINE, "in", force=True)
    wake.notices(12)
    wake.notices(12)
    wake.notices(13, LINE, force=True)
    assert wakes() == [
        ("relay.tasks.deliver_inbound", [LINE], False),
        ("relay.tasks.deliver_inbound", [LINE], False),
        ("relay.tasks.notify_salesforce", [12], True),
        ("relay.tasks.notify_salesforce", [12], True),
        ("relay.tasks.notify_salesforce", [13], False),  # the sweeper's: at once
    ]


def test_without_the_broker_s_redis_every_wake_goes_through_celery(wakes, monkeypatch):
    celery: list[tuple] = []
    monkeypatch.setattr(tasks.deliver_inbound, "delay", lambda *args: celery.append(("in", args)))
    monkeypatch.setattr(
        tasks.notify_salesforce,
        "apply_async",
        lambda args, countdown: celery.append(("notices", args, countdown)),
    )

    def unreachable(*args, **kwargs):
        raise redis.ConnectionError("Redis went away")

    def broken(*args, **kwargs):
        raise TypeError("__init__() got an unexpected keyword argument")  # a defect, not Redis: still no 500

    publisher = fast_publish._publisher
    monkeypatch.setattr(publisher, "_mark_and_push", unreachable)
    monkeypatch.setattr(publisher.client, "set", unreachable)
    monkeypatch.setattr(publisher.client, "lpush", broken)
    wake.inbound_line(LINE)
    wake.inbound_line(LINE)
    wake.notices(14, LINE)
    wake.inbound_line(OTHER, force=True)  # no mark: a plain push
    assert celery == [("in", (LINE,)), ("in", (LINE,)), ("notices", (14,), 0.25), ("in", (OTHER,))]
    assert wake.again("in", LINE)  # without marks, run again rather than leave the work waiting
    assert wakes() == []
