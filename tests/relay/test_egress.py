"""The egress guard (portal/egress.py at the choke point relay/http.py): no request forgery through any outbound kind.

Every address class is refused for every kind of outbound request (Salesforce login, the provider API, a
partner webhook, inbound media), by literal address, by a host name that resolves to one, after a redirect and
in IPv6 forms; the sandbox stays reachable because tests/settings.py lists 127.0.0.1; media comes only from
the account's own hosts, capped; answers of a partner endpoint or a token endpoint are not read back.
"""

from __future__ import annotations

import importlib
import ipaddress
import socket

import httpx
import pytest
from django.apps import apps
from rest_framework.test import APIClient

from portal.api import webhooks
from portal.api.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from portal.egress import address_problem
from relay import http
from relay.errors import ExternalError
from relay.providers.infobip.client import raise_for_error
from relay.providers.registry import get_provider
from relay.salesforce.auth import _token_error, mint_token
from tenants.models import ApiKey, ProviderAccount, SalesforceConnection
from tests.factories import make_tenant
from tests.relay.egress_support import Answer, LocalEndpoint
from tests.relay.salesforce_support import key_pair

infobip = get_provider("infobip")
MEDIA = "/whatsapp/1/senders/447860099299/media/5d6b1e0c"

# (host as written in a URL, what the refusal must name)
FORBIDDEN_HOSTS = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("localhost", "localhost resolves to"),  # a name that resolves to a loopback address
    ("[::1]", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.10", "private"),
    ("[fc00::5]", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("168.63.129.16", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("[fd00:ec2::254]", "cloud metadata"),
    ("169.254.10.1", "link-local"),
    ("[fe80::1]", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("224.0.0.251", "multicast"),
    ("[ff02::1]", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("[::ffff:127.0.0.1]", "IPv4-mapped form of 127.0.0.1"),
    ("[::ffff:a9fe:a9fe]", "cloud metadata address (IPv4-mapped"),
    ("[2002:a00:5::1]", "6to4 form of 10.0.0.5"),
    ("[64:ff9b::a9fe:a9fe]", "NAT64 form of 169.254.169.254"),
    ("[::10.0.0.5]", "IPv4-compatible form of 10.0.0.5"),
]


@pytest.fixture
def nothing_listed(settings):
    """Production's default: no host may reach local addresses."""
    settings.EGRESS_ALLOWED_HOSTS = []


def refused(call) -> ExternalError:
    with pytest.raises(ExternalError) as caught:
        call()
    error = caught.value
    assert (error.permanent, error.code) == (True, "EGRESS_REFUSED"), error
    return error


# --- the address classes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


# --- every outbound kind --------------------------------------------------------------------------------------


def salesforce_login(host: str):
    connection = SalesforceConnection(
        login_url=f"https://{host}",
        instance_url=f"https://{host}",
        consumer_key="3MVG9.consumer",
        integration_username="integration@acme.test",
        private_key=key_pair()[0],
    )
    return lambda: mint_token(connection)


def provider_api(host: str):
    account = ProviderAccount(provider="infobip", base_url=f"https://{host}", api_key="ib-key")
    return lambda: infobip.check_credentials(account)


def media(host: str):
    account = ProviderAccount(provider="infobip", base_url=f"https://{host}", api_key="ib-key")
    return lambda: infobip.download_media(account, f"https://{host}{MEDIA}")


@pytest.mark.parametrize(("host", "named"), FORBIDDEN_HOSTS)
@pytest.mark.parametrize("kind", [salesforce_login, provider_api, media], ids=lambda k: k.__name__)
def test_every_address_class_is_refused_for_every_kind(nothing_listed, kind, host, named):
    error = refused(kind(host))
    assert named in error.message and "EGRESS_ALLOWED_HOSTS" in error.message


@pytest.mark.django_db
@pytest.mark.parametrize(("host", "named"), FORBIDDEN_HOSTS)
def test_every_address_class_is_refused_for_a_partner_webhook(nothing_listed, host, named):
    subscription = WebhookSubscription(tenant=make_tenant(), url=f"https://{host}/hook")
    subscription.rotate_secret()
    subscription.save()  # as a row saved before the validators refused such URLs
    (delivery,) = webhooks.enqueue([subscription], subscription.tenant_id, "ping", {})
    assert webhooks.deliver(delivery.pk) is None  # no retry: a refused destination cannot succeed later
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, None)
    assert named in delivery.last_error and "refused" in delivery.last_error


def test_a_name_resolving_to_a_local_address_is_refused(nothing_listed, monkeypatch):
    real = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        answers = {"inside.test": ["127.0.0.1"], "split.test": ["93.184.216.34", "10.1.2.3"]}
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    error = refused(lambda: http.request("provider", "GET", "https://inside.test/"))
    assert "inside.test resolves to 127.0.0.1, which is a loopback address" in error.message
    # One public and one private answer: which one a connection gets is up to the DNS, so it is refused.
    error = refused(lambda: http.request("partner", "POST", "https://split.test/hook"))
    assert "10.1.2.3" in error.message and "private" in error.message


def test_the_connection_goes_to_the_address_that_was_checked(settings, monkeypatch):
    """Resolved once, connected to that address (a second DNS answer cannot swap in another one), while the
    Host header stays the name."""
    lookups = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "partner.test":
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"  # a rebinding DNS
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with LocalEndpoint() as endpoint:
        settings.EGRESS_ALLOWED_HOSTS = [f"partner.test:{endpoint.port}"]
        response = http.request("partner", "POST", f"http://partner.test:{endpoint.port}/hook", content=b"{}")
        assert response.status_code == 200
        assert lookups == ["partner.test"]
        assert endpoint.requests == [("POST", "/hook", f"partner.test:{endpoint.port}")]
        # The listed port only: the same name on another port is an unlisted, local destination.
        other = refused(lambda: http.request("partner", "POST", "http://partner.test:1/hook"))
        assert "plain http" in other.message


@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:{port}/inside",
        "http://[::1]:{port}/inside",
        "http://[::ffff:7f00:1]:{port}/inside",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/admin",
    ],
)
def test_a_redirect_to_a_local_address_is_refused_at_each_hop(settings, location):
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1"]
    with LocalEndpoint() as endpoint:  # 127.0.0.1 is listed: the first hop is allowed, as the sandbox is
        endpoint.answers["/hop"] = Answer(302, headers={"Location": location.format(port=endpoint.port)})
        # Redirects are off: the 302 comes back as it is and nothing follows it.
        assert http.request("provider", "GET", f"{endpoint.url}/hop").status_code == 302
        # A caller that follows them still goes through the guard on every hop.
        error = refused(lambda: http.request("media", "GET", f"{endpoint.url}/hop", follow_redirects=True))
        assert "EGRESS_ALLOWED_HOSTS" in error.message
        assert [path for _, path, _ in endpoint.requests] == ["/hop", "/hop"]


@pytest.mark.django_db
def test_no_outbound_kind_follows_a_redirect(settings):
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1"]
    with LocalEndpoint() as endpoint:
        inside = f"http://localhost:{endpoint.port}/inside"
        for path in ("/hook", "/numbers/1/numbers", MEDIA, "/services/oauth2/token"):
            endpoint.answers[path] = Answer(302, headers={"Location": inside})
        account = ProviderAccount(provider="infobip", base_url=endpoint.url, api_key="ib-key")
        infobip.check_credentials(account)  # a 3xx is not an error of Infobip's envelope, but is not followed
        with pytest.raises(ExternalError) as caught:
            infobip.download_media(account, f"{endpoint.url}{MEDIA}")
        assert caught.value.permanent and caught.value.status == 302
        with pytest.raises(ExternalError):
            mint_token(
                SalesforceConnection(
                    login_url=endpoint.url,
                    consumer_key="3MVG9.consumer",
                    integration_username="integration@acme.test",
                    private_key=key_pair()[0],
                )
            )
        subscription = WebhookSubscription(tenant=make_tenant(), url=f"{endpoint.url}/hook")
        subscription.rotate_secret()
        subscription.save()
        (delivery,) = webhooks.enqueue([subscription], subscription.tenant_id, "ping", {})
        webhooks.deliver(delivery.pk)
        assert WebhookAttempt.objects.get(delivery=delivery).error == "HTTP 302 Found"
        assert "/inside" not in [path for _, path, _ in endpoint.requests]


def test_the_listed_sandbox_is_reachable_and_only_because_it_is_listed(sandbox, settings):
    settings.EGRESS_ALLOWED_HOSTS = []
    error = refused(lambda: http.request("salesforce", "GET", f"{sandbox.base_url}/__sim/health"))
    assert "plain http to 127.0.0.1" in error.message
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1"]
    assert http.request("salesforce", "GET", f"{sandbox.base_url}/__sim/health").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://files.example.com/x",
        "https://user:secret@acme.my.salesforce.com/",
    ],
)
def test_other_schemes_and_credentials_in_urls_are_refused(url):
    with pytest.raises(ExternalError) as caught:
        http.request("provider", "GET", url)
    assert caught.value.permanent


