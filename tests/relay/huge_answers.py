"""A local host that answers every request with a 50 MB body, counting how much of it it got to send before the
client hung up: what the relay's bounded reading (relay/http.py) is tested against. Salesforce's token endpoint
answers a token (unless ``huge_token``), so the clients that need one get as far as their own call."""

from __future__ import annotations

import gzip
import threading
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUGE = 50 * 1024 * 1024
CHUNK = 64 * 1024
# Whatever the kernel's socket buffers took before the client hung up is counted as sent: far below HUGE.
NOT_READ_WHOLE = HUGE // 4
FRAMINGS = ("length", "chunked", "gzip")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client hanging up mid-answer is what these tests make happen


@cache
def _gzipped() -> bytes:
    return gzip.compress(b'{"message": "' + b"x" * HUGE + b'"}', compresslevel=1)


class HugeAnswers:
    """``framing``: ``length`` declares the 50 MB in Content-Length; ``chunked`` declares nothing (chunked
    transfer coding); ``gzip`` sends a small gzip body (declared) that decodes to 50 MB."""

    def __init__(self, status: int = 200, *, framing: str = "length", huge_token: bool = False) -> None:
        assert framing in FRAMINGS
        self.framing = framing
        self.sent: list[int] = []  # bytes of body written, one entry per finished huge answer
        self.paths: list[str] = []  # every request's path, in order
        self.finished = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                with server.finished:
                    server.paths.append(self.path)
                if self.path.startswith("/services/oauth2/token") and not huge_token:
                    body = f'{{"access_token": "00Dtoken", "instance_url": "{server.url}"}}'.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if framing == "gzip":
                    self._gzip()
                    return
                if framing == "length":
                    self.send_header("Content-Length", str(HUGE + 13))
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sent = 0
                try:
                    self._write(b'{"message": "')
                    while sent < HUGE:
                        self._write(b"x" * CHUNK)
                        sent += CHUNK
                    if framing == "chunked":
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                server.ended(sent)

            def _gzip(self) -> None:
                body = _gzipped()
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                server.ended(HUGE)  # what it decodes to: only the client's reading can be bounded

            def _write(self, data: bytes) -> None:
                if framing == "chunked":
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def ended(self, sent: int) -> None:
        with self.finished:
            self.sent.append(sent)
            self.finished.notify_all()

    def answers_sent(self, count: int) -> list[int]:
        """The body sizes of the first ``count`` huge answers, once each has ended (the client hung up)."""
        with self.finished:
            assert self.finished.wait_for(lambda: len(self.sent) >= count, 30), (
                f"{len(self.sent)} answers ended"
            )
            return self.sent[:count]

    def __enter__(self) -> HugeAnswers:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
