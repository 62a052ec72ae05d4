"""The wizard's provider step checks a key live before saving it: with the key field left empty it checks
the saved key. Pointed at another address, that check would carry the saved key there, so a new API base
URL needs the key again (tenants/secret_binding.py); the same address keeps the saved key."""

from __future__ import annotations

import pytest

from tenants.models import ProviderAccount

from .conftest import INFOBIP_KEY, canvas_sign_in, make_clean_tenant

pytestmark = pytest.mark.django_db


def provider_form(base_url: str, **changes) -> dict:
    form = {
        "provider": "infobip",
        "name": "Acme Infobip",
        "base_url": base_url,
        "api_key": "",
        "webhook_auth": "hmac",
        "action": "save",
    }
    return {**form, **changes}


def saved_account(demo_org, tenant) -> ProviderAccount:
    account = ProviderAccount(
        tenant=tenant, name="Acme Infobip", base_url=f"{demo_org.base_url}/sim/infobip", api_key=INFOBIP_KEY
    )
    account.rotate_webhook_credentials()
    account.save()
    return account


def elsewhere(demo_org) -> list[str]:
    """Other origins: another host name of the same sandbox (a server that would answer, and read the key),
    and another port of the same host."""
    port = int(demo_org.base_url.rsplit(":", 1)[1])
    return [f"http://localhost:{port}/sim/infobip", f"http://127.0.0.1:{port + 1}/sim/infobip"]


@pytest.mark.parametrize("which", [0, 1])
def test_a_new_base_url_with_the_key_left_empty_is_refused_before_any_check(demo_org, client, which):
    tenant = make_clean_tenant(demo_org.sandbox)
    account = saved_account(demo_org, tenant)
    token = canvas_sign_in(client, demo_org.sim)
    new = elsewhere(demo_org)[which]
    response = client.post("/console/wizard/provider/", {"st": token, **provider_form(new)})
    assert response.status_code == 400
    assert "Enter the API key again" in response.content.decode()
    account.refresh_from_db()
    assert account.base_url == f"{demo_org.base_url}/sim/infobip"


def test_the_same_address_keeps_the_saved_key_and_a_new_one_takes_the_key(demo_org, client):
    tenant = make_clean_tenant(demo_org.sandbox)
    account = saved_account(demo_org, tenant)
    token = canvas_sign_in(client, demo_org.sim)
    same = client.post(
        "/console/wizard/provider/", {"st": token, **provider_form(f"{demo_org.base_url}/sim/infobip/")}
    )
    assert same.status_code == 302, same.content.decode()[:1500]
    new = elsewhere(demo_org)[0]
    moved = client.post("/console/wizard/provider/", {"st": token, **provider_form(new, api_key=INFOBIP_KEY)})
    assert moved.status_code in (200, 302), moved.content.decode()[:1500]
    account.refresh_from_db()
    assert account.base_url == new and str(account.api_key) == INFOBIP_KEY
