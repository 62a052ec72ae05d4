"""Every answer from outside is read bounded, at relay/http.py: a 50 MB success answer (declared in Content-Length,
chunked with no length, or a small gzip body that decodes to 50 MB) is read no further than
HTTP_MAX_RESPONSE_BYTES, its connection dropped, and the call fails for good with RESPONSE_TOO_LARGE: for every
system's client (the Infobip and 8x8 adapters, the Interaction Service, the token endpoint, the REST client, the
Enhanced Chat and Legacy Chat APIs). A send Infobip accepted stays sent; media keeps its own cap; the Enhanced
Chat stream's error answers are cut like any other."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache

from relay import http
from relay.desks.enhanced_chat_api import EnhancedChatApi
from relay.desks.enhanced_chat_feed import EnhancedChatFeed, StreamTarget
from relay.desks.livechat_api import ChatApi
from relay.errors import RESPONSE_TOO_LARGE, ExternalError
from relay.providers.base import OutboundContent
from relay.providers.eightbyeight.client import EightByEightProvider
from relay.providers.infobip.client import InfobipProvider
from relay.salesforce.auth import cache_key, mint_token
from relay.salesforce.interactions import InteractionClient, now_ms
from relay.salesforce.rest import SalesforceRest
from tenants.models import ProviderAccount, SalesforceConnection, Sender
from tests.factories import make_tenant
from tests.relay.egress_support import Answer, LocalEndpoint
from tests.relay.huge_answers import FRAMINGS, NOT_READ_WHOLE, HugeAnswers, _gzipped
from tests.relay.salesforce_support import key_pair

CAP = 1024 * 1024
ORG_ID = "00D000000000001AAA"


def allow(settings, host: HugeAnswers) -> HugeAnswers:
    settings.EGRESS_ALLOWED_HOSTS = [host.url.removeprefix("http://")]
    settings.HTTP_MAX_RESPONSE_BYTES = CAP
    return host


@pytest.fixture(params=FRAMINGS)
def huge(request, settings):
    with HugeAnswers(200, framing=request.param) as host:
        yield allow(settings, host)


def assert_not_read_whole(host: HugeAnswers, count: int = 1) -> None:
    """Each answer ended (the client hung up) long before its 50 MB were sent; a gzip body is small on the
    wire whatever it decodes to, so only the client's raising shows that it stopped."""
    sent = host.answers_sent(count)
    if host.framing != "gzip":
        assert all(size < NOT_READ_WHOLE for size in sent), sent


def too_large(caught: pytest.ExceptionInfo[ExternalError]) -> None:
    error = caught.value
    assert (error.code, error.permanent, error.status) == (RESPONSE_TOO_LARGE, True, 200)
    assert "more than 1 MiB" in error.message


# --- the shared client ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("system", ["salesforce", "provider"])
def test_a_huge_answer_is_read_up_to_the_cap_and_the_connection_dropped(huge, system):
    with pytest.raises(ExternalError) as caught:
        http.request(system, "POST", f"{huge.url}/anything", json={})
    too_large(caught)
    assert_not_read_whole(huge)


def test_an_answer_up_to_the_cap_is_read_whole_and_one_byte_more_is_not(settings):
    with HugeAnswers() as host:
        allow(settings, host)
        url = f"{host.url}/services/oauth2/token"
        body = http.request("salesforce", "POST", url).content
        assert http.request("salesforce", "POST", url).json()["access_token"] == "00Dtoken"
        settings.HTTP_MAX_RESPONSE_BYTES = len(body)
        assert http.request("salesforce", "POST", url).content == body
        settings.HTTP_MAX_RESPONSE_BYTES = len(body) - 1
        with pytest.raises(ExternalError) as caught:
            http.request("salesforce", "POST", url)
        assert caught.value.code == RESPONSE_TOO_LARGE


def test_a_compressed_answer_is_inflated_no_further_than_the_cap(settings):
    _gzipped()  # the host's body, made before measuring
    with HugeAnswers(framing="gzip") as host:
        allow(settings, host)
        tracemalloc.start()
        try:
            with pytest.raises(ExternalError) as caught:
                http.request("provider", "GET", f"{host.url}/anything")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    too_large(caught)
    assert peak < 4 * CAP  # httpx's own decoders inflate a whole network read at once: tens of MiB here


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(b'{"ok": true}')),
        ("deflate", zlib.compress(b'{"ok": true}')),  # zlib-wrapped, as the standard says
        ("deflate", zlib.compress(b'{"ok": true}')[2:-4]),  # raw, as some servers send it
        ("identity", b'{"ok": true}'),
        ("br", b'{"ok": true}'),  # a coding httpx does not undo passes as it is, as before
    ],
)
def test_compressed_answers_are_read_as_httpx_reads_them(coding, body):
    with LocalEndpoint() as endpoint:
        endpoint.answers["/x"] = Answer(200, body, {"Content-Encoding": coding})
        assert http.request("provider", "GET", f"{endpoint.url}/x").json() == {"ok": True}


