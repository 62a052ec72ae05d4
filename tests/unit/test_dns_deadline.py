"""Host name lookups have a deadline and a bounded number of threads (portal/egress.py): a DNS server that never
answers, which anyone who may submit a URL can name, holds neither a web worker nor an ever-growing pile of
threads; the URL validators say so in words instead of failing with a 500."""

from __future__ import annotations

import socket

import httpcore
import pytest
from django.core.exceptions import ValidationError

from portal import egress
from portal.egress import DeadlineResolver, ResolutionUnfinished
from relay import http
from relay.errors import ExternalError
from tenants.validators import validate_endpoint_url, validate_https_url
from tests.hung_dns import PUBLIC_ADDRESS, hung_dns  # noqa: F401 - the fixture


@pytest.fixture
def nothing_listed(settings):
    settings.EGRESS_ALLOWED_HOSTS = []


def test_a_lookup_that_never_answers_ends_at_the_deadline(hung_dns):  # noqa: F811
    resolver = DeadlineResolver(max_pending=2)
    with pytest.raises(ResolutionUnfinished) as caught:
        resolver.getaddrinfo("slow.hang.test", 443, timeout=0.05)
    assert caught.value.reason == "slow.hang.test did not resolve within 0.05 s"
    hung_dns.wait_until_blocked(1)  # its thread still waits for the DNS; the caller does not


def test_lookups_past_their_deadline_fill_the_pool_and_a_new_one_is_refused_until_they_end(hung_dns):  # noqa: F811
    resolver = DeadlineResolver(max_pending=2, wait_for_slot=0.01)
    for n in range(2):
        with pytest.raises(ResolutionUnfinished):
            resolver.getaddrinfo(f"slow{n}.hang.test", 443, timeout=0.01)
    hung_dns.wait_until_blocked(2)
    with pytest.raises(ResolutionUnfinished) as caught:
        resolver.getaddrinfo("fine.answers.test", 443, timeout=5)  # a healthy name: still no thread for it
    assert "2 host name lookups are already waiting for the DNS to answer" in caught.value.reason
    assert hung_dns.blocked == 2  # no third thread was started

    hung_dns.release.set()  # the DNS finally gives up: the slots come back
    hung_dns.wait_until_blocked(0)
    ((*_, sockaddr),) = resolver.getaddrinfo("fine.answers.test", 443, timeout=5)
    assert sockaddr == (PUBLIC_ADDRESS, 443)


def test_an_answer_and_a_resolver_error_come_through_as_they_were(monkeypatch):
    def no_such_host(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(socket.gaierror):  # an answer ("no such host"), not the lack of one
        egress.resolve("nowhere.test", 443)
    assert egress.resolve("93.184.216.34", 443) == [egress.literal_address("93.184.216.34")]  # no lookup


@pytest.mark.parametrize("validator", [validate_https_url, validate_endpoint_url], ids=lambda v: v.__name__)
def test_a_url_whose_host_never_resolves_is_refused_with_the_reason(
    nothing_listed,
    hung_dns,  # noqa: F811
    settings,
    validator,
):
    settings.EGRESS_DNS_TIMEOUT_SECONDS = 0.05
    with pytest.raises(ValidationError) as caught:
        validator("https://api.hang.test/hook")
    (message,) = caught.value.messages
    assert "api.hang.test did not resolve within 0.05 s" in message
    assert caught.value.error_list[0].code == "url_unresolved"


def test_the_guard_takes_no_answer_for_a_connection_that_may_work_later(hung_dns, settings):  # noqa: F811
    settings.EGRESS_DNS_TIMEOUT_SECONDS = 0.05
    with pytest.raises(httpcore.ConnectTimeout, match="did not resolve within 0.05 s"):
        egress.checked_addresses("partner.hang.test", 443)
    with pytest.raises(ExternalError) as caught:
        http.request("partner", "POST", "https://partner.hang.test/hook", content=b"{}")
    assert not caught.value.permanent  # retried later, as any connection that timed out
