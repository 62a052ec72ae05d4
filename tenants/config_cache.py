"""Per-process caches of the configuration every message reads: a webhook's provider account, its senders, a
tenant with its Salesforce connection, a sender with its account, a sender's routing rules.

Read on every message, written a few times a month: without a cache each message paid the same queries again,
and two or three secret decryptions (``EncryptedTextField`` decrypts as it loads). Here each process keeps what
it loaded, tagged with the configuration's version, a token in the shared cache (Redis): any change to these
models (``post_save``/``post_delete``, and a queryset's ``update``/``delete``, hooked in ``TenantQuerySet``)
writes a new token once its transaction commits, and every process reloads on its next read. Without the shared
cache, every read goes to the database, as before.

**The token is read once per unit of work**, not once per lookup: a web request (``request_started``), a Celery
task (``task_prerun``), or an explicit :func:`unit_of_work`. A change committed before a unit starts is seen by
every read of that unit; one committed while it runs is seen from the next unit on (as a change committed just
after the read of the token always was). Outside any unit (a long-lived thread), every lookup reads the token.
The thread that publishes a change takes its new token at once, so its own later reads see the change.

The objects handed out are shared by the threads of a process: read them, never change them in place.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

from celery.signals import task_postrun, task_prerun
from django.core.signals import request_finished, request_started
from django.db import transaction

from portal import shared_cache

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

_UNREAD = object()  # a unit of work that has not read the token yet
_units = threading.local()  # .open: the token of each open unit of this thread, innermost last


def current_version() -> str | None:
    """The configuration's version token, None when the shared cache cannot be read (then nothing is cached).
    Read once per unit of work (see the module's docstring)."""
    open_units = getattr(_units, "open", None)
    if not open_units:
        return _read_version()
    version = open_units[-1]
    if version is _UNREAD:
        version = open_units[-1] = _read_version()  # None too: a cache that is down is not asked again
    return version


def _read_version() -> str | None:
    try:
        version = shared_cache.get(VERSION_KEY)
        if version is None:  # never set, or evicted: a fresh token, so no process keeps what it had
            shared_cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = shared_cache.get(VERSION_KEY)
    except Exception:  # noqa: BLE001 - the cache is an accelerator: read the database instead
        log.warning("config cache: the shared cache is unavailable; reading the database", exc_info=True)
        return None
    return version


def begin_unit(**kwargs) -> None:
    """A unit of work starts in this thread: its first lookup reads the token, the others reuse it."""
    if not hasattr(_units, "open"):
        _units.open = []
    _units.open.append(_UNREAD)


def end_unit(**kwargs) -> None:
    open_units = getattr(_units, "open", None)
    if open_units:
        open_units.pop()


def _begin_request(**kwargs) -> None:
    # A request is the outermost unit of its thread: whatever an earlier request of the thread left open
    # (a request_finished that never came) is dropped, so no token outlives the request that read it.
    _units.open = [_UNREAD]


def _end_request(**kwargs) -> None:
    _units.open = []


@contextlib.contextmanager
def unit_of_work() -> Iterator[None]:
    """An explicit unit (a batch of a long-lived process): the token is read once inside it."""
    begin_unit()
    try:
        yield
    finally:
        end_unit()


request_started.connect(_begin_request, dispatch_uid="config-cache-request-started")
request_finished.connect(_end_request, dispatch_uid="config-cache-request-finished")
# An eager task runs inside its caller's unit: it opens a unit of its own and gives the caller's back.
task_prerun.connect(begin_unit, dispatch_uid="config-cache-task-prerun", weak=False)
task_postrun.connect(end_unit, dispatch_uid="config-cache-task-postrun", weak=False)


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
    version = uuid.uuid4().hex
    try:
        shared_cache.set(VERSION_KEY, version, timeout=None)
    except Exception:  # noqa: BLE001 - logged; entries then live until the cache is back and changes again
        log.error("config cache: could not publish a configuration change", exc_info=True)
        return
    # Another thread of this process, in a unit that read the old token, may have reloaded the old rows
    # (uncommitted until now) under it: this thread's open unit moves to the new token, so its own next
    # read loads what it just committed.
    open_units = getattr(_units, "open", None)
    if open_units:
        open_units[-1] = version


def clear_local() -> None:
    """Forget this process's entries (tests)."""
    with _lock:
        _entries.clear()
