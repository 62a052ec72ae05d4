"""A DNS server that never answers, for the egress guard's lookup deadline (portal/egress.py).

``socket.getaddrinfo`` is replaced: a name under ``.hang.test`` blocks until the test ends (then it fails, as a
resolver's own timeout would), one under ``.answers.test`` answers a public address at once, any other name goes
to the real resolver. The teardown lets every blocked lookup go and waits until it has, so no thread outlives
the test holding a slot of the guard's resolver.
"""

from __future__ import annotations

import socket
import threading

import pytest

PUBLIC_ADDRESS = "93.184.216.34"


class HungDns:
    def __init__(self, real) -> None:
        self.real = real
        self.release = threading.Event()
        self.condition = threading.Condition()
        self.blocked = 0

    def getaddrinfo(self, host, port, *args, **kwargs):
        if str(host).endswith(".answers.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, port))]
        if not str(host).endswith(".hang.test"):
            return self.real(host, port, *args, **kwargs)
        with self.condition:
            self.blocked += 1
            self.condition.notify_all()
        try:
            self.release.wait()
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        finally:
            with self.condition:
                self.blocked -= 1
                self.condition.notify_all()

    def wait_until_blocked(self, count: int, timeout: float = 10.0) -> None:
        with self.condition:
            assert self.condition.wait_for(lambda: self.blocked == count, timeout), (
                f"{self.blocked} lookups blocked, not {count}"
            )


@pytest.fixture
def hung_dns(monkeypatch):
    dns = HungDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    yield dns
    dns.release.set()
    dns.wait_until_blocked(0)
