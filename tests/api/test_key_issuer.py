"""A tenant key a partner issues is the partner's: it stops with the partner's own keys, when the partner is
switched off or no longer runs the tenant. Otherwise a partner kept every tenant it ever ran through tenant
keys it minted for itself (and keys minted with those). The tenant's own admins' keys are not touched."""

from __future__ import annotations

import pytest

from tenants.models import ApiKey

from .conftest import api

pytestmark = pytest.mark.django_db


def issue(key: str, **body) -> str:
    response = api(key).post("/api/v1/api-keys/", {"name": "issued", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["key"]


def works(key: str) -> bool:
    status = api(key).get("/api/v1/tenants/").status_code
    assert status in (200, 401)
    return status == 200


@pytest.fixture
def keys(world):
    by_partner = issue(world.key_a, tenant=world.a1.tenant.pk)
    return {
        "by partner": by_partner,
        "by partner's tenant key": issue(by_partner),
        "by tenant admin": issue(world.a1.key),
        "tenant admin's": world.a1.key,
    }


def test_every_key_works_while_the_partner_runs_the_tenant(world, keys):
    assert {name: works(key) for name, key in keys.items()} == dict.fromkeys(keys, True)
    issued = ApiKey.objects.filter(tenant=world.a1.tenant, issued_by=world.partner_a)
    assert issued.count() == 2
    listed = api(world.a1.key).get("/api/v1/api-keys/").json()["results"]
    assert sorted(str(row["issued_by"]) for row in listed) == sorted(
        ["None", "None", *[str(world.partner_a.pk)] * 2]
    )


def test_the_partners_keys_stop_when_the_partner_is_switched_off(world, keys):
    world.partner_a.active = False
    world.partner_a.save()
    assert {name: works(key) for name, key in keys.items()} == {
        "by partner": False,
        "by partner's tenant key": False,
        "by tenant admin": True,
        "tenant admin's": True,
    }
    refused = api(keys["by partner"]).get("/api/v1/tenants/").json()["error"]
    assert refused["code"] == "authentication_failed" and "inactive" in refused["message"]


def test_the_partners_keys_stop_when_the_tenant_moves_to_another_partner(world, keys):
    tenant = world.a1.tenant
    tenant.partner = world.partner_b
    tenant.save()
    assert {name: works(key) for name, key in keys.items()} == {
        "by partner": False,
        "by partner's tenant key": False,
        "by tenant admin": True,
        "tenant admin's": True,
    }
    assert api(world.key_b).get(f"/api/v1/tenants/{tenant.pk}/").status_code == 200
