"""An error answer from Salesforce is read only up to relay.salesforce.bounded.ERROR_BODY_MAX_BYTES: a 50 MB error
body (a proxy's page, a misconfigured or hostile host) is never read whole, by the Enhanced Chat and Legacy Chat
API clients, the Enhanced Chat check, or the REST client the Cases desk writes its records with."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from relay.desks.enhanced_chat_api import EnhancedChatApi
from relay.desks.enhanced_chat_check import check_enhanced_chat
from relay.desks.livechat_api import ChatApi
from relay.errors import ExternalError
from relay.salesforce import bounded
from relay.salesforce.auth import cache_key
from relay.salesforce.rest import SalesforceRest
from tenants.models import SalesforceConnection
from tests.factories import make_tenant
from tests.relay.salesforce_support import key_pair

HUGE = 50 * 1024 * 1024
CHUNK = 64 * 1024
# Whatever the kernel's socket buffers took before the client hung up is counted as sent: far below HUGE.
NOT_READ_WHOLE = HUGE // 4


class HugeErrors:
    """A host answering every request with ``status`` and a 50 MB JSON-looking body, counting what it got to send
    before the client closed the connection; the token endpoint answers a token, so the REST client gets that far."""

    def __init__(self, status: int = 500) -> None:
        self.sent: list[int] = []  # bytes of body written, one entry per finished huge answer
        self.finished = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path.startswith("/services/oauth2/token"):
                    body = f'{{"access_token": "00Dtoken", "instance_url": "{server.url}"}}'.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(HUGE))
                self.end_headers()
                sent = 0
                try:
                    self.wfile.write(b'{"message": "')
                    while sent < HUGE:
                        self.wfile.write(b"x" * CHUNK)
                        sent += CHUNK
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                with server.finished:
                    server.sent.append(sent)
                    server.finished.notify_all()

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answers_sent(self, count: int) -> list[int]:
        """The body sizes of the first ``count`` huge answers, once each has ended (the client hung up)."""
        with self.finished:
            assert self.finished.wait_for(lambda: len(self.sent) >= count, 30), (
                f"{len(self.sent)} answers ended"
            )
            return self.sent[:count]


@pytest.fixture
def huge_errors(settings):
    host = HugeErrors()
    settings.EGRESS_ALLOWED_HOSTS = [host.url.removeprefix("http://")]
    host.thread.start()
    yield host
    host.server.shutdown()
    host.server.server_close()


def test_an_error_body_is_read_up_to_the_bound_and_the_connection_dropped(huge_errors):
    response = bounded.request("salesforce", "POST", f"{huge_errors.url}/anything", json={})
    assert response.status_code == 500
    assert len(response.content) == bounded.ERROR_BODY_MAX_BYTES
    assert response.headers["content-length"] == str(bounded.ERROR_BODY_MAX_BYTES)  # not the declared 50 MB
    (sent,) = huge_errors.answers_sent(1)
    assert sent < NOT_READ_WHOLE


def test_the_enhanced_chat_api_and_its_check(huge_errors):
    api = EnhancedChatApi(huge_errors.url, "00D000000000001AAA", "Switchboard_Enhanced_Chat")
    with pytest.raises(ExternalError) as caught:
        api.send_text("token", "conversation-1", "message-1", "Hello")
    assert caught.value.status == 500 and "Internal Server Error" in caught.value.message
    check = check_enhanced_chat(huge_errors.url, "00D000000000001AAA", "Switchboard_Enhanced_Chat")
    assert "Enhanced Chat answered 500 (Internal Server Error)" in check.errors["scrt_url"]
    assert all(sent < NOT_READ_WHOLE for sent in huge_errors.answers_sent(2))


def test_the_legacy_chat_api(huge_errors):
    with pytest.raises(ExternalError) as caught:
        ChatApi(f"{huge_errors.url}/chat/rest").new_session()
    assert caught.value.status == 500
    assert len(caught.value.message) < 300  # what it shows of the body is a short excerpt
    (sent,) = huge_errors.answers_sent(1)
    assert sent < NOT_READ_WHOLE


@pytest.mark.django_db
def test_the_rest_client_of_the_cases_desk(huge_errors):
    private_key, certificate = key_pair()
    tenant = make_tenant()
    connection = SalesforceConnection.objects.create(
        tenant=tenant,
        login_url=huge_errors.url,
        instance_url=huge_errors.url,
        consumer_key="3MVG9-huge",
        integration_username="integration@acme.test",
        private_key=private_key,
        certificate=certificate,
    )
    cache.delete(cache_key(connection))  # the file cache outlives test runs: no token of an earlier one
    with pytest.raises(ExternalError) as caught:
        SalesforceRest(connection).create("Case", {"Subject": "Parcel"})
    assert caught.value.status == 500 and not caught.value.permanent
    (sent,) = huge_errors.answers_sent(1)
    assert sent < NOT_READ_WHOLE
