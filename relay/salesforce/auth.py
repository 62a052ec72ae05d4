"""Salesforce access tokens: the OAuth 2.0 JWT bearer flow, cached for every worker and process.

One token per tenant lives in Django's cache (file cache on a laptop, Redis in production), encrypted
with the same keys as the secrets in the database. The cache key carries a fingerprint of the
credentials, so a tenant whose consumer key, user, login URL or private key changes gets a new token
without anyone invalidating anything. A short cache lock (``cache.add``) makes the workers that all
miss the cache at once mint one token, not one each.

Salesforce's JWT bearer flow returns no ``expires_in`` and no refresh token: a token lives as long as
the org's session timeout allows. We keep it for :data:`TOKEN_TTL_SECONDS` and mint a new one when
Salesforce answers 401 (callers pass ``refresh=True`` and the token that was refused).

A login Salesforce refuses (:class:`LoginRefused`) is the connection's problem, not the message's: deliveries
wait for the admin's fix, and the refusal is remembered for a minute so waiting lines do not log in one by one.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TypeGuard

import httpx
import jwt
from django.conf import settings
from django.core.cache import cache

from relay import http
from relay.errors import ExternalError
from tenants.crypto import DecryptionError, keyring
from tenants.fields import Secret

log = logging.getLogger(__name__)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 180  # Salesforce: "within 3 minutes"; exp is a NumericDate in seconds
TOKEN_TTL_SECONDS = getattr(settings, "SALESFORCE_TOKEN_TTL_SECONDS", 3600)  # well under the 2 h default
LOCK_SECONDS = 30  # a minting worker that dies releases the lock after this
WAIT_POLL_SECONDS = 0.05

# OAuth errors that a retry of the same request cannot fix: the admin has to change something (LoginRefused).
REFUSING_OAUTH_ERRORS = {
    "invalid_grant",
    "invalid_client",
    "invalid_client_id",
    "invalid_client_credentials",
    "unsupported_grant_type",
    "invalid_request",
    "inactive_user",
    "inactive_org",
    "unauthorized_client",
}

# OAuth errors that say "not now" whatever the HTTP status (Salesforce answers 400): the login rate limit
# ("rate_limit_exceeded", Number of logins exceeded: 3,600 an hour per user) and RFC 6749's server_error and
# temporarily_unavailable. A retry later succeeds; failing the message for good would lose it.
TRANSIENT_OAUTH_ERRORS = {"rate_limit_exceeded", "server_error", "temporarily_unavailable"}


class LoginRefused(ExternalError):
    """Salesforce refused Switchboard's login with this connection's settings, or they cannot make one (a field
    missing, a key that cannot sign): a problem of the connection, which its admin can fix, not of the message
    being delivered. So it is not permanent: a customer's message waits for the fix within the tenant's delivery
    window, as it does for an org not connected yet, instead of failing for good the moment a certificate is
    rotated or the integration user deactivated. While it lasts, the refusal is remembered for
    ``REFUSAL_SECONDS`` (per set of credentials: new ones are tried at once), so the lines waiting on it do not
    log in again one by one (Salesforce counts failed logins against the user's 3,600 an hour)."""

    def __init__(self, message: str, **kwargs) -> None:
        kwargs["permanent"] = False
        super().__init__(message, **kwargs)


# How long a refused login is answered from the shared cache instead of Salesforce (see LoginRefused). A person
# testing the connection (the wizard, the health check: ``get_token(ask=True)``) always asks Salesforce.
REFUSAL_SECONDS = 60.0


@dataclass(frozen=True)
class Token:
    access_token: Secret
    instance_url: str
    issued_at: float  # epoch seconds

    def __repr__(self) -> str:  # the token itself never shows up in logs or tracebacks
        return f"Token(instance_url={self.instance_url!r}, issued_at={self.issued_at})"


def get_token(
    connection, *, refresh: bool = False, rejected: str | Collection[str] | None = None, ask: bool = False
) -> Token:
    """The tenant's access token: from the cache, or freshly minted with the JWT bearer flow.

    ``refresh=True`` forgets the cached token first (Salesforce refused it). Pass the refused token as
    ``rejected`` (or every token that has been refused, as the Pub/Sub listener does): if another worker
    has already replaced it with one not in ``rejected``, that newer token is returned instead of minting
    yet another one. A cached token that is itself in ``rejected`` is never returned by a refresh.

    A login refused in the last ``REFUSAL_SECONDS`` is refused again without asking Salesforce (see
    :class:`LoginRefused`), unless ``ask``: a person testing the connection (a fresh sign-in, as ``refresh``).
    """
    key = cache_key(connection)
    refresh = refresh or ask
    if refresh:
        _memo.pop(key, None)
    else:
        cached = _memoized(key) or _read(key)
        if cached is not None:
            _memoize(key, cached)
            return cached
    refused = frozenset((rejected,) if isinstance(rejected, str) else (rejected or ()))
    # Threads of this process queue here; processes meet at the cache lock below.
    with _process_lock(key):
        return _get_or_mint(connection, key, refresh=refresh, rejected=refused, ask=ask)


def _get_or_mint(connection, key: str, *, refresh: bool, rejected: frozenset[str], ask: bool) -> Token:
    def usable(token: Token | None) -> TypeGuard[Token]:
        return token is not None and (not refresh or (bool(rejected) and token.access_token not in rejected))

    deadline = time.monotonic() + LOCK_SECONDS
    lock_key, owner = f"{key}:lock", uuid.uuid4().hex
    while True:
        cached = _read(key)
        if usable(cached):
            return cached
        if not ask:  # refused lately, or while this worker queued for the lock: not asked again
            _raise_if_refused_lately(connection, key)
        # Reading the owner back guards against caches whose add() is not atomic (the file cache).
        if cache.add(lock_key, owner, timeout=LOCK_SECONDS) and cache.get(lock_key) == owner:
            try:
                cached = _read(key)  # someone may have finished minting since our last read
                if usable(cached):
                    return cached
                if not ask:
                    _raise_if_refused_lately(connection, key)
                token = _mint(connection, key)
                _write(key, token)
                return token
            finally:
                if cache.get(lock_key) == owner:
                    cache.delete(lock_key)
        if time.monotonic() > deadline:
            # The lock holder is stuck or gone: mint our own rather than wait forever.
            token = _mint(connection, key)
            _write(key, token)
            return token
        time.sleep(WAIT_POLL_SECONDS)


_locks_guard = threading.Lock()
_process_locks: dict[str, threading.Lock] = {}


def _process_lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _process_locks.setdefault(key, threading.Lock())


def _mint(connection, key: str) -> Token:
    """:func:`mint_token`, remembering a refusal for REFUSAL_SECONDS (and forgetting it once a login passes)."""
    try:
        token = mint_token(connection)
    except LoginRefused as exc:
        refusal = {"message": exc.message, "code": exc.code, "status": exc.status}
        # The token these credentials got earlier goes too: refused with them (a user deactivated, the app's
        # access revoked), it would be sent again by every retry, each 401 asking for one more login.
        _memo.pop(key, None)
        with contextlib.suppress(Exception):  # the cache is an accelerator: without it, each line logs in
            cache.set(_refusal_key(connection, key), refusal, timeout=REFUSAL_SECONDS)
        # On its own: a refusal that could not be kept still drops the token.
        with contextlib.suppress(Exception):
            cache.delete(key)
        raise
    with contextlib.suppress(Exception):
        cache.delete(_refusal_key(connection, key))
    return token


def _refusal_key(connection, key: str) -> str:
    """Per set of credentials and the tenant's org id: an org id corrected after a ``wrong_org`` is tried at once."""
    return f"{key}:refused:{getattr(connection.tenant, 'org_id', '')}"


def _raise_if_refused_lately(connection, key: str) -> None:
    try:
        refusal = cache.get(_refusal_key(connection, key))
    except Exception:  # noqa: BLE001 - the cache is an accelerator: ask Salesforce
        return
    if isinstance(refusal, dict):
        raise LoginRefused(
            str(refusal.get("message") or "Salesforce refused the login."),
            code=refusal.get("code"),
            status=refusal.get("status"),
        )


def send_with_token(connection, send: Callable[[Token], httpx.Response], refused) -> httpx.Response:
    """``send(token)``; when ``refused(response)`` says the token was not accepted, mint a new one once and
    send again. The second answer is returned whatever it is (the caller turns it into an error)."""
    token = get_token(connection)
    response = send(token)
    if refused(response):
        log.info("Salesforce refused the token of tenant %s; minting a new one", connection.tenant_id)
        token = get_token(connection, refresh=True, rejected=token.access_token)
        response = send(token)
    return response


def forget_token(connection) -> None:
    """Drop the tenant's cached token (e.g. after the admin disconnected the org)."""
    _memo.pop(cache_key(connection), None)
    cache.delete(cache_key(connection))


# The shared cache costs a round trip and a decryption per call; each process also keeps the token it last
# saw for a few seconds. A token another process replaced meanwhile is refused once (401) and then
# ``refresh=True`` finds the replacement in the shared cache, as before.
MEMO_SECONDS = 30.0
_memo: dict[str, tuple[Token, float]] = {}


def _memoized(key: str) -> Token | None:
    entry = _memo.get(key)
    if entry is None or entry[1] < time.monotonic():
        return None
    return entry[0]


def _memoize(key: str, token: Token) -> None:
    _memo[key] = (token, time.monotonic() + MEMO_SECONDS)


def cache_key(connection) -> str:
    """``salesforce:token:<tenant>:<credential fingerprint>``: new credentials, new key."""
    digest = hashlib.sha256()
    for part in (
        connection.token_url,
        connection.audience,
        connection.consumer_key,
        connection.integration_username,
        str(connection.private_key or ""),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return f"salesforce:token:{connection.tenant_id}:{digest.hexdigest()[:16]}"


def build_assertion(connection, *, now: float | None = None) -> str:
    """The RS256 JWT the token endpoint exchanges for an access token."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": connection.consumer_key,
        "sub": connection.integration_username,
        "aud": connection.audience,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
    }
    try:
        return jwt.encode(claims, str(connection.private_key), algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise LoginRefused(
            "The stored private key cannot sign the Salesforce login (not an RSA PEM key).",
            code="invalid_private_key",
        ) from exc


def mint_token(connection) -> Token:
    """Run the JWT bearer flow against ``connection.token_url`` (no cache)."""
    missing = [
        label
        for label, value in (
            ("consumer key", connection.consumer_key),
            ("integration username", connection.integration_username),
            ("private key", connection.private_key),
        )
        if not value
    ]
    if missing:
        raise LoginRefused(
            f"The Salesforce connection is incomplete: no {', '.join(missing)}.", code="incomplete"
        )
    response = http.request(
        "salesforce",
        "POST",
        connection.token_url,
        data={"grant_type": JWT_BEARER, "assertion": build_assertion(connection)},
        headers={"Accept": "application/json"},
    )
    body = _json(response)
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        _check_org(connection, body.get("id"))
        log.info("Salesforce token minted for tenant %s", connection.tenant_id)
        return Token(
            access_token=Secret(body["access_token"]),
            instance_url=str(body.get("instance_url") or connection.instance_url).rstrip("/"),
            issued_at=_issued_at(body.get("issued_at")),
        )
    raise _token_error(response, body)


_IDENTITY_URL = re.compile(r"/id/(?P<org>00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)/")


def _check_org(connection, identity_url: object) -> None:
    """The org the login signed in to (the identity URL Salesforce returns with the token, ``.../id/<org
    id>/<user id>``) must be the tenant's: the Canvas pages and the agents' events of an org are matched to the
    tenant by its org id, so credentials of another org (a sandbox's, another customer's) would deliver this
    tenant's customers to people who never see them there. An answer without an identity URL is not judged."""
    found = _IDENTITY_URL.search(identity_url) if isinstance(identity_url, str) else None
    expected = str(getattr(connection.tenant, "org_id", "") or "")
    if found is None or not expected or found["org"][:15] == expected[:15]:
        return
    raise LoginRefused(
        f"These credentials sign in to the Salesforce org {found['org']}, not this tenant's org {expected}: "
        "check the login URL, the Connected App and the integration user.",
        code="wrong_org",
    )


# What a token endpoint answers is shown to the admin, so only fixed text is: Salesforce's documented
# ``error_description`` values (salesforce.md, "OAuth 2.0 JWT bearer flow" errors) are repeated as they are,
# anything else becomes a fixed explanation of the OAuth ``error`` code. A login URL aimed at some other
# service can then not read that service's answers back through the wizard or the admin.
KNOWN_OAUTH_DESCRIPTIONS = frozenset(
    {
        "user hasn't approved this consumer",
        "invalid assertion",
        "audience is invalid",
        "expired authorization code",
        "client identifier invalid",
        "invalid client credentials",
        "inactive user",
        "inactive organization",
        "grant type not supported",
        "IP restricted or invalid login hours",
        "expired access/refresh token",
        "no client credentials user enabled",
        "invalid app access",
    }
)
OAUTH_ERROR_EXPLANATIONS = {
    "invalid_grant": "the JWT assertion was refused: check the integration user, the certificate uploaded to "
    "the Connected App and that the user is pre-authorized",
    "invalid_client_id": "the Connected App's consumer key is not known to this org",
    "invalid_client": "the Connected App refused the client",
    "invalid_client_credentials": "the Connected App refused the client credentials",
    "unsupported_grant_type": "the JWT bearer flow is not enabled for this Connected App",
    "invalid_request": "the token request was refused as malformed",
    "inactive_user": "the integration user is inactive",
    "inactive_org": "the org is inactive",
    "unauthorized_client": "the Connected App may not use this flow",
    "rate_limit_exceeded": "too many logins; retrying later",
}
_OAUTH_CODE = re.compile(r"^[a-z][a-z_]{0,39}$")


def _login_refusal(error: str, description) -> tuple[str, str]:
    """(code as shown, message) for an OAuth error answer: never free text from the other side."""
    code = error if _OAUTH_CODE.match(error) else "unrecognized_error"
    if isinstance(description, str) and description in KNOWN_OAUTH_DESCRIPTIONS:
        return code, f"Salesforce refused the login: {description}"
    explanation = OAUTH_ERROR_EXPLANATIONS.get(code, "the token endpoint refused the login")
    return code, f"Salesforce refused the login ({code}): {explanation}"


def _token_error(response, body) -> ExternalError:
    """The OAuth ``error`` code and a fixed explanation (see KNOWN_OAUTH_DESCRIPTIONS), for the wizard."""
    status = response.status_code
    error = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description") if isinstance(body, dict) else None
    if error:
        error, message = _login_refusal(str(error), description)
        refused = error not in TRANSIENT_OAUTH_ERRORS and (
            error in REFUSING_OAUTH_ERRORS or (400 <= status < 500 and status not in (408, 429))
        )
        return (LoginRefused if refused else ExternalError)(
            message, status=status, code=error, retry_after=http.retry_after_seconds(response)
        )
    if status == 200:
        return ExternalError(
            "Salesforce's token response has no access_token.", permanent=False, status=status
        )
    if 400 <= status < 500 and status not in (408, 429):  # no OAuth answer: a login URL that is not one
        return LoginRefused(f"Salesforce login failed with HTTP {status}", status=status)
    return ExternalError.from_status(
        status, f"Salesforce login failed with HTTP {status}", retry_after=http.retry_after_seconds(response)
    )


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _issued_at(value) -> float:
    """Salesforce sends ``issued_at`` as a string of epoch milliseconds."""
    try:
        return int(value) / 1000
    except (TypeError, ValueError):
        return time.time()


def _read(key: str) -> Token | None:
    stored = cache.get(key)
    if not isinstance(stored, dict):
        return None
    try:
        access_token = keyring().decrypt(stored["access_token"])
    except (DecryptionError, KeyError, TypeError):  # a rotated-away key or a corrupt entry: mint anew
        return None
    return Token(Secret(access_token), stored["instance_url"], stored["issued_at"])


def _write(key: str, token: Token) -> None:
    _memoize(key, token)
    cache.set(
        key,
        {
            "access_token": keyring().encrypt(str(token.access_token)),
            "instance_url": token.instance_url,
            "issued_at": token.issued_at,
        },
        timeout=TOKEN_TTL_SECONDS,
    )