# --- inbound media --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/receipt.png",
        "http://127.0.0.1:{other}/receipt.png",  # listed host, but not the account's own origin
        "https://files.infobip.com.attacker.example/receipt.png",
        "http://files.infobip.com/receipt.png",  # Infobip's host, but plain http
        "https://user@files.infobip.com/receipt.png",
        "https://files.infobip.com:8443/receipt.png",
    ],
)
def test_media_from_another_host_is_refused_and_not_fetched(url):
    with LocalEndpoint() as account_host, LocalEndpoint() as other:
        account = ProviderAccount(provider="infobip", base_url=account_host.url, api_key="ib-key")
        with pytest.raises(ExternalError) as caught:
            infobip.download_media(account, url.format(other=other.port))
        assert (caught.value.permanent, caught.value.code) == (True, "MEDIA_HOST")
        assert "not on this Infobip account's own https hosts" in caught.value.message
        assert account_host.requests == other.requests == []


def test_infobip_media_urls_are_read_through_the_accounts_own_base_url():
    with LocalEndpoint() as account_host:
        account_host.answers[MEDIA] = Answer(200, b"PNGDATA", {"Content-Type": "image/png"})
        account = ProviderAccount(provider="infobip", base_url=account_host.url, api_key="ib-key")
        content, mime, _ = infobip.download_media(account, f"https://somewhere.example{MEDIA}")
        assert (content, mime) == (b"PNGDATA", "image/png")
        assert [path for _, path, _ in account_host.requests] == [MEDIA]


