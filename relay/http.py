"""One pooled HTTP client per outside system: the only place the relay opens connections.

Clients are created lazily per process (Celery forks workers; a pool must not cross a fork).
Tests and the demo point tenants at the sandbox by URL; nothing here is patched.
"""

from __future__ import annotations

import os
import threading

import httpx
from django.conf import settings

from .errors import ExternalError

_lock = threading.Lock()
_clients: dict[tuple[int, str], httpx.Client] = {}

SYSTEMS = ("salesforce", "provider", "media")


def client(system: str) -> httpx.Client:
    """The shared client for ``system`` (``salesforce``, ``provider`` or ``media``)."""
    key = (os.getpid(), system)
    existing = _clients.get(key)
    if existing is not None:
        return existing
    with _lock:
        if key not in _clients:
            timeout = settings.HTTP_TIMEOUT_SECONDS
            _clients[key] = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
                headers={"User-Agent": "Switchboard/0.1 (+https://github.com/switchboard)"},
                follow_redirects=False,
            )
        return _clients[key]


def request(system: str, method: str, url: str, **kwargs) -> httpx.Response:
    """Send a request; connection errors and timeouts become transient :class:`ExternalError`."""
    try:
        return client(system).request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ExternalError(f"{system} timed out: {exc.__class__.__name__}", permanent=False) from exc
    except httpx.TransportError as exc:
        raise ExternalError(f"{system} unreachable: {exc.__class__.__name__}", permanent=False) from exc


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def close_all() -> None:
    with _lock:
        for key in [k for k in _clients if k[0] == os.getpid()]:
            _clients.pop(key).close()
