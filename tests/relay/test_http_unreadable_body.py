"""A body the other side compressed wrongly is their transient error, not an internal error of ours."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from relay import http
from relay.errors import ExternalError


class BadGzip(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        body = b"this is not gzip at all"
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def bad_gzip_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BadGzip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.parametrize("system", ["salesforce", "provider", "media"])
def test_a_badly_compressed_body_is_a_transient_external_error(bad_gzip_url, system):
    with pytest.raises(ExternalError) as raised:
        http.request(system, "GET", bad_gzip_url)
    assert not raised.value.permanent
    assert "unreadable body" in str(raised.value)
