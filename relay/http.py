"""One pooled HTTP client per outside system: the only place the relay opens connections.

Clients are created lazily per process (Celery forks workers; a pool must not cross a fork).
Tests and the demo point tenants at the sandbox by URL; nothing here is patched.

Every client goes through the egress guard (:mod:`portal.egress`): each request's URL is checked (https;
plain http only for EGRESS_ALLOWED_HOSTS; no credentials in it), on every redirect hop too, and every
connection is opened by the guarded network backend, which resolves the host, refuses non-public addresses
and connects to the address it checked. A refused request is a permanent :class:`ExternalError`
(code ``EGRESS_REFUSED``). Environment proxies and ``.netrc`` are ignored (``trust_env=False``): a proxy
would connect where the guard cannot see.

Every answer is read bounded, as it arrives (decoded), and the connection is dropped on the rest: a success body
up to ``HTTP_MAX_RESPONSE_BYTES`` (a larger one is a permanent :class:`ExternalError`, code
``RESPONSE_TOO_LARGE``), an error answer's (status 300 and up) cut at :data:`ERROR_BODY_MAX_BYTES` (callers only
look for the vendor's documented error envelope: a body cut short is no longer JSON, so they fall back to the
status's reason phrase, which is all such an answer deserves), a media download up to the caller's own cap.
Streams (:func:`async_client`) are long by nature: their readers bound each event, and an error answer with
:func:`aread_error`.
"""

from __future__ import annotations

import math
import os
import re
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cache

import anyio
import httpcore
import httpx
from django.conf import settings
from django.utils.http import parse_http_date_safe

from portal.egress import REQUEST_DEADLINE, EgressRefused, GuardedBackend, checked_addresses, url_problem

from .errors import RESPONSE_TOO_LARGE, ExternalError

EGRESS_REFUSED = "EGRESS_REFUSED"
INVALID_URL = "INVALID_URL"

_lock = threading.Lock()
_clients: dict[tuple[int, str], httpx.Client] = {}

SYSTEMS = ("salesforce", "provider", "media", "partner")

#: What an error answer (status 300 and up) may make us read: its documented envelope is a few hundred bytes,
#: and a proxy's page or a hostile host's megabytes would otherwise be read again on every retry.
ERROR_BODY_MAX_BYTES = 64 * 1024

