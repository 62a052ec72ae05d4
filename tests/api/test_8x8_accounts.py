"""The partner API takes 8x8 accounts (region or base URL, sub-account id, account id, Basic webhook auth),
checks their key live at the sandbox's 8x8, lists their senders' templates, and refuses what 8x8 cannot use."""

from __future__ import annotations

import base64

import pytest

from tenants.models import ProviderAccount
from tests.api.conftest import api
from tests.api.test_configuration import finished_check
from tests.relay.eightbyeight_support import ACCOUNT_ID, KEY, SUB, simulator_account

pytestmark = pytest.mark.django_db


def create(world, **fields):
    body = {
        "tenant": world.a1.tenant.pk,
        "provider": "8x8",
        "name": "Acme 8x8",
        "region": "eu",
        "api_key": "eight-secret-key",
        "subaccount_id": SUB,
        "provider_account_id": ACCOUNT_ID,
        "webhook_auth": "basic",
        **fields,
    }
    return api(world.key_a).post(
        "/api/v1/provider-accounts/", {k: v for k, v in body.items() if v is not None}, format="json"
    )


def test_an_8x8_account_by_region_answers_with_the_authorization_value_once(world):
    response = create(world)
    assert response.status_code == 201, response.content
    data = response.json()
    account = ProviderAccount.objects.get(pk=data["id"])
    assert (account.base_url, account.subaccount_id, account.provider_account_id) == (
        "https://chatapps.8x8.uk",
        SUB,
        ACCOUNT_ID,
    )
    webhook = data["webhook"]
    expected = base64.b64encode(f"{account.webhook_username}:{account.webhook_secret}".encode()).decode()
    assert webhook["authorization"] == f"Basic {expected}" and webhook["header"] == "Authorization"
    assert "eight-secret-key" not in str(data)
    again = api(world.key_a).get(f"/api/v1/provider-accounts/{account.pk}/").json()
    assert "authorization" not in again["webhook"] and "secret" not in again["webhook"]
    assert (again["subaccount_id"], again["provider_account_id"]) == (SUB, ACCOUNT_ID)


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"region": None}, {"base_url"}),
        ({"region": "mars"}, {"region"}),
        ({"subaccount_id": None}, {"subaccount_id"}),
        ({"subaccount_id": "no spaces allowed"}, {"subaccount_id"}),
        ({"provider_account_id": None}, {"provider_account_id"}),
        ({"provider_account_id": "not-a-uuid"}, {"provider_account_id"}),
        ({"webhook_auth": "hmac"}, {"webhook_auth"}),
        ({"webhook_auth": None}, {"webhook_auth"}),
    ],
)
def test_what_8x8_needs_is_required_and_nothing_is_saved(world, fields, refused):
    before = ProviderAccount.objects.count()
    response = create(world, **fields)
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]["fields"]) == refused
    assert ProviderAccount.objects.count() == before


def test_infobip_accounts_still_need_only_a_base_url(world):
    response = api(world.key_a).post(
        "/api/v1/provider-accounts/",
        {"tenant": world.a1.tenant.pk, "name": "IB", "api_key": "k", "webhook_auth": "hmac"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"base_url"}


def test_validate_checks_the_8x8_key_live(wired, sim, sandbox):
    tenant, key = wired
    simulator_account(sim)
    client = api(key)
    body = {
        "tenant": tenant.pk,
        "provider": "8x8",
        "name": "Acme 8x8",
        "base_url": f"{sandbox.base_url}/sim/8x8",
        "api_key": KEY,
        "subaccount_id": SUB,
        "provider_account_id": ACCOUNT_ID,
        "webhook_auth": "basic",
    }
    created = client.post("/api/v1/provider-accounts/", body, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/v1/provider-accounts/{created.json()['id']}/validate/"
    check = finished_check(client, client.post(url))
    assert (check["ok"], check["message"]) == (True, "8x8 accepted the API key.")
    client.patch(f"/api/v1/provider-accounts/{created.json()['id']}/", {"api_key": "wrong"}, format="json")
    check = finished_check(client, client.post(url))
    assert check["ok"] is False and "8x8 refused the credentials" in check["message"]
