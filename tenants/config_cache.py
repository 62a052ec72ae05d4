"""Per-process caches of the configuration every message reads: a webhook's provider account, its senders, a
tenant with its Salesforce connection, a sender with its account, a sender's routing rules.

Read on every message, written a few times a month: without a cache each message paid the same queries again,
and two or three secret decryptions (``EncryptedTextField`` decrypts as it loads). Here each process keeps what
it loaded, tagged with the configuration's version, a token in the shared cache (Redis): any change to these
models (``post_save``/``post_delete``, and a queryset's ``update``/``delete``, hooked in ``TenantQuerySet``)
writes a new token once its transaction commits, and every process reloads on its next read. A read costs one
cache GET instead of the queries; without the shared cache, every read goes to the database, as before.

The objects handed out are shared by the threads of a process: read them, never change them in place.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

VERSION_KEY = "tenants:config-version"
# What the cached objects are made of: a change to any of these makes every process reload.
WATCHED = frozenset(
    {
        "tenants.Tenant",
        "tenants.SalesforceConnection",
        "tenants.ProviderAccount",
        "tenants.Sender",
        "tenants.RoutingRule",
    }
)
MAX_ENTRIES = 20_000  # a process serving thousands of tenants keeps them all; past this, it starts over

T = TypeVar("T")
_entries: dict[tuple, tuple[str, object]] = {}
_lock = threading.Lock()


def current_version() -> str | None:
    """The configuration's version token, None when the shared cache cannot be read (then nothing is cached)."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:  # never set, or evicted: a fresh token, so no process keeps what it had
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
    except Exception:  # noqa: BLE001 - the cache is an accelerator: read the database instead
        log.warning("config cache: the shared cache is unavailable; reading the database", exc_info=True)
        return None
    return version


def cached(kind: str, key: object, load: Callable[[], T]) -> T:
    """``load()``'s value for ``(kind, key)``, loaded once per process and configuration version."""
    version = current_version()
    if version is not None:
        entry = _entries.get((kind, key))
        if entry is not None and entry[0] == version:
            return entry[1]  # type: ignore[return-value]
    value = load()
    if version is not None:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[(kind, key)] = (version, value)
    return value


def changed(**kwargs) -> None:
    """The configuration changed: this process forgets its entries at once (its own next read sees the change,
    in the transaction or after it), and every process reloads once the change is committed (a new token any
    earlier would let another process cache the old rows under it)."""
    clear_local()
    transaction.on_commit(_new_version)


def _new_version() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - logged; entries then live until the cache is back and changes again
        log.error("config cache: could not publish a configuration change", exc_info=True)


def clear_local() -> None:
    """Forget this process's entries (tests)."""
    with _lock:
        _entries.clear()
