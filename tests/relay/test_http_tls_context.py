"""The relay's HTTP clients share one TLS context per process (relay/http.py). Building one loads the CA bundle,
about 20 ms of CPU: the sync clients (one per outside system) and every asyncio client (Enhanced Chat's streams
open many) each built two, one of them for a pool they then replaced, on the first message after a start."""

from __future__ import annotations

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from relay import http


@pytest.fixture
def contexts_built(monkeypatch):
    built: list[ssl.SSLContext] = []
    real = httpx.create_ssl_context

    def counting(*args, **kwargs):
        context = real(*args, **kwargs)
        if kwargs.get("verify", args[0] if args else True) is True:  # a context loaded, not one handed in
            built.append(context)
        return context

    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    monkeypatch.setattr("httpx._transports.default.create_ssl_context", counting)
    http._shared_ssl_context.cache_clear()
    http.close_all()
    yield built
    http.close_all()
    http._shared_ssl_context.cache_clear()


def test_every_client_of_a_process_shares_one_tls_context(contexts_built):
    clients = [http.client(system) for system in http.SYSTEMS]

    async def two_stream_clients():
        for _ in range(2):
            async with http.async_client(max_connections=2, read_timeout=None):
                pass

    # A loop of its own, on a thread: another test of the session may have left one running on this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, two_stream_clients()).result()

    assert len(clients) == 4
    assert len(contexts_built) == 1
    # The pools the guard opens connections with use it: certificates are still verified.
    context = clients[0]._transport._pool._ssl_context  # noqa: SLF001 - the pool behind httpx's transport
    assert context is contexts_built[0]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
