"""The Redis broker's transport (portal/broker.py): one redis client per channel for the commands kombu sends
outside its event loop (a publish, a late acknowledgement), a new one for a new connection pool, and tasks go
through it as through kombu's own. Needs a Redis server (CELERY_BROKER_URL); skipped without one."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors

from portal import broker
from portal.celery import app, redis_transport

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")


@pytest.fixture
def connection():
    if not BROKER_URL.startswith("redis://"):
        pytest.skip("no Redis broker: CELERY_BROKER_URL names none")
    try:
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("the Redis broker does not answer")
    with Connection(BROKER_URL, transport=broker.Transport) as conn:
        yield conn


def test_one_client_per_channel_and_a_new_one_for_a_new_pool(connection, monkeypatch):
    channel = connection.default_channel
    assert isinstance(channel, broker.Channel)
    built = []
    create = channel._create_client
    monkeypatch.setattr(channel, "_create_client", lambda *a, **k: built.append(1) or create(*a, **k))
    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second
        assert first.ping()
    given = redis.Redis.from_url(BROKER_URL)
    with channel.conn_or_acquire(given) as third:
        assert third is given  # a caller's own client is used as it is
    channel._pool = None  # what kombu does after a connection error: a new pool on next use
    with channel.conn_or_acquire() as fourth:
        assert fourth is not first and fourth.connection_pool is channel.pool
    assert len(built) == 2


def test_messages_published_and_acknowledged_through_it(connection):
    name = f"test-broker-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(name), routing_key=name)
    try:
        with connection.Producer() as producer:
            for n in range(3):
                producer.publish({"n": n}, exchange=queue.exchange, routing_key=name, declare=[queue])
        received = []
        server = redis.Redis.from_url(BROKER_URL)
        with connection.SimpleQueue(queue) as simple:
            unacked = simple.channel.unacked_key
            for _ in range(3):
                message = simple.get(timeout=5)
                assert server.hexists(unacked, message.delivery_tag)  # held until acknowledged (late ack)
                message.ack()
                assert not server.hexists(unacked, message.delivery_tag)
                received.append(message.payload["n"])
        assert received == [0, 1, 2]
    finally:
        connection.default_channel.queue_delete(name)


def test_a_redis_broker_gets_the_transport_and_others_keep_theirs():
    class Source(dict):
        __getattr__ = dict.get

        def __setattr__(self, key, value):
            self[key] = value

    source = Source(broker_url="redis://127.0.0.1:6379/0", broker_transport=None)
    redis_transport(sender=app, source=source)
    assert source.broker_transport == broker.TRANSPORT
    for url, transport in (
        ("filesystem://localhost/", None),
        ("redis://h/0", "memory"),
        ("rediss://h/0", None),
    ):
        other = Source(broker_url=url, broker_transport=transport)
        redis_transport(sender=app, source=other)
        assert other.broker_transport == transport


def test_closing_a_channel_after_its_connection_was_collected_raises_connection_errors_only(
    connection, monkeypatch
):
    """After a lost broker, Celery's consumer collects the connection (which lets go of its settings), then closes
    it, ignoring connection errors. The channel, whose close during the collect failed on the dead socket, puts
    its unacknowledged tasks back as it closes then, which needs a new pool built from those settings: kombu
    raised an AttributeError there, which nothing ignores, and the worker exited instead of reconnecting (a
    worker ended at every Redis restart of the fault soak)."""
    name = f"test-broker-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(name), routing_key=name)
    with connection.Producer() as producer:
        producer.publish({"n": 1}, exchange=queue.exchange, routing_key=name, declare=[queue])
    simple = connection.SimpleQueue(queue)
    simple.get(timeout=5)  # received, not acknowledged (a late ack): the close puts it back
    channel = simple.channel

    def dead_socket():
        raise redis.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(channel, "close", dead_socket)
    connection.collect()  # what Celery does first; the channel's close fails, as on a dead socket
    monkeypatch.undo()
    assert not channel.closed and channel.connection.client is None
    try:
        ignore_errors(connection, connection.close)  # Celery's next step: must raise nothing else
    finally:
        with Connection(BROKER_URL, transport=broker.Transport) as fresh:
            fresh.default_channel.queue_delete(name)