def test_an_answer_compressed_twice_is_unreadable():
    with LocalEndpoint() as endpoint:
        twice = gzip.compress(gzip.compress(b'{"ok": true}'))
        endpoint.answers["/x"] = Answer(200, twice, {"Content-Encoding": "gzip, gzip"})
        with pytest.raises(ExternalError) as caught:
            http.request("provider", "GET", f"{endpoint.url}/x")
        assert "unreadable body" in caught.value.message and not caught.value.permanent


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_error_answer_is_cut_whatever_its_framing(settings, framing):
    with HugeAnswers(502, framing=framing) as host:
        allow(settings, host)
        response = http.request("provider", "GET", f"{host.url}/anything")
        assert response.status_code == 502 and len(response.content) == http.ERROR_BODY_MAX_BYTES
        assert_not_read_whole(host)


def test_a_media_download_keeps_its_own_cap(settings):
    with HugeAnswers(framing="chunked") as host:
        allow(settings, host)
        settings.MEDIA_MAX_BYTES = 4 * CAP  # larger than the answers' cap: its own applies
        with pytest.raises(ExternalError) as caught:
            http.download("media", f"{host.url}/file.png", max_bytes=settings.MEDIA_MAX_BYTES)
        assert (caught.value.code, caught.value.permanent) == ("TOO_LARGE", True)
        assert "larger than 4 MiB" in caught.value.message
        assert_not_read_whole(host)


# --- the providers ----------------------------------------------------------------------------------------------


def sms_sender(account: ProviderAccount) -> Sender:
    return Sender(account=account, channel="sms", address="+447860099299")


def test_infobip_a_send_it_accepted_stays_sent_under_our_id_and_is_not_sent_again(huge):
    account = ProviderAccount(provider="infobip", base_url=huge.url, api_key="ib-key")
    result = InfobipProvider().send(
        account,
        sms_sender(account),
        "+491701234567",
        OutboundContent(kind="text", text="Hello"),
        message_id="sb-1",
    )
    assert result.provider_message_id == "sb-1"
    assert_not_read_whole(huge)
    assert huge.paths == ["/sms/3/messages"]


def test_infobip_reading_calls_fail_for_good(huge):
    account = ProviderAccount(provider="infobip", base_url=huge.url, api_key="ib-key")
    with pytest.raises(ExternalError) as caught:
        InfobipProvider().list_templates(
            account, Sender(account=account, channel="whatsapp", address="+4478")
        )
    too_large(caught)
    assert_not_read_whole(huge)


def test_8x8_a_send_whose_answer_is_too_large_fails_once_and_is_not_sent_again(huge):
    account = ProviderAccount(
        provider="8x8", base_url=huge.url, api_key="8x8-key", subaccount_id="acme", provider_account_id="a1"
    )
    with pytest.raises(ExternalError) as caught:
        EightByEightProvider().send(
            account,
            sms_sender(account),
            "+491701234567",
            OutboundContent(kind="text", text="Hello"),
            message_id="sb-1",
        )
    too_large(caught)  # permanent: the pipeline fails it instead of sending it again
    with pytest.raises(ExternalError) as caught:
        EightByEightProvider().check_credentials(account)
    too_large(caught)
    assert_not_read_whole(huge, 2)


# --- Salesforce ---------------------------------------------------------------------------------------------------


def connection_to(url: str) -> SalesforceConnection:
    private_key, certificate = key_pair()
    connection = SalesforceConnection.objects.create(
        tenant=make_tenant(),
        login_url=url,
        instance_url=url,
        scrt_url=url,
        consumer_key="3MVG9-huge",
        integration_username="integration@acme.test",
        private_key=private_key,
        certificate=certificate,
    )
    cache.delete(cache_key(connection))  # the file cache outlives test runs: no token of an earlier one
    return connection


@pytest.mark.django_db
def test_the_interaction_service(huge):
    client = InteractionClient(connection_to(huge.url))
    with pytest.raises(ExternalError) as caught:
        client.send_text(
            "whatsapp:+447860099299", "+491701234567", "Hi", entry_id="e-1", timestamp_ms=now_ms()
        )
    too_large(caught)
    assert_not_read_whole(huge)


