"""Celery's Redis transport with one redis client per channel instead of one per command.

kombu's Redis channel builds a new ``redis.Redis`` object for every command it sends outside its event loop
(``conn_or_acquire``): the publish of a task, and in a worker the late acknowledgement and the bookkeeping of
every task it receives (``unacked``). Building one costs more than the round trip (redis-py fills its table of
response callbacks each time; portal/shared_cache.py met the same in Django's cache backend): in a worker under
a burst it was about a third of the consumer thread's CPU. The client only names the channel's connection
pool, which lends a connection per command and is thread-safe, so one client serves every caller; a new pool
(kombu makes one after a connection error) gets a new client.

It also keeps a worker alive through a Redis restart. After a lost broker, Celery's consumer collects the
connection (which lets go of its settings), then closes it, ignoring connection errors; when Redis is back by
then, closing the channel gets as far as putting its unacknowledged tasks back, which builds a pool from the
settings that are gone. kombu raised an AttributeError there, which nothing ignores, and the worker exited
instead of reconnecting (every Redis restart of the fault soak ended a worker). Here it is the connection error
it is: ignored, and the consumer reconnects; the tasks it held stay in Redis's unacknowledged set, which kombu
restores after its visibility timeout, and the sweeper wakes their lines before that.

portal/celery.py uses this transport when the broker URL is ``redis://``; everything else is kombu's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    @contextlib.contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool
        shared = self._shared_client
        if shared is None or shared.connection_pool is not pool:
            shared = self._shared_client = self._create_client()
        yield shared

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:  # the kombu connection was collected or closed (see above)
            raise redis.ConnectionError("the broker connection was closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = "portal.broker:Transport"
