"""Checks that a handover call comes from the tenant's bot. Every comparison is constant-time."""

from __future__ import annotations

import hmac

from ..webhook_auth import SIGNATURE_HEADER, TOKEN_HEADER, expected_signature
from .models import HandoverEndpoint


class HandoverAuthError(Exception):
    pass


def verify(endpoint: HandoverEndpoint, headers, body: bytes) -> None:
    """Raise :class:`HandoverAuthError` with a reason safe to show the caller."""
    secret = str(endpoint.secret)
    if not secret:
        raise HandoverAuthError("this endpoint has no secret yet; generate one in the admin")
    if endpoint.auth == HandoverEndpoint.Auth.HMAC:
        given = headers.get(SIGNATURE_HEADER, "")
        if not given:
            raise HandoverAuthError(f"missing {SIGNATURE_HEADER} header")
        if not hmac.compare_digest(given.strip().lower(), expected_signature(secret, body)):
            raise HandoverAuthError(f"{SIGNATURE_HEADER} does not match the body")
    elif endpoint.auth == HandoverEndpoint.Auth.BEARER:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HandoverAuthError("missing Authorization: Bearer <secret>")
        if not hmac.compare_digest(token.strip().encode(), secret.encode()):
            raise HandoverAuthError("wrong bearer token")
    else:
        given = headers.get(TOKEN_HEADER, "")
        if not given:
            raise HandoverAuthError(f"missing {TOKEN_HEADER} header")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise HandoverAuthError(f"wrong {TOKEN_HEADER}")
