"""A saved API key goes only to the address it was entered for (tenants/secret_binding.py): in the admin,
moving an account's API base URL elsewhere with the key field left empty is refused and changes nothing;
the same address in another spelling, or the new address with the key, is accepted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tenants.models import ProviderAccount
from tenants.secret_binding import stored_key_refusal
from tests.factories import make_account, make_tenant, make_tenant_admin

STORED = "https://abcd12.api.infobip.com"
ELSEWHERE = [
    "https://collector.example.com",
    "https://abcd12.api.infobip.com:8443",
    "https://abcd12.api.infobip.com.collector.example.com",
    "https://abcd13.api.infobip.com",
]
SAME = [
    "https://abcd12.api.infobip.com",
    "https://ABCD12.api.infobip.com/",
    "https://abcd12.api.infobip.com:443",
]


@pytest.mark.parametrize("new", ELSEWHERE)
def test_another_origin_needs_the_key_again(new):
    assert "Enter the API key again" in stored_key_refusal(STORED, new)


@pytest.mark.parametrize("new", SAME)
def test_the_same_origin_keeps_the_key(new):
    assert stored_key_refusal(STORED, new) == ""


def change_form(account: ProviderAccount, **changes) -> dict:
    form = {
        "tenant": account.tenant_id,
        "provider": account.provider,
        "name": account.name,
        "base_url": account.base_url,
        "api_key": "",
        "active": "on",
        "webhook_auth": account.webhook_auth,
    }
    return {**form, **changes}


@pytest.mark.django_db
@pytest.mark.parametrize("new", ELSEWHERE)
def test_the_admin_refuses_a_new_base_url_without_the_key(client, new):
    acme = make_tenant("Acme")
    account = make_account(acme, base_url=STORED)
    client.force_login(make_tenant_admin(acme, "ada"))
    response = client.post(
        reverse("admin:tenants_provideraccount_change", args=[account.pk]), change_form(account, base_url=new)
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Enter the API key again" in response.content.decode()
    account.refresh_from_db()
    assert account.base_url == STORED


@pytest.mark.django_db
@pytest.mark.parametrize(("new", "key"), [(SAME[1], ""), (ELSEWHERE[0], "a-new-key")])
def test_the_admin_accepts_the_same_address_or_the_key_with_the_new_one(client, new, key):
    acme = make_tenant("Acme")
    account = make_account(acme, base_url=STORED)
    old_key = str(account.api_key)
    client.force_login(make_tenant_admin(acme, "ada"))
    response = client.post(
        reverse("admin:tenants_provideraccount_change", args=[account.pk]),
        change_form(account, base_url=new, api_key=key, name="Renamed"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.name == "Renamed" and str(account.api_key) == (key or old_key)
