"""The shared cache's few commands that run on every message: the configuration's version token (GET, SET) and
a line's queued mark (SET NX, DEL).

Django's Redis cache backend builds a new redis client object for every command, which cost more than the
round trip itself (0.27 ms, most of it filling the client's table of response callbacks). With Redis, these
commands go through one client per process instead, on the cache's own connection pool (redis-py's pool is
thread-safe and reconnects after a fork), with the cache's own keys and value encoding: ``cache.get`` and
``cache.set`` anywhere else read and write the very same entries. Any other backend (the embedded file cache,
the tests' memory cache) is used through Django's cache API, as before.

Errors are the caller's: the shared cache is an accelerator, and each caller says what it does without it.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed


class _Direct:
    """One redis client on the default cache's primary server, with the cache's key and value encoding."""

    def __init__(self, backend: RedisCache) -> None:
        redis_cache = backend._cache  # noqa: SLF001 - the backend's client: its pools and serializer
        serializer = redis_cache._serializer  # type: ignore[attr-defined]  # noqa: SLF001
        self.backend = backend
        self.client = redis_cache.get_client(write=True)  # reads too: the primary, as writes, for exactness
        self.dumps = serializer.dumps
        self.loads = serializer.loads

    def key(self, key: str) -> str:
        return self.backend.make_and_validate_key(key)

    def timeout(self, seconds: float | None) -> int | None:
        """Whole seconds, as the backend's own commands give Redis (None: no expiry; 0: gone at once)."""
        return None if seconds is None else max(0, int(seconds))


_UNRESOLVED = object()
_direct: Any = _UNRESOLVED
_lock = threading.Lock()


def _redis() -> _Direct | None:
    """The process's direct client when the default cache is Redis, else None (use Django's cache API)."""
    global _direct
    direct = _direct
    if direct is _UNRESOLVED:
        with _lock:
            if _direct is _UNRESOLVED:
                backend = caches["default"]
                _direct = _Direct(backend) if isinstance(backend, RedisCache) else None
            direct = _direct
    return direct


def _forget(*, setting: str, **kwargs) -> None:
    """Tests that change CACHES get a client of the new cache."""
    global _direct
    if setting == "CACHES":
        with _lock:
            _direct = _UNRESOLVED


setting_changed.connect(_forget, dispatch_uid="portal-shared-cache-forget")


def get(key: str) -> Any:
    direct = _redis()
    if direct is None:
        return cache.get(key)
    value = direct.client.get(direct.key(key))
    return None if value is None else direct.loads(value)


def set(key: str, value: Any, timeout: float | None) -> None:  # noqa: A001 - the cache's own word
    direct = _redis()
    if direct is None:
        cache.set(key, value, timeout=timeout)
        return
    seconds = direct.timeout(timeout)
    if seconds == 0:  # Django's meaning of a zero timeout: gone at once
        direct.client.delete(direct.key(key))
    else:
        direct.client.set(direct.key(key), direct.dumps(value), ex=seconds)


def add(key: str, value: Any, timeout: float | None) -> bool:
    """Store ``value`` unless the key exists; True when stored."""
    direct = _redis()
    if direct is None:
        return bool(cache.add(key, value, timeout=timeout))
    seconds = direct.timeout(timeout)
    if seconds == 0:
        return bool(cache.add(key, value, timeout=0))  # never on a hot path: Django's own dance
    return bool(direct.client.set(direct.key(key), direct.dumps(value), ex=seconds, nx=True))


def delete(key: str) -> None:
    direct = _redis()
    if direct is None:
        cache.delete(key)
        return
    direct.client.delete(direct.key(key))