# The body handed on is already decoded, and no longer than any length the server declared.
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def client(system: str) -> httpx.Client:
    """The shared client for ``system`` (``salesforce``, ``provider`` or ``media``)."""
    key = (os.getpid(), system)
    existing = _clients.get(key)
    if existing is not None:
        return existing
    with _lock:
        if key not in _clients:
            timeout = settings.HTTP_TIMEOUT_SECONDS
            _clients[key] = _Client(
                timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
                transport=GuardedTransport(
                    limits=httpx.Limits(max_connections=50, max_keepalive_connections=20)
                ),
                headers={"User-Agent": "Switchboard/0.1 (+https://github.com/switchboard)"},
                follow_redirects=False,
                trust_env=False,
                event_hooks={"request": [_check_url]},  # httpx runs it for every redirect hop too
            )
        return _clients[key]


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing.

    One client serves every tenant of the process, so a cookie one tenant's endpoint set (a partner's webhook
    receiver's session, Salesforce's on the shared login host) would ride on another tenant's requests to the
    same host. Every call the relay makes is authenticated by its own headers, and none needs a cookie; keeping
    none also saves httpx's cookie handling (a urllib request built for every response, about a tenth of a
    call's CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class _Stateless:
    """httpx's clients, but their ``cookies`` are :class:`_NoCookies` and cannot be set."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, value: object) -> None:
        raise TypeError("the relay's HTTP clients keep no cookies")


class _Client(_Stateless, httpx.Client):
    pass


class _AsyncClient(_Stateless, httpx.AsyncClient):
    pass


@cache
def _shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client of the process: each loads the CA bundle, about 20 ms of CPU (SSL_CERT_FILE
    and SSL_CERT_DIR still apply). httpx's transport made one of its own too, for the pool replaced here."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool whose connections the egress guard opens."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(verify=_shared_ssl_context(), limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_shared_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(),
        )


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The guard in front of httpcore's asyncio backend: the host is resolved and checked on a thread (the
    lookup blocks), then the connection goes to the address that was checked."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = await anyio.to_thread.run_sync(checked_addresses, host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise EgressRefused("Unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(verify=_shared_ssl_context(), limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_shared_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncGuardedBackend(),
        )


def async_client(*, max_connections: int, read_timeout: float | None) -> httpx.AsyncClient:
    """A new asyncio client through the egress guard, for one event loop (the caller closes it): long-lived
    streams such as Enhanced Chat's server-sent events. Keep ``max_connections`` small and use several clients
    for thousands of streams: httpcore's pool scans all its requests and connections on every event, so one
    pool of 10,000 streams spends its time there. Errors: wrap calls in :func:`errors`."""

    async def check(request: httpx.Request) -> None:
        _check_url(request)

    timeout = settings.HTTP_TIMEOUT_SECONDS
    return _AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout), read=read_timeout),
        transport=AsyncGuardedTransport(
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        ),
        headers={"User-Agent": "Switchboard/0.1 (+https://github.com/switchboard)"},
        follow_redirects=False,
        trust_env=False,
        event_hooks={"request": [check]},
    )


def _check_url(request: httpx.Request) -> None:
    url = request.url
    problem = url_problem(url.scheme, url.host, url.port, has_userinfo=bool(url.userinfo))
    if problem is not None:
        raise EgressRefused(problem)


def request(system: str, method: str, url: str, **kwargs) -> httpx.Response:
    """Send a request and read its answer bounded (see the module's docstring); connection errors and timeouts
    become transient :class:`ExternalError`, a destination the egress guard refuses a permanent one."""
    with errors(system), client(system).stream(method, url, **kwargs) as response:
        if response.status_code >= 300:
            return _read_error(response)
        max_bytes = settings.HTTP_MAX_RESPONSE_BYTES
        body = _read_up_to(response, max_bytes)
        if body is None:
            # Permanent: the same request gets the same answer. For a send this also means it is never sent
            # twice: its 2xx says it was accepted, whatever the body (an adapter may know it accepted: Infobip).
            raise ExternalError(
                f"{system} answered with more than {_mib(max_bytes)} MiB, the most Switchboard reads "
                "(HTTP_MAX_RESPONSE_BYTES)",
                permanent=True,
                status=response.status_code,
                code=RESPONSE_TOO_LARGE,
            )
        return _answer(response, body)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """The requests made in the block end within ``seconds`` in all (a timeout error past it), whatever the pace
    of the peer: each read has its own timeout, but a peer sending a byte now and then, each inside it, would
    otherwise hold the worker as long as it liked (portal/egress.py's DeadlineStream)."""
    token = REQUEST_DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        REQUEST_DEADLINE.reset(token)


def status_only(
    system: str, method: str, url: str, *, within: float | None = None, **kwargs
) -> httpx.Response:
    """Send a request and read only the status line and headers: the body is never read (a partner's endpoint
    answers us, but what it says is none of our business, and a huge answer costs nothing). ``within``: the
    whole request's deadline in seconds (:func:`deadline`)."""
    with (
        deadline(within) if within is not None else nullcontext(),
        errors(system),
        client(system).stream(method, url, **kwargs) as response,
    ):
        return response


def download(system: str, url: str, *, max_bytes: int, **kwargs) -> httpx.Response:
    """GET ``url`` reading at most ``max_bytes`` of the (decoded) body; a larger one is a permanent
    :class:`ExternalError` (code ``TOO_LARGE``) raised before the rest is read, and so is an answer still coming
    after half a line's lease (code ``TOO_SLOW``, the request's :func:`deadline`): each read has its timeout, but
    a host sending a byte now and then, each inside it, would hold the worker (and the conversation's line) for
    as long as it likes. An error answer is read as :func:`request` reads one."""
    within = settings.RELAY_LEASE_SECONDS / 2
    ends = time.monotonic() + within
    try:
        with deadline(within), errors(system), client(system).stream("GET", url, **kwargs) as response:
            if response.status_code >= 300:
                return _read_error(response)
            body = _read_up_to(response, max_bytes)
            if body is None:
                raise ExternalError(
                    f"the file is larger than {_mib(max_bytes)} MiB, the most Switchboard downloads",
                    permanent=True,
                    status=response.status_code,
                    code="TOO_LARGE",
                )
            return _answer(response, body)
    except ExternalError as exc:
        if exc.permanent or time.monotonic() < ends:
            raise
        # The deadline ended it: a host that slow will not do better on a retry.
        raise ExternalError(
            f"the file was still arriving after {within:.0f} s: too slow to wait for",
            permanent=True,
            code="TOO_SLOW",
        ) from exc


def _read_up_to(response: httpx.Response, max_bytes: int) -> bytes | None:
    """The decoded body, or None as soon as it is longer than ``max_bytes`` (declared so, or read so): leaving
    the stream unread closes the connection, so the rest never arrives."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return None
    body = bytearray()
    for chunk in _decoded(response, max_bytes + 1):
        body += chunk
        if len(body) > max_bytes:
            return None
    return bytes(body)


def _read_error(response: httpx.Response) -> httpx.Response:
    body = bytearray()
    for chunk in _decoded(response, ERROR_BODY_MAX_BYTES):
        body += chunk
        if len(body) >= ERROR_BODY_MAX_BYTES:
            break
    return _answer(response, bytes(body[:ERROR_BODY_MAX_BYTES]))


async def aread_error(response: httpx.Response) -> httpx.Response:
    """An error answer of an :func:`async_client` stream, read as :func:`request` reads one (cut at
    :data:`ERROR_BODY_MAX_BYTES`); the caller leaves the stream, which drops the connection on the rest."""
    body = bytearray()
    inflater = _Inflater.of(response, ERROR_BODY_MAX_BYTES)
    async for raw in response.aiter_raw():
        for chunk in inflater.feed(raw) if inflater else (raw,):
            body += chunk
            if len(body) >= ERROR_BODY_MAX_BYTES:
                return _answer(response, bytes(body[:ERROR_BODY_MAX_BYTES]))
    if inflater:
        body += inflater.flush()
    return _answer(response, bytes(body[:ERROR_BODY_MAX_BYTES]))


def _decoded(response: httpx.Response, piece: int) -> Iterator[bytes]:
    """The body as it arrives, its content coding undone in pieces of at most ``piece`` bytes."""
    inflater = _Inflater.of(response, piece)
    if inflater is None:
        yield from response.iter_raw()
        return
    for raw in response.iter_raw():
        yield from inflater.feed(raw)
    yield inflater.flush()


class _Inflater:
    """gzip or deflate undone as httpx would, but with a bound on what each piece may expand to: httpx's own
    decoders inflate a whole network read at once, and 64 KiB of a deflate bomb is 64 MiB."""

    def __init__(self, coding: str, piece: int) -> None:
        self._piece = piece
        # deflate: zlib-wrapped as the standard says, or raw as some servers send it (httpx tries both, so do we)
        self._raw_deflate_next = coding == "deflate"
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS if coding == "deflate" else zlib.MAX_WBITS | 16)

    @classmethod
    def of(cls, response: httpx.Response, piece: int) -> _Inflater | None:
        """The body's inflater; None when it has no content coding httpx undoes (others pass as they are)."""
        codings = [
            coding.strip().lower()
            for coding in response.headers.get_list("content-encoding", split_commas=True)
            if coding.strip().lower() in ("gzip", "deflate")
        ]
        if len(codings) > 1:  # no one compresses twice but to multiply what one byte becomes
            raise httpx.DecodingError("the body is compressed more than once")
        return cls(codings[0], piece) if codings else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                piece = self._inflate.decompress(data, self._piece)
            except zlib.error as exc:
                if not self._raw_deflate_next:
                    raise httpx.DecodingError(str(exc)) from exc
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self._raw_deflate_next = False
                continue
            self._raw_deflate_next = False
            data = self._inflate.unconsumed_tail
            if piece:
                yield piece

    def flush(self) -> bytes:
        try:
            return self._inflate.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc


def _answer(response: httpx.Response, body: bytes) -> httpx.Response:
    """The answer with ``body`` as its whole content (decoded already: the new response must not decode it
    again, and its length is what was read, not what was declared)."""
    headers = [
        (name, value) for name, value in response.headers.multi_items() if name.lower() not in _BODY_HEADERS
    ]
    return httpx.Response(response.status_code, headers=headers, content=body, request=response.request)


def _mib(max_bytes: int) -> int:
    return max_bytes // (1024 * 1024) or 1


@contextmanager
def errors(system: str):
    """httpx's errors and the guard's refusals as :class:`ExternalError`."""
    try:
        yield
    except EgressRefused as exc:
        raise ExternalError(
            f"{system} request refused: {exc.reason}", permanent=True, code=EGRESS_REFUSED
        ) from exc
    except (httpx.InvalidURL, UnicodeError) as exc:  # UnicodeError: a host IDNA cannot encode
        # A URL httpx cannot read (a media URL from a webhook, say) will never be readable: not our bug.
        raise ExternalError(
            f"{system} request refused: the URL cannot be read ({short_text(exc, 120)})",
            permanent=True,
            code=INVALID_URL,
        ) from exc
    except httpx.TimeoutException as exc:
        raise ExternalError(f"{system} timed out: {exc.__class__.__name__}", permanent=False) from exc
    except httpx.TransportError as exc:
        raise ExternalError(f"{system} unreachable: {exc.__class__.__name__}", permanent=False) from exc
    except httpx.DecodingError as exc:  # a body the other side compressed or encoded wrongly: theirs to fix
        raise ExternalError(
            f"{system} sent an unreadable body: {exc.__class__.__name__}", permanent=False
        ) from exc


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]+")


def short_text(value, limit: int = 200) -> str:
    """A vendor's error text as we show it: one line of printable characters, at most ``limit`` long.

    Only for the code and message fields of a vendor's documented error envelope; a raw body is never shown.
    """
    text = " ".join(_UNSAFE.sub(" ", str(value or "")).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def reason_phrase(status: int) -> str:
    """The standard phrase for a status code (never the upstream's own reason line, which is free text)."""
    return httpx.codes.get_reason_phrase(status) or "Unknown status"


RETRY_AFTER_MAX_SECONDS = 600.0


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The seconds a 429 or 503 asks us to wait, at most :data:`RETRY_AFTER_MAX_SECONDS`: whoever answers, a
    wait it names is never longer than that (an "inf" or a year would stop a stream or a renewal for good; a
    line's backoff caps it lower still, RELAY_RETRY_CAP_SECONDS). ``Retry-After`` is seconds or an HTTP date
    (RFC 9110, 10.2.3); a date is read against the answer's own ``Date`` when it has one (the two clocks agree
    by definition), else against ours. None when it names none we can read (absent, "nan", "soon")."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _seconds_until(value, response.headers.get("date"))
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX_SECONDS)


def _seconds_until(http_date: str, answered: str | None) -> float | None:
    when = parse_http_date_safe(http_date)  # Django's reader of RFC 9110's three date forms, GMT only
    if when is None:
        return None
    now = parse_http_date_safe(answered) if answered else None
    return float(when - (now if now is not None else time.time()))


def close_all() -> None:
    with _lock:
        for key in [k for k in _clients if k[0] == os.getpid()]:
            _clients.pop(key).close()
