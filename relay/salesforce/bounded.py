"""Salesforce's answers with a bound on what an error answer may make us read.

:func:`relay.http.request` reads every body whole. A successful answer is what we asked for; an error answer
(status 300 and up) is only ever read for its documented envelope (``{"message": ...}``,
``[{"errorCode": ..., "message": ...}]``), a few hundred bytes. A proxy, a misconfigured host or a hostile one
could send megabytes instead, and every retry would read them again: :func:`request` reads an error body up to
:data:`ERROR_BODY_MAX_BYTES` and closes the connection on the rest. A body cut short is no longer JSON, so the
callers fall back to the status's reason phrase, which is all such an answer deserves.

Used by the desks' API clients (Enhanced Chat, Legacy Chat) and the REST client (the Cases desk's records).
"""

from __future__ import annotations

import httpx

from .. import http

ERROR_BODY_MAX_BYTES = 64 * 1024

# The body handed on is already decoded, and shorter than any length the server declared.
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def request(system: str, method: str, url: str, **kwargs) -> httpx.Response:
    """As :func:`relay.http.request`, reading an error answer's body only up to ERROR_BODY_MAX_BYTES."""
    with http.errors(system), http.client(system).stream(method, url, **kwargs) as response:
        if response.status_code < 300:
            response.read()
            return response
        return _cut_short(response)


def _cut_short(response: httpx.Response) -> httpx.Response:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= ERROR_BODY_MAX_BYTES:
            del body[ERROR_BODY_MAX_BYTES:]
            break  # leaving the stream closes the connection: the rest is never read
    headers = [
        (name, value) for name, value in response.headers.multi_items() if name.lower() not in _BODY_HEADERS
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=bytes(body), request=response.request
    )
