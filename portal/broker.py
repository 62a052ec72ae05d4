"""Celery's Redis transport with one redis client per channel instead of one per command.

kombu's Redis channel builds a new ``redis.Redis`` object for every command it sends outside its event loop
(``conn_or_acquire``): the publish of a task, and in a worker the late acknowledgement and the bookkeeping of
every task it receives (``unacked``). Building one costs more than the round trip (redis-py fills its table of
response callbacks each time; portal/shared_cache.py met the same in Django's cache backend): in a worker under
a burst it was about a third of the consumer thread's CPU. The client only names the channel's connection
pool, which lends a connection per command and is thread-safe, so one client serves every caller; a new pool
(kombu makes one after a connection error) gets a new client.

portal/celery.py uses this transport when the broker URL is ``redis://``; everything else is kombu's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

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


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = "portal.broker:Transport"
