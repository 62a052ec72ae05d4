"""The egress guard: which addresses the server may open a connection to.

Every outbound request (Salesforce, providers, partner webhooks, media, the wizard's checks) goes through
:mod:`relay.http`, whose connections are opened by :class:`GuardedBackend`: it resolves the host once, refuses
the connection when any address is not a public one (loopback, private, link-local, CGNAT, multicast,
reserved, unspecified, cloud metadata, and the IPv6 forms that carry such an IPv4 address), then connects to
the very address it checked, so a second DNS answer cannot swap in another one (DNS rebinding). TLS still
verifies the host name (SNI and the certificate) and the ``Host`` header stays the name.

Local addresses are reachable only for the hosts the operator lists in ``EGRESS_ALLOWED_HOSTS`` (``host`` or
``host:port``), such as the sandbox of the demo and the tests; the list is empty by default.

Host names are looked up with a deadline (``EGRESS_DNS_TIMEOUT_SECONDS``) on a few threads (:class:`DeadlineResolver`):
a URL someone submits may name a host whose DNS server never answers, and the lookup must not hold a web worker
for as long as the system resolver would wait.

The same rules back the validators of configured URLs (:mod:`tenants.validators`), so a URL the guard would
refuse is refused when it is saved, with the reason: that is why the guard lives here, beside the settings it
reads, and not in the relay (configuration never imports the relay).
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Union

import httpcore
from django.conf import settings

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]  # noqa: UP007 - used at run time

CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Cloud instance metadata and host agents that are not inside a range refused anyway (169.254.169.254, AWS's
# fd00:ec2::254 and Alibaba's 100.100.100.200 are): Azure's WireServer is a public address.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "168.63.129.16", "100.100.100.200", "fd00:ec2::254")
)
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
SCHEMES = ("https", "http")


class EgressRefused(Exception):
    """The guard refused a destination; ``reason`` says why in words an admin can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- addresses -----------------------------------------------------------------------------------------------


def _embedded_ipv4(ip: IPAddress) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, NAT64, IPv4-compatible), and the form."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    if any(ip in prefix for prefix in NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d, the deprecated IPv4-compatible form
        return ipaddress.IPv4Address(int(ip)), "IPv4-compatible"
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why the server must not connect to ``ip``; None for a public address."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        inner, form = embedded
        problem = address_problem(inner)
        if problem is not None:
            return f"{problem} ({form} form of {inner})"
        if form in (
            "NAT64",
            "IPv4-mapped",
        ):  # a public IPv4 address reached through DNS64/NAT64 or a v6 socket
            return None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.version == 4 and ip in CGNAT:
        return "a carrier-grade NAT (shared) address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if ip.version == 6 and ip.teredo is not None:
        return "a Teredo tunnel address"
    if not ip.is_global:
        return "not a public address"
    return None


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


# --- the operator's list -------------------------------------------------------------------------------------


