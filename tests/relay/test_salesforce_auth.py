"""The JWT bearer flow against the sandbox's token endpoint, and the shared token cache."""

from __future__ import annotations

import threading
import time

import httpx
import jwt
import pytest
from cryptography import x509

from relay.errors import ExternalError
from relay.salesforce.auth import LoginRefused, build_assertion, cache_key, get_token
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    ORG_ID,
    USERNAME,
    consumer_key,
    create_sandbox_org,
    key_pair,
    make_connected_tenant,
    salesforce_urls,
    tokens,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant(sim, salesforce_urls):  # noqa: F811
    create_sandbox_org(sim)
    return make_connected_tenant(salesforce_urls)


def test_assertion_is_rs256_with_exp_in_seconds(tenant):
    now = time.time()
    assertion = build_assertion(tenant.salesforce, now=now)
    certificate = x509.load_pem_x509_certificate(key_pair()[1].encode())
    claims = jwt.decode(
        assertion, certificate.public_key(), algorithms=["RS256"], audience="https://login.salesforce.com"
    )
    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
    assert claims["iss"] == consumer_key(ORG_ID)
    assert claims["sub"] == USERNAME
    assert claims["exp"] == int(now) + 180  # seconds, three minutes ahead


def test_token_is_minted_once_then_served_from_the_cache(tenant, sim):
    first = get_token(tenant.salesforce)
    second = get_token(tenant.salesforce)
    assert second.access_token == first.access_token
    assert first.access_token.startswith(ORG_ID[:15] + "!")
    assert len(tokens(sim)) == 1  # the second call made no token request
    assert "!" not in repr(first)  # the token never shows in reprs


def test_refresh_mints_a_new_token_and_caches_it(tenant, sim):
    first = get_token(tenant.salesforce)
    refreshed = get_token(tenant.salesforce, refresh=True, rejected=first.access_token)
    assert refreshed.access_token != first.access_token
    assert get_token(tenant.salesforce).access_token == refreshed.access_token
    # A second worker refused the same old token: it gets the refreshed one, no third mint.
    assert get_token(tenant.salesforce, refresh=True, rejected=first.access_token) == refreshed
    assert len(tokens(sim)) == 2


def test_many_workers_missing_the_cache_at_once_mint_one_token(tenant, sim):
    results, barrier = [], threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(get_token(tenant.salesforce).access_token)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(results) == 8 and len(set(results)) == 1
    assert len(tokens(sim)) == 1


def test_changed_credentials_use_a_new_cache_key(tenant):
    connection = tenant.salesforce
    before = cache_key(connection)
    connection.integration_username = "someone-else@acme.test"
    assert cache_key(connection) != before
    assert cache_key(connection).startswith(f"salesforce:token:{tenant.pk}:")


def test_wrong_consumer_key_shows_salesforces_words(tenant, sim):
    connection = tenant.salesforce
    connection.consumer_key = "3MVG9-unknown"
    with pytest.raises(LoginRefused) as caught:
        get_token(connection)
    assert not caught.value.permanent  # the connection's problem: a message waits for the admin's fix
    assert caught.value.code == "invalid_client_id"
    assert "client identifier invalid" in caught.value.message
    assert tokens(sim) == []


def test_user_not_preauthorized_shows_salesforces_words(tenant):
    connection = tenant.salesforce
    connection.integration_username = "stranger@acme.test"
    with pytest.raises(LoginRefused) as caught:
        get_token(connection)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_grant"
    assert caught.value.message == "Salesforce refused the login: user hasn't approved this consumer"


def test_certificate_not_matching_the_key_is_a_refused_login(tenant, sim):
    from tenants.certificates import generate_key_pair

    connection = tenant.salesforce
    connection.private_key = generate_key_pair("another key")[0]
    with pytest.raises(LoginRefused) as caught:
        get_token(connection)
    assert "invalid assertion" in caught.value.message


def test_login_host_down_is_transient(tenant, sim):
    sim.post("/__sim/faults", json={"service": "core", "path": "oauth2", "status": 503, "retry_after": 7})
    with pytest.raises(ExternalError) as caught:
        get_token(tenant.salesforce)
    assert not caught.value.permanent
    assert caught.value.status == 503 and caught.value.retry_after == 7


def test_incomplete_connection_is_refused_without_a_request(tenant, sim):
    connection = tenant.salesforce
    connection.consumer_key = ""
    with pytest.raises(LoginRefused, match="no consumer key") as caught:
        get_token(connection)
    assert caught.value.code == "incomplete"


def test_a_worker_waits_for_the_process_holding_the_lock(tenant, sim):
    from django.core.cache import cache

    from relay.salesforce import auth

    connection = tenant.salesforce
    key = cache_key(connection)
    assert cache.add(f"{key}:lock", "another-process", timeout=30)  # another process is minting
    results = []
    waiting = threading.Thread(target=lambda: results.append(get_token(connection)))
    waiting.start()
    minted_elsewhere = auth.mint_token(connection)
    auth._write(key, minted_elsewhere)  # what the other process stores when it is done
    waiting.join(timeout=20)
    assert results == [minted_elsewhere]
    assert len(tokens(sim)) == 1  # the waiting worker minted nothing itself
    cache.delete(f"{key}:lock")


