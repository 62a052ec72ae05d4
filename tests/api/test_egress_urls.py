"""The partner API refuses URLs the egress guard would refuse (400, the reason, nothing changed)."""

from __future__ import annotations

import pytest

from portal.api.models import WebhookSubscription
from tenants.models import ProviderAccount, SalesforceConnection
from tests.hung_dns import hung_dns  # noqa: F401 - the fixture

from .conftest import api

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_listed(settings):
    settings.EGRESS_ALLOWED_HOSTS = []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("https://10.0.0.5/hook", "private address"),
        ("http://127.0.0.1:6379/", "must use https://"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://localhost/hook", "this machine"),
        ("https://hooks.example.com/x#frag", "#fragment"),
        ("https://me:pw@hooks.example.com/x", "user name or password"),
    ],
)
def test_a_webhook_subscription_to_a_local_address_is_refused(world, url, says):
    before = WebhookSubscription.objects.count()
    response = api(world.key_a).post("/api/v1/webhook-subscriptions/", {"url": url}, format="json")
    assert response.status_code == 400
    assert says in str(response.json()["error"]["fields"]["url"])
    assert WebhookSubscription.objects.count() == before


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("https://10.0.0.5", "private address"),
        ("https://abcd12.api.infobip.com/#", "#fragment"),
        ("https://abcd12.api.infobip.com/whatsapp/1", "API base URL only"),
        ("https://abcd12.api.infobip.com?x=1", "?query"),
    ],
)
def test_a_provider_base_url_that_is_not_a_public_origin_is_refused(world, base_url, says):
    account = world.a1.account
    response = api(world.a1.key).patch(
        f"/api/v1/provider-accounts/{account.pk}/", {"base_url": base_url}, format="json"
    )
    assert response.status_code == 400
    assert says in str(response.json()["error"]["fields"]["base_url"])
    assert ProviderAccount.objects.get(pk=account.pk).base_url == account.base_url


@pytest.mark.parametrize("field", ["login_url", "instance_url", "scrt_url", "chat_api_endpoint"])
def test_salesforce_urls_to_local_addresses_are_refused(world, field):
    connection = world.a1.connection
    response = api(world.a1.key).patch(
        f"/api/v1/salesforce-connections/{connection.pk}/", {field: "https://169.254.169.254"}, format="json"
    )
    assert response.status_code == 400
    assert "cloud metadata" in str(response.json()["error"]["fields"][field])
    assert getattr(SalesforceConnection.objects.get(pk=connection.pk), field) == getattr(connection, field)


def test_a_webhook_url_whose_dns_never_answers_is_a_400_at_the_deadline(world, hung_dns, settings):  # noqa: F811
    """A slow or hostile DNS server holds the request for EGRESS_DNS_TIMEOUT_SECONDS, not the resolver's own
    timeout, and the answer says why (never a 500)."""
    settings.EGRESS_DNS_TIMEOUT_SECONDS = 0.05
    before = WebhookSubscription.objects.count()
    response = api(world.key_a).post(
        "/api/v1/webhook-subscriptions/", {"url": "https://hooks.hang.test/x"}, format="json"
    )
    assert response.status_code == 400
    assert "hooks.hang.test did not resolve within 0.05 s" in str(response.json()["error"]["fields"]["url"])
    assert WebhookSubscription.objects.count() == before
