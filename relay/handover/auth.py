"""Checks that a handover call comes from the tenant's bot. Every comparison is constant-time."""

from __future__ import annotations

from ..inbound.auth import WebhookAuthError, check_signature, check_token_header, same_secret
from .models import HandoverEndpoint

HandoverAuthError = WebhookAuthError  # the same checks (and error) as the provider webhooks


def verify(endpoint: HandoverEndpoint, headers, body: bytes | None) -> None:
    """Raise :class:`HandoverAuthError` with a reason safe to show the caller; with ``body`` None (not read yet),
    what the headers alone decide (relay/inbound/auth.py's ``read_verified_json``)."""
    secret = str(endpoint.secret)
    if not secret:
        raise HandoverAuthError("this endpoint has no secret yet; generate one in the admin")
    if endpoint.auth == HandoverEndpoint.Auth.HMAC:
        check_signature(headers, body, secret)
    elif endpoint.auth == HandoverEndpoint.Auth.BEARER:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HandoverAuthError("missing Authorization: Bearer <secret>")
        if not same_secret(token.strip(), secret):
            raise HandoverAuthError("wrong bearer token")
    else:
        check_token_header(headers, secret)
