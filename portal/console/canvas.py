"""Verify a Canvas signed request (``base64(HMAC-SHA256(secret, base64(json))).base64(json)``), as
Salesforce's Canvas SDK (``SignedRequest.java``) does."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time

# Canvas requests carry no expiry of their own; one older than this is refused as a replay.
MAX_AGE_SECONDS = 15 * 60


class CanvasError(Exception):
    """The signed request is malformed, tampered with, too old, or for an org we do not know."""


def _decode64(text: str) -> bytes:
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def unverified_envelope(signed_request: str) -> dict:
    """The payload, to find the org (and so the secret) before the signature can be checked."""
    if not signed_request or signed_request.count(".") != 1:
        raise CanvasError("This is not a Canvas signed request.")
    try:
        envelope = json.loads(_decode64(signed_request.split(".", 1)[1]))
    except (ValueError, binascii.Error):
        raise CanvasError("The signed request's payload is not readable JSON.") from None
    if not isinstance(envelope, dict):
        raise CanvasError("The signed request's payload is not an object.")
    return envelope


def org_id_of(envelope: dict) -> str:
    org = ((envelope.get("context") or {}).get("organization") or {}).get("organizationId") or ""
    if not org:
        raise CanvasError("The signed request names no organization.")
    return str(org)


def verify(signed_request: str, secret: str, *, now: float | None = None) -> dict:
    """The decoded request if its signature matches ``secret`` and it is recent; else CanvasError."""
    envelope = unverified_envelope(signed_request)
    if (envelope.get("algorithm") or "HMACSHA256").upper() != "HMACSHA256":
        raise CanvasError(f"Unsupported signing algorithm {envelope.get('algorithm')!r}.")
    signature, encoded = signed_request.split(".", 1)
    expected = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    try:
        given = _decode64(signature)
    except (ValueError, binascii.Error):
        given = b""
    if not secret or not hmac.compare_digest(expected, given):
        raise CanvasError(
            "The signature does not match: check that the Canvas consumer secret in Switchboard is the "
            "Connected App's consumer secret."
        )
    issued = envelope.get("issuedAt")
    if isinstance(issued, int | float) and (now or time.time()) - issued > MAX_AGE_SECONDS:
        raise CanvasError("This signed request has expired: reload the page in Salesforce.")
    return envelope