def _normalized(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    address = literal_address(host)
    return str(address) if address is not None else host.strip("[]")


def _parse_entry(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` → (host, port or None)."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:  # a bare name, IPv4 or unbracketed IPv6 address
        host, port = entry, ""
    return _normalized(host), int(port) if port.isdigit() else None


def allowed_hosts() -> list[tuple[str, int | None]]:
    return [_parse_entry(e) for e in getattr(settings, "EGRESS_ALLOWED_HOSTS", []) if e and e.strip()]


def is_allowed_host(host: str, port: int | None) -> bool:
    """The operator listed this host (any port) or this host:port: local addresses are allowed for it."""
    name = _normalized(host)
    return any(
        name == listed and (listed_port is None or listed_port == port)
        for listed, listed_port in allowed_hosts()
    )


# --- destinations --------------------------------------------------------------------------------------------


class ResolutionUnfinished(Exception):
    """A host name lookup that gave no answer: it took longer than the deadline, or too many lookups were
    pending already. ``reason`` says which, in words an admin can act on. Not a ``socket.gaierror``: that the
    name does not exist is an answer, this is the lack of one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeadlineResolver:
    """``socket.getaddrinfo`` with a deadline, on at most ``max_pending`` threads.

    The C resolver cannot be interrupted, so a lookup past its deadline keeps its thread until the resolver's
    own timeout ends it; the caller has gone by then. The threads are bounded: while ``max_pending`` lookups are
    unfinished (a slow or hostile DNS server, which anyone who can submit a URL can name), a new lookup is
    refused after ``wait_for_slot`` seconds instead of queueing. Daemon threads: a hung lookup never holds up
    the process's exit.
    """

    def __init__(self, max_pending: int = 32, *, wait_for_slot: float = 0.25) -> None:
        self.max_pending = max_pending
        self.wait_for_slot = wait_for_slot
        self._slots = threading.BoundedSemaphore(max_pending)

    def getaddrinfo(self, host: str, port: int, *, timeout: float) -> list:
        if not self._slots.acquire(timeout=min(self.wait_for_slot, timeout)):
            raise ResolutionUnfinished(
                f"{host} was not looked up: {self.max_pending} host name lookups are already waiting for the "
                "DNS to answer; try again in a moment"
            )
        answer: Future[list] = Future()

        def lookup() -> None:
            try:
                answer.set_result(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
            except Exception as exc:  # handed to the caller, who re-raises it
                answer.set_exception(exc)
            finally:
                self._slots.release()

        try:
            threading.Thread(target=lookup, name="egress-dns", daemon=True).start()
        except BaseException:
            self._slots.release()  # no thread: the slot was never used
            raise
        try:
            return answer.result(timeout=timeout)
        except FutureTimeout:
            raise ResolutionUnfinished(f"{host} did not resolve within {timeout:g} s") from None


_resolver = DeadlineResolver()


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to: socket.gaierror when it does not resolve, ResolutionUnfinished when
    no answer came within EGRESS_DNS_TIMEOUT_SECONDS (or too many lookups are pending)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = _resolver.getaddrinfo(host, port, timeout=settings.EGRESS_DNS_TIMEOUT_SECONDS)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = literal_address(str(sockaddr[0]))
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


def refusal(host: str, addresses: Iterable[IPAddress]) -> str | None:
    """The reason to refuse ``host`` when any of its addresses is not public (a host with one public and one
    private address is refused: which one a connection gets is up to whoever answers the DNS query)."""
    for address in addresses:
        problem = address_problem(address)
        if problem is not None:
            shown = "" if literal_address(host) == address else f" resolves to {address}, which is"
            return f"{host}{shown} {problem}" if shown else f"{host} is {problem}"
    return None


def checked_addresses(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` and return the addresses to connect to, or raise :class:`EgressRefused`."""
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
    except ResolutionUnfinished as exc:  # transient: the next attempt may get an answer
        raise httpcore.ConnectTimeout(exc.reason) from exc
    if not addresses:
        raise httpcore.ConnectError(f"{host} does not resolve")
    if not is_allowed_host(host, port):
        reason = refusal(host, addresses)
        if reason is not None:
            raise EgressRefused(f"{reason} (add it to EGRESS_ALLOWED_HOSTS if it is yours)")
    return addresses


def url_problem(scheme: str, host: str, port: int | None, *, has_userinfo: bool = False) -> str | None:
    """What is wrong with a destination URL before any connection: its scheme, credentials in it."""
    if scheme not in SCHEMES:
        return f"the {scheme or 'missing'} scheme is not allowed (https only)"
    if has_userinfo:
        return "a URL with a user name or password in it is not allowed"
    if scheme == "http" and not is_allowed_host(host, port or 80):
        return f"plain http to {host} is not allowed (https only; http only for EGRESS_ALLOWED_HOSTS)"
    return None


# When the request this thread is making must be over (time.monotonic()), or None: each read and write of its
# connection waits at most until then, so a peer sending a byte now and then (each inside the read timeout)
# cannot hold the request for longer. Set by relay.http's deadline().
REQUEST_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "request_deadline", default=None
)


def _within_deadline(timeout: float | None, *, reading: bool) -> float | None:
    deadline = REQUEST_DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        error = httpcore.ReadTimeout if reading else httpcore.WriteTimeout
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads and writes end by the current request's deadline (:data:`REQUEST_DEADLINE`)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_deadline(timeout, reading=True))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_deadline(timeout, reading=False))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        timeout = _within_deadline(timeout, reading=True)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the guard in front: resolve, check, connect to that address."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options=None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in checked_addresses(host, port):
            try:
                stream = self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
                return DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc  # the next address, as socket.create_connection does
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, path: str, timeout=None, socket_options=None) -> httpcore.NetworkStream:
        raise EgressRefused("Unix sockets are not an outbound destination")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