@pytest.mark.parametrize("error", ["rate_limit_exceeded", "temporarily_unavailable", "server_error"])
def test_a_login_refused_for_now_is_transient(tenant, monkeypatch, error):
    """Salesforce answers its login rate limit (3,600 logins an hour per user, "rate_limit_exceeded: Number of
    logins exceeded") with HTTP 400 like every OAuth error; RFC 6749's server_error and temporarily_unavailable
    say the same. A retry later succeeds: the message waiting on the token must not fail for good."""
    from relay import http
    from relay.salesforce import auth

    def token_endpoint(system, method, url, **kwargs):  # Salesforce's answer, nothing else stubbed
        body = {"error": error, "error_description": "Number of logins exceeded"}
        return httpx.Response(400, json=body, request=httpx.Request(method, url))

    monkeypatch.setattr(http, "request", token_endpoint)
    with pytest.raises(ExternalError) as caught:
        auth.mint_token(tenant.salesforce)
    assert not caught.value.permanent and caught.value.code == error and caught.value.status == 400


class _Requests(list):
    """The logins sent; ``others``: every other request to Salesforce."""

    def __init__(self) -> None:
        super().__init__()
        self.others: list[str] = []


@pytest.fixture
def login_attempts(monkeypatch):
    """The requests sent to the token endpoint, refused ones included (counted on their way, sent as they are)."""
    from relay import http

    sent = _Requests()
    send = http.request

    def counted(system, method, url, **kwargs):
        (sent if "oauth2/token" in str(url) else sent.others).append(url)
        return send(system, method, url, **kwargs)

    monkeypatch.setattr(http, "request", counted)
    return sent


def test_a_refused_login_is_remembered_for_a_minute_and_new_credentials_are_tried_at_once(
    tenant, sim, login_attempts
):
    """Each waiting line asked Salesforce again, so a rotated certificate with a thousand waiting conversations was
    a thousand failed logins (Salesforce counts them against the user's 3,600 an hour): one is asked now, until
    the credentials change or the minute ends; a person testing the connection always asks Salesforce."""
    connection = tenant.salesforce
    good = connection.consumer_key
    connection.consumer_key = "3MVG9-unknown"
    for _ in range(5):
        with pytest.raises(LoginRefused, match="client identifier invalid"):
            get_token(connection)
    assert len(login_attempts) == 1
    with pytest.raises(LoginRefused):
        get_token(connection, refresh=True)  # after a 401: the refusal stands
    assert len(login_attempts) == 1
    with pytest.raises(LoginRefused):
        get_token(connection, ask=True)  # the wizard's "Test connection": Salesforce is asked
    assert len(login_attempts) == 2
    connection.consumer_key = good  # fixed: new credentials, a new attempt at once
    assert get_token(connection).access_token
    assert len(login_attempts) == 3


def test_credentials_of_another_org_are_refused_with_both_org_ids(tenant, sim):
    """The token's identity URL names the org the login signed in to: credentials of another org (a sandbox's,
    another customer's) would have the relay deliver this tenant's customers to an org whose agents are not
    matched to the tenant. The login is refused, saying which org it reached."""
    from tenants.models import SalesforceConnection, Tenant

    other = "00D5e000000OthRAAS"
    Tenant.objects.filter(pk=tenant.pk).update(org_id=other)
    connection = SalesforceConnection.objects.select_related("tenant").get(tenant=tenant)
    with pytest.raises(LoginRefused) as caught:
        get_token(connection, refresh=True)
    assert caught.value.code == "wrong_org"
    assert ORG_ID[:15] in caught.value.message and other in caught.value.message
    Tenant.objects.filter(pk=tenant.pk).update(org_id=ORG_ID)
    connection = SalesforceConnection.objects.select_related("tenant").get(tenant=tenant)
    assert get_token(connection, refresh=True).access_token  # the same credentials, for their own org


def test_a_token_whose_login_is_then_refused_is_dropped_and_salesforce_asked_once(
    tenant, sim, login_attempts
):
    """The integration user loses the app's pre-authorization and its sessions are revoked: the cached token is
    refused (401), the new login too. The dead token was kept, so every retry of every waiting line sent it
    again, and each 401 asked for one more refused login; now it goes with the refusal."""
    from relay.salesforce.rest import SalesforceRest

    connection = tenant.salesforce
    SalesforceRest(connection).query("SELECT Id FROM User")  # a token is minted and cached
    assert len(login_attempts) == 1 and len(login_attempts.others) == 1
    app = f"/__sim/orgs/{ORG_ID}/connected-apps/{connection.consumer_key}"
    assert sim.delete(f"{app}/preauthorized/{USERNAME}").status_code < 300
    assert sim.post(f"/__sim/orgs/{ORG_ID}/tokens/revoke", json={}).status_code < 300
    for _ in range(4):
        with pytest.raises(LoginRefused, match="hasn't approved"):
            SalesforceRest(connection).query("SELECT Id FROM User")
    assert len(login_attempts) == 2
    assert len(login_attempts.others) == 2  # the dead token was sent once (its 401), then never again


def test_a_worker_waiting_for_the_lock_takes_the_refusal_it_waited_for(tenant, sim, login_attempts):
    """Workers queued behind the one logging in used to log in again each once it was refused."""
    from django.core.cache import cache

    from relay.salesforce import auth

    connection = tenant.salesforce
    connection.consumer_key = "3MVG9-unknown"
    key = cache_key(connection)
    assert cache.add(f"{key}:lock", "another-process", timeout=30)  # another process is logging in
    refused: list[LoginRefused] = []

    def waiting_worker():
        try:
            get_token(connection)
        except LoginRefused as exc:
            refused.append(exc)

    waiting = threading.Thread(target=waiting_worker)
    waiting.start()
    with pytest.raises(LoginRefused):
        auth._mint(connection, key)  # the other process's login, refused
    waiting.join(timeout=20)
    assert [exc.code for exc in refused] == ["invalid_client_id"]
    assert len(login_attempts) == 1  # the waiting worker did not log in itself
    cache.delete(f"{key}:lock")