@pytest.mark.parametrize("declared", [True, False])
def test_media_larger_than_the_cap_is_refused(settings, declared):
    settings.MEDIA_MAX_BYTES = 1000
    with LocalEndpoint() as account_host:
        body = b"x" * 1001
        headers = {"Content-Type": "image/png"}
        if not declared:  # gzip: the declared length is small, the decoded body is not
            import gzip

            body = gzip.compress(b"x" * 100_000)
            headers["Content-Encoding"] = "gzip"
            assert len(body) < 1000
        account_host.answers[MEDIA] = Answer(200, body, headers)
        account = ProviderAccount(provider="infobip", base_url=account_host.url, api_key="ib-key")
        with pytest.raises(ExternalError) as caught:
            infobip.download_media(account, f"{account_host.url}{MEDIA}")
        assert (caught.value.permanent, caught.value.code) == (True, "TOO_LARGE")


# --- answers are not echoed -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_partner_endpoints_answer_is_neither_stored_nor_returned():
    with LocalEndpoint() as endpoint:
        secret = b"redis_version:7.2.4 SECRET internal answer"
        endpoint.answers["/hook"] = Answer(500, secret, {"Content-Type": "text/plain"})
        tenant = make_tenant()
        subscription = WebhookSubscription(tenant=tenant, url=f"{endpoint.url}/hook")
        subscription.rotate_secret()
        subscription.save()
        (delivery,) = webhooks.enqueue([subscription], tenant.pk, "ping", {})
        webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_error == "HTTP 500 Internal Server Error" and delivery.last_status_code == 500
    _, key = ApiKey.issue(name="admin", tenant=tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    answer = client.get(f"/api/v1/webhook-deliveries/{delivery.pk}/")
    assert answer.status_code == 200
    assert answer.json()["attempt_log"][0]["error"] == "HTTP 500 Internal Server Error"
    assert b"SECRET" not in answer.content and b"redis_version" not in answer.content


@pytest.mark.django_db
def test_answers_stored_before_are_cut_to_the_status():
    tenant = make_tenant()
    subscription = WebhookSubscription.objects.create(tenant=tenant, url="https://hooks.example.com/x")
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        tenant=tenant,
        event="ping",
        payload={},
        last_status_code=404,
        last_error="HTTP 404: <html>internal admin page</html>",
    )
    attempt = WebhookAttempt.objects.create(delivery=delivery, status_code=404, error=delivery.last_error)
    kept = WebhookAttempt.objects.create(delivery=delivery, error="partner unreachable: ConnectError")
    migration = importlib.import_module("portal.api.migrations.0002_egress_url_validators")
    migration.forget_stored_answers(apps, None)
    delivery.refresh_from_db()
    attempt.refresh_from_db()
    kept.refresh_from_db()
    assert delivery.last_error == attempt.error == "HTTP 404 Not Found"
    assert kept.error == "partner unreachable: ConnectError"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"},
            "invalid_grant",
            "Salesforce refused the login: user hasn't approved this consumer",
        ),
        (
            {"error": "invalid_grant", "error_description": "redis_version:7.2.4 role:master"},
            "invalid_grant",
            "Salesforce refused the login (invalid_grant): the JWT assertion was refused",
        ),
        (
            {"error": "<script>alert(1)</script> used_memory:1000", "error_description": "x"},
            "unrecognized_error",
            "Salesforce refused the login (unrecognized_error): the token endpoint refused the login",
        ),
    ],
)
def test_salesforce_login_errors_show_the_code_and_fixed_text(body, code, message):
    error = _token_error(httpx.Response(400, json=body), body)
    assert error.code == code and error.message.startswith(message)
    assert "redis" not in error.message and "<script>" not in error.message


def test_infobip_error_text_is_short_and_one_line():
    body = {
        "requestError": {
            "serviceException": {
                "messageId": "BAD_REQUEST\n" + "X" * 500,
                "text": "line one\r\nline two" * 100,
            }
        }
    }
    with pytest.raises(ExternalError) as caught:
        raise_for_error(httpx.Response(400, json=body), "the whatsapp message")
    assert "\n" not in caught.value.message and "\r" not in caught.value.message
    assert len(caught.value.message) < 260 and len(caught.value.code) <= 60
    with pytest.raises(ExternalError) as caught:  # not Infobip's envelope: the standard phrase, not the body
        raise_for_error(httpx.Response(404, text="<html>internal dashboard</html>"), "the numbers list")
    assert caught.value.message == "Infobip rejected the numbers list: Not Found"
