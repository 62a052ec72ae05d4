"""The relay's HTTP clients keep no cookies (relay/http.py). One client serves every tenant of a process: a cookie
that one tenant's endpoint set (a partner's webhook receiver's session, say) must never ride on another tenant's
request to the same host."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from relay import http


class SetsACookie(BaseHTTPRequestHandler):
    """Answers every request with a session cookie, and records the Cookie header each request carried."""

    seen: list[str | None] = []

    def _answer(self) -> None:
        type(self).seen.append(self.headers.get("Cookie"))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b"{}"
        self.send_response(200)
        self.send_header("Set-Cookie", "session=tenant-a-secret; Path=/")
        self.send_header("Set-Cookie", "BrowserId=abc; Path=/; Max-Age=3600")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - the stdlib's names

    def log_message(self, *args):
        pass


@pytest.fixture
def cookie_url():
    SetsACookie.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SetsACookie)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.parametrize("system", ["salesforce", "provider", "media", "partner"])
def test_a_cookie_one_answer_set_is_not_sent_with_the_next_request(cookie_url, system):
    first = http.request(system, "POST", cookie_url, json={"tenant": "a"})
    assert first.headers.get_list("set-cookie")  # the answer did set cookies
    http.request(system, "POST", cookie_url + "other-tenant", json={"tenant": "b"})
    http.status_only(system, "GET", cookie_url)
    assert SetsACookie.seen == [None, None, None]
    assert not http.client(system).cookies
    with pytest.raises(TypeError):
        http.client(system).cookies = {"session": "x"}


def test_the_streaming_clients_keep_none_either(cookie_url):
    async def twice() -> None:
        async with http.async_client(max_connections=1, read_timeout=5) as client:
            for _ in range(2):
                response = await client.get(cookie_url)
                assert response.status_code == 200
            assert not client.cookies

    # On a thread of its own: Playwright's sync API (the browser tests) keeps an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, twice()).result()
    assert SetsACookie.seen == [None, None]


def test_an_ordinary_httpx_client_would_have_sent_it(cookie_url):
    """The control: the server's cookie is one httpx keeps by default."""
    with httpx.Client() as client:
        client.get(cookie_url)
        client.get(cookie_url)
    assert SetsACookie.seen[0] is None
    assert "session=tenant-a-secret" in (SetsACookie.seen[1] or "")
