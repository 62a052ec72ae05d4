"""Verify a Canvas signed request as Salesforce's Canvas SDK (``SignedRequest.java``) does, and accept each
one only once.

The format (Canvas Developer Guide, "Signed Request Authentication" and "CanvasRequest"):
``base64(HMAC-SHA256(consumer secret, base64(JSON CanvasRequest))) + "." + base64(JSON CanvasRequest)``;
the SDK decodes both halves with a URL-safe-tolerant codec and refuses any algorithm but the one named.

``issuedAt`` is *not* a request time: the guide documents it as "for internal use only" (older editions:
"the timestamp when the oauthToken was issued"), its example carries ``null`` and real requests carry opaque
negative 32-bit numbers such as ``-1555461611``. So nothing in the request dates it, and freshness cannot come
from it. What makes a request unique is its signature (an HMAC over everything Salesforce put in it, the
user's OAuth session token included), so replay protection is "each signature once": the first sight of a
signature's digest is recorded in the shared cache for ``REPLAY_WINDOW_SECONDS`` and any later post of the
same request is refused. The window is Salesforce's longest session timeout (24 hours): a request older
than that carries an OAuth token Salesforce has already expired.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from django.core.cache import cache

from relay import untrusted

ALGORITHM = "HMACSHA256"
REPLAY_WINDOW_SECONDS = 24 * 60 * 60
_SEEN_PREFIX = "console:canvas-seen:"


class CanvasError(Exception):
    """The signed request is malformed, tampered with, replayed, or for an org we do not know."""


def _decode64(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (the SDK's ``new Base64(true)`` accepts both)."""
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _parts(signed_request: str) -> tuple[str, str]:
    signature, dot, encoded = (signed_request or "").partition(".")
    if not dot or not signature or not encoded:
        raise CanvasError("This is not a Canvas signed request.")
    return signature, encoded


def unverified_envelope(signed_request: str) -> dict:
    """The payload, to find the org (and so the secret) before the signature can be checked."""
    _, encoded = _parts(signed_request)
    try:
        # Read strictly (relay/untrusted.py), as every body posted from outside: this runs before the signature
        # can be checked, and json.loads would raise RecursionError (a 500) on "[[[[...".
        envelope = untrusted.loads(_decode64(encoded))
    except (ValueError, binascii.Error):  # untrusted.UnacceptableJSON is a ValueError
        raise CanvasError("The signed request's payload is not readable JSON.") from None
    if not isinstance(envelope, dict):
        raise CanvasError("The signed request's payload is not an object.")
    return envelope


def org_id_of(envelope: dict) -> str:
    context = envelope.get("context")
    organization = context.get("organization") if isinstance(context, dict) else None
    org = organization.get("organizationId") if isinstance(organization, dict) else None
    if not org or not isinstance(org, str):
        raise CanvasError("The signed request names no organization.")
    return org


def verify(signed_request: str, secret: str) -> dict:
    """The decoded CanvasRequest if it is signed with ``secret``; else CanvasError. ``issuedAt`` is ignored:
    it is not a time (see the module docstring)."""
    envelope = unverified_envelope(signed_request)
    algorithm = envelope.get("algorithm") or ALGORITHM  # the SDK's default when the field is absent
    if not isinstance(algorithm, str) or algorithm.upper() != ALGORITHM:
        raise CanvasError(f"Unsupported signing algorithm {str(algorithm)[:40]!r}.")
    signature, encoded = _parts(signed_request)
    expected = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    try:
        given = _decode64(signature)
    except (ValueError, binascii.Error):
        given = b""
    if not secret or not hmac.compare_digest(expected, given):
        raise CanvasError(NOT_VERIFIED)
    return envelope


# One answer for a signature that does not match and for an org no tenant has (verified with no secret): told
# apart, they would tell anyone with an org id whether that org uses Switchboard. The log says which it was.
NOT_VERIFIED = (
    "The signature does not match, or this Salesforce org is not connected to Switchboard (or its tenant is "
    "disabled): check that the org is connected and that the Canvas consumer secret in Switchboard is the "
    "Connected App's consumer secret."
)


def claim_once(signed_request: str, *, tenant_id: int) -> None:
    """Record a verified request as used; CanvasError if it was used before (a replay).

    Call only after :func:`verify`, so that nobody can fill the cache with requests they could not sign.
    The key is a digest of the signature, never the request itself (it carries the user's OAuth token).
    """
    signature, _ = _parts(signed_request)
    digest = hashlib.sha256(_decode64(signature)).hexdigest()
    if not cache.add(f"{_SEEN_PREFIX}{tenant_id}:{digest}", 1, timeout=REPLAY_WINDOW_SECONDS):
        raise CanvasError(
            "This signed request was already used. Salesforce signs a new one each time it opens the page: "
            "reload the page in Salesforce."
        )
