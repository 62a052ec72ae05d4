"""Enhanced Chat access tokens: JWT-shaped bearer strings naming an end-user subject, and their checks.

Salesforce documents the token only as "the JSON Web Token (JWT) provided by one of the access token
APIs"; clients treat it as opaque. The sandbox signs its own (HS256 with a per-boot secret) so a forged
or altered token is refused like an unknown one, and keeps every issued token to expire or revoke it.

Verified users (the "authenticated" token) prove who they are with a ``customerIdentityToken``. Real
Salesforce checks it against a keyset uploaded in User Verification setup; the sandbox checks an HS256
JWT signed with the deployment's ``verification_secret`` (a simplification: same checks of ``sub`` and
``exp``, a shared secret instead of a public key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field

SIGNING_KEY = secrets.token_bytes(32)  # per sandbox process: a restarted sandbox knows no old token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_jwt(payload: dict, key: bytes) -> str:
    """An HS256 JWT of ``payload`` (tests use it to make customer identity tokens too)."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def verify_jwt(token: str, key: bytes) -> dict | None:
    """The payload of an HS256 JWT signed with ``key``, or None when it is malformed or forged."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or len(token) > 8192:
        return None
    head, body, signature = parts
    expected = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(signature), expected):
            return None
        header, payload = json.loads(_unb64(head)), json.loads(_unb64(body))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(payload, dict):
        return None
    return payload


@dataclass
class AccessToken:
    value: str
    org_id: str  # 18-character org id
    deployment: str  # esDeveloperName
    subject: str  # the end user: every token of a subject sees the same conversations and events
    client_id: str
    expires_at: float
    verified: bool
    revoked: bool = False
    issued_at: float = field(default_factory=time.time)

    @property
    def valid(self) -> bool:
        return not self.revoked and time.time() < self.expires_at


def new_subject(deployment: str, verified_sub: str | None = None) -> str:
    """An end-user subject: a fresh guest, or the verified user's own (stable across tokens)."""
    if verified_sub is not None:
        return f"v2/iamessage/AUTH/{deployment}/uid:{verified_sub}"
    return f"v2/iamessage/UNAUTH/NA/uid:{uuid.uuid4()}"


def issue(
    *, org_id: str, deployment: str, subject: str, lifetime_seconds: float, verified: bool
) -> AccessToken:
    now = time.time()
    client_id = str(uuid.uuid4())
    payload = {
        "iss": "sandbox-scrt",
        "sub": subject,
        "orgId": org_id[:15],
        "esDeveloperName": deployment,
        "clientId": client_id,
        "iat": int(now),
        "exp": int(now + lifetime_seconds),
        "jti": secrets.token_urlsafe(12),
    }
    return AccessToken(
        value=sign_jwt(payload, SIGNING_KEY),
        org_id=org_id,
        deployment=deployment,
        subject=subject,
        client_id=client_id,
        expires_at=now + lifetime_seconds,
        verified=verified,
        issued_at=now,
    )