@pytest.mark.django_db
def test_the_rest_client(huge):
    with pytest.raises(ExternalError) as caught:
        SalesforceRest(connection_to(huge.url)).create("Case", {"Subject": "Parcel"})
    too_large(caught)
    assert_not_read_whole(huge)


@pytest.mark.django_db
@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_token_endpoint(settings, framing):
    with HugeAnswers(framing=framing, huge_token=True) as host:
        allow(settings, host)
        with pytest.raises(ExternalError) as caught:
            mint_token(connection_to(host.url))
        too_large(caught)
        assert_not_read_whole(host)


def test_the_enhanced_chat_and_legacy_chat_apis(huge):
    with pytest.raises(ExternalError) as caught:
        EnhancedChatApi(huge.url, ORG_ID, "Switchboard_Enhanced_Chat").send_text("token", "c-1", "m-1", "Hi")
    too_large(caught)
    with pytest.raises(ExternalError) as caught:
        ChatApi(f"{huge.url}/chat/rest").new_session()
    too_large(caught)
    assert_not_read_whole(huge, 2)


def test_the_enhanced_chat_streams_error_answer_is_cut(settings):
    """A stream is long by nature (its events are bounded one by one); its error answer is an answer like any."""

    async def read(url: str) -> ExternalError:
        feed = EnhancedChatFeed(db_threads=1)
        try:
            async with http.async_client(max_connections=1, read_timeout=30) as client:
                with pytest.raises(ExternalError) as caught:
                    target = StreamTarget(url=url, org_id=ORG_ID, token="t", last_event_id="")
                    await feed._read(client, 1, target)
        finally:
            feed._db.shutdown()
        return caught.value

    with HugeAnswers(500, framing="chunked") as host:
        allow(settings, host)
        # On a thread of its own: Playwright's sync API (the browser tests) keeps an event loop in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            error = pool.submit(asyncio.run, read(f"{host.url}/eventrouter/v1/sse")).result()
        assert error.status == 500 and "Internal Server Error" in error.message
        assert_not_read_whole(host)


class Dripping:
    """An endpoint that answers a byte at a time, each byte well inside the read timeout: ``head`` (by default
    a status line and a header never finished), then filler, ``limit`` bytes in all; it records how many it sent
    before the client hung up."""

    def __init__(
        self, head: bytes = b"HTTP/1.1 200 OK\r\nX-Slow: ", limit: int = 400, pace: float = 0.02
    ) -> None:
        self.head, self.limit, self.pace, self.sent = head, limit, pace, 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        connection.recv(65536)
        answer = self.head + b"a" * self.limit
        try:
            for byte in answer[: self.limit]:
                connection.sendall(bytes([byte]))
                self.sent += 1
                time.sleep(self.pace)
        except OSError:
            pass  # the client hung up
        finally:
            connection.close()
            self.server.close()
            self.done.set()


def test_a_partner_endpoint_dripping_its_answer_is_cut_at_the_post_s_deadline(settings):
    """Each read has its timeout, and a peer sending a byte now and then, each inside it, held the worker for as
    long as it liked (a partner's endpoint: hours, and the event was sent again once the claim ran out). The
    request's deadline ends it: a timeout, long before the endpoint is done."""
    endpoint = Dripping()
    settings.EGRESS_ALLOWED_HOSTS = [endpoint.url.removeprefix("http://")]
    with pytest.raises(ExternalError) as caught:
        http.status_only("partner", "POST", f"{endpoint.url}/hook", within=0.5, content=b"{}")
    assert (
        not caught.value.permanent and "timed out" in caught.value.message
    )  # the pace is far inside the read timeout
    assert endpoint.done.wait(20)
    assert endpoint.sent < endpoint.limit  # the client hung up before the endpoint had said everything


def test_a_media_download_still_arriving_after_half_a_lease_stops_for_good(settings):
    """Each read has its timeout, but nothing bounded the whole download: a host dripping its body held the
    worker and the conversation's line for as long as it liked. Past half a lease it stops: a permanent error,
    so the agent gets the file as a link, and the rest is not read."""
    host = Dripping(head=b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 400\r\n\r\n")
    settings.EGRESS_ALLOWED_HOSTS = [host.url.removeprefix("http://")]
    settings.RELAY_LEASE_SECONDS = 1  # half a lease: 0.5 s, against 8 s of dripping
    with pytest.raises(ExternalError) as caught:
        http.download("media", f"{host.url}/file.png", max_bytes=settings.MEDIA_MAX_BYTES)
    assert (caught.value.code, caught.value.permanent) == ("TOO_SLOW", True)
    assert "still arriving" in caught.value.message
    assert host.done.wait(20)
    assert host.sent < host.limit  # not read whole
