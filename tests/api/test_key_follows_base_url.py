"""A saved API key is sent only to the address it was entered for: a partner (or a tenant's own key) that
moves an account's API base URL elsewhere must send the key again in the same request, else anyone who may
edit the account could read a key it never saw (a server of theirs would receive it with the next call)."""

from __future__ import annotations

import pytest

from tenants.models import ProviderAccount

from .conftest import api

pytestmark = pytest.mark.django_db

ELSEWHERE = [
    "https://collector.example.com",  # another host
    "https://zz99.api.infobip.com:8443",  # the same host, another port
    "https://zz99.api.infobip.com.collector.example.com",  # a look-alike host
]


@pytest.mark.parametrize("base_url", ELSEWHERE)
@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize("who", ["partner", "tenant"])
def test_a_new_base_url_without_the_key_is_refused_and_changes_nothing(world, base_url, method, who):
    account = world.a1.account
    account.base_url = "https://zz99.api.infobip.com"
    account.save()
    client = api(world.key_a if who == "partner" else world.a1.key)
    body = {"name": account.name, "base_url": base_url, "webhook_auth": account.webhook_auth}
    response = getattr(client, method)(f"/api/v1/provider-accounts/{account.pk}/", body, format="json")
    assert response.status_code == 400, response.content
    assert "api_key" in response.json()["error"]["fields"]
    account.refresh_from_db()
    assert account.base_url == "https://zz99.api.infobip.com"


@pytest.mark.parametrize(
    "base_url",
    [
        "https://zz99.api.infobip.com",
        "https://ZZ99.api.infobip.com/",
        "https://zz99.api.infobip.com:443",
    ],
)
def test_the_same_address_keeps_the_key(world, base_url):
    account = world.a1.account
    account.base_url = "https://zz99.api.infobip.com"
    account.save()
    key = str(account.api_key)
    response = api(world.key_a).patch(
        f"/api/v1/provider-accounts/{account.pk}/", {"base_url": base_url, "name": "Renamed"}, format="json"
    )
    assert response.status_code == 200, response.content
    account.refresh_from_db()
    assert str(account.api_key) == key and account.name == "Renamed"


def test_a_new_base_url_with_the_key_is_accepted(world):
    account = world.a1.account
    response = api(world.key_a).patch(
        f"/api/v1/provider-accounts/{account.pk}/",
        {"base_url": "https://yy11.api.infobip.com", "api_key": "the-key-for-yy11"},
        format="json",
    )
    assert response.status_code == 200, response.content
    account = ProviderAccount.objects.get(pk=account.pk)
    assert account.base_url == "https://yy11.api.infobip.com" and str(account.api_key) == "the-key-for-yy11"
