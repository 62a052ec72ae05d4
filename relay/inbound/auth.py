"""Checks that a webhook really comes from the provider account whose URL it was posted to.

Infobip does not publish its HMAC header, so Switchboard fixes one: ``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of the raw body>`` (the sandbox sends the same; see sandbox/README.md).
Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import JsonResponse

from tenants.models import ProviderAccount

from .. import untrusted

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
TOKEN_HEADER = "X-Switchboard-Token"


class WebhookAuthError(Exception):
    pass


def same_secret(given: str, expected: str) -> bool:
    """Whether a credential a caller sent equals the expected one, in constant time.

    Compared as UTF-8 bytes: a header value is any latin-1 text (WSGI), and ``hmac.compare_digest`` refuses
    to compare ``str`` values with non-ASCII characters (a TypeError, so a 500 to whoever sent one)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def expected_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(headers, body: bytes | None, secret: str) -> None:
    """The signature of ``body``; with ``body`` None (not read yet), only that there is one."""
    given = headers.get(SIGNATURE_HEADER, "")
    if not given:
        raise WebhookAuthError(f"missing {SIGNATURE_HEADER} header")
    if body is not None and not same_secret(given.strip().lower(), expected_signature(secret, body)):
        raise WebhookAuthError(f"{SIGNATURE_HEADER} does not match the body")


def check_token_header(headers, secret: str) -> None:
    given = headers.get(TOKEN_HEADER, "")
    if not given:
        raise WebhookAuthError(f"missing {TOKEN_HEADER} header")
    if not same_secret(given, secret):
        raise WebhookAuthError(f"wrong {TOKEN_HEADER}")


def verify(account: ProviderAccount, headers, body: bytes | None) -> None:
    """Raise :class:`WebhookAuthError` with a reason safe to show the caller. With ``body`` None (before it is
    read), everything the headers alone decide: all of Basic or token credentials, the presence of a signature."""
    secret = str(account.webhook_secret)
    if not secret:
        raise WebhookAuthError("this account has no webhook credentials yet; generate them in the admin")
    if account.webhook_auth == ProviderAccount.WebhookAuth.HMAC:
        check_signature(headers, body, secret)
    elif account.webhook_auth == ProviderAccount.WebhookAuth.BASIC:
        scheme, _, encoded = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise WebhookAuthError("missing Basic credentials")
        try:
            # ValueError: base64 of non-ASCII text; binascii.Error and UnicodeDecodeError are ValueErrors too.
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            raise WebhookAuthError("malformed Basic credentials") from None
        user_ok = same_secret(username, account.webhook_username)
        password_ok = same_secret(password, secret)
        if not (user_ok and password_ok):
            raise WebhookAuthError("wrong Basic credentials")
    else:
        check_token_header(headers, secret)


def json_error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def body_limit() -> int:
    """WEBHOOK_MAX_BYTES. A provider's largest batch is larger than Django's DATA_UPLOAD_MAX_MEMORY_SIZE (meant for
    forms and the partner API), and a batch refused for its size comes back whole at every retry until the
    provider gives up on every message in it: machine-to-machine POSTs read their body themselves."""
    return settings.WEBHOOK_MAX_BYTES


def _read_body(request, size: int) -> bytes:
    """Up to ``size`` bytes of the body. A body without Content-Length (sent chunked) Django reads as empty; where
    the server ends the stream itself (``wsgi.input_terminated``: gunicorn decodes the chunks and stops at the
    last) it is read from the server's stream, so a chunked batch is not refused at every retry as unsigned.
    Anywhere else (an ASGI server hands Django the whole body) Django's own stream."""
    meta = request.META
    if "CONTENT_LENGTH" not in meta and meta.get("wsgi.input_terminated") and "wsgi.input" in meta:
        return meta["wsgi.input"].read(size)
    return request.read(size)


def read_verified_json(request, check: Callable[[object, bytes | None], None], *, who: str):
    """The JSON document of a machine-to-machine POST, after the size limit and ``check(headers, body)``
    (which raises WebhookAuthError); or the 4xx response that says what is wrong.

    ``check`` runs first with ``body`` None, before a byte of the body is read: a caller without credentials
    (or with wrong ones, where the headers carry them) is refused without making the server take up to
    ``WEBHOOK_MAX_BYTES`` of anything it sends. Then with the body, for a signature over it.

    The JSON is read strictly (relay/untrusted.py): NaN, Infinity, numbers beyond a double and nesting
    deeper than ``untrusted.MAX_JSON_DEPTH`` are not JSON any provider or bot sends, and get a 400."""
    limit = body_limit()
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return json_error(400, "the Content-Length header is not a number")
    if declared > limit:
        return json_error(413, f"body over {limit} bytes")
    refused = _refused(request, check, None, who)
    if refused is not None:
        return refused
    # From the stream, not request.body, which refuses more than DATA_UPLOAD_MAX_MEMORY_SIZE; one byte over the
    # limit is enough to know.
    body = _read_body(request, limit + 1)
    if len(body) > limit:
        return json_error(413, f"body over {limit} bytes")
    refused = _refused(request, check, body, who)
    if refused is not None:
        return refused
    try:
        return untrusted.loads(body)
    except untrusted.UnacceptableJSON as exc:
        return json_error(400, f"malformed JSON: {exc}")


def _refused(request, check: Callable[[object, bytes | None], None], body: bytes | None, who: str):
    try:
        check(request.headers, body)
    except WebhookAuthError as exc:
        log.warning("%s refused: %s", who, exc)
        return json_error(401, f"authentication failed: {exc}")
    return None
