"""Partner and tenant boundaries, for every endpoint the router serves (NetBox-style generic cases).

The routes are read from the router, so a new endpoint is covered (or this test fails asking for its
object) without anyone remembering to add it.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from portal import livechecks
from portal.api.urls import router
from tenants.models import ApiKey

from .conftest import api

# Which object of an estate each resource serves.
OBJECT_OF = {
    "tenant": lambda e: e.tenant,
    "salesforce-connection": lambda e: e.connection,
    "provider-account": lambda e: e.account,
    "sender": lambda e: e.sender,
    "routing-rule": lambda e: e.rule,
    "conversation": lambda e: e.conversation,
    "message": lambda e: e.message,
    "api-key": lambda e: e.key_record,
    "webhook-subscription": lambda e: e.subscription,
    "webhook-delivery": lambda e: e.delivery,
    "check": lambda e: finished_check_of(e.tenant),
}


def finished_check_of(tenant) -> SimpleNamespace:
    """A live check of the tenant, as the API's live actions leave one (portal/livechecks.py)."""
    check = livechecks.Check(
        id=str(uuid.uuid4()), tenant_id=tenant.pk, kind="salesforce-login", state=livechecks.DONE, ok=True,
        message="Signed in.", created_at=timezone.now().isoformat(),
    )  # fmt: skip
    livechecks._save(check)
    return SimpleNamespace(pk=check.id)


def detail_operations():
    """(basename, route name, HTTP method) of every operation on one object."""
    for _prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            if not route.detail:
                continue
            for method in router.get_method_map(viewset, route.mapping):  # the methods it implements
                yield basename, route.name.format(basename=basename), method.upper()


def list_routes():
    for _prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            if not route.detail and router.get_method_map(viewset, route.mapping).get("get") == "list":
                yield basename, route.name.format(basename=basename)


DETAIL_OPERATIONS = sorted(set(detail_operations()))


def test_every_resource_has_an_object_to_test_with():
    assert {basename for _, _, basename in router.registry} == set(OBJECT_OF)
    assert len(DETAIL_OPERATIONS) >= 38  # every detail operation of the 10 resources


def call(client, method: str, url: str):
    return client.generic(method, url, data="{}", content_type="application/json")


@pytest.mark.parametrize(("basename", "name", "method"), DETAIL_OPERATIONS)
def test_another_partners_object_is_not_found(world, basename, name, method):
    """Partner A's key on partner B's object: 404, exactly as for an id that does not exist."""
    target = OBJECT_OF[basename](world.b)
    client = api(world.key_a)
    response = call(client, method, reverse(f"partner_api:{name}", kwargs={"pk": target.pk}))
    missing = call(client, method, reverse(f"partner_api:{name}", kwargs={"pk": 987654}))
    assert response.status_code == 404, response.content
    assert response.json() == missing.json()
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("basename", "name", "method"), DETAIL_OPERATIONS)
def test_a_tenant_key_does_not_reach_a_sibling_tenant(world, basename, name, method):
    """A1's tenant admin key on A2's object (same partner): 404."""
    target = OBJECT_OF[basename](world.a2)
    response = call(api(world.a1.key), method, reverse(f"partner_api:{name}", kwargs={"pk": target.pk}))
    assert response.status_code == 404, response.content


@pytest.mark.parametrize(("basename", "name"), sorted(set(list_routes())))
def test_lists_show_only_the_callers_objects(world, basename, name):
    url = reverse(f"partner_api:{name}")
    partner_ids = {item["id"] for item in api(world.key_a).get(url).json()["results"]}
    tenant_ids = {item["id"] for item in api(world.a1.key).get(url).json()["results"]}
    get = OBJECT_OF[basename]
    assert get(world.a1).pk in partner_ids and get(world.a2).pk in partner_ids
    assert get(world.b).pk not in partner_ids
    assert get(world.a1).pk in tenant_ids
    assert get(world.a2).pk not in tenant_ids and get(world.b).pk not in tenant_ids


def test_the_partner_sees_its_own_partner_keys_and_a_tenant_key_does_not(world):
    partner_view = {k["id"] for k in api(world.key_a).get("/api/v1/api-keys/").json()["results"]}
    tenant_view = {k["id"] for k in api(world.a1.key).get("/api/v1/api-keys/").json()["results"]}
    assert world.key_a_record.pk in partner_view
    assert world.key_a_record.pk not in tenant_view


# References in a request body: another partner's id reads exactly like an id that does not exist.
BODY_REFERENCES = [
    ("/api/v1/salesforce-connections/", "tenant", lambda e: e.tenant, {"instance_url": "https://x.my.salesforce.com"}),
    ("/api/v1/provider-accounts/", "tenant", lambda e: e.tenant, {"name": "x", "base_url": "https://x.api.infobip.com", "api_key": "k"}),
    ("/api/v1/senders/", "account", lambda e: e.account, {"channel": "whatsapp", "address": "+447860099299"}),
    ("/api/v1/senders/sync/", "account", lambda e: e.account, {}),
    ("/api/v1/routing-rules/", "sender", lambda e: e.sender, {"target_type": "channel"}),
    ("/api/v1/messages/send/", "sender", lambda e: e.sender, {"to": "+385919998888", "text": "hi"}),
    ("/api/v1/messages/send-template/", "sender", lambda e: e.sender, {"to": "+385919998888", "template": {"name": "t", "language": "en"}}),
    ("/api/v1/api-keys/", "tenant", lambda e: e.tenant, {"name": "k"}),
    ("/api/v1/webhook-subscriptions/", "tenant", lambda e: e.tenant, {"url": "https://hooks.example.com/x"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "field", "get", "body"), BODY_REFERENCES, ids=[r[0] for r in BODY_REFERENCES]
)
def test_a_reference_to_another_partners_object_is_no_such_id(world, url, field, get, body):
    client = api(world.key_a)
    foreign = client.post(url, {**body, field: get(world.b).pk}, format="json")
    missing = client.post(url, {**body, field: 987654}, format="json")
    assert foreign.status_code == 400, foreign.content
    assert foreign.json()["error"]["fields"][field] == [
        m.replace("987654", str(get(world.b).pk)) for m in missing.json()["error"]["fields"][field]
    ]


def test_no_key_wrong_scheme_and_revoked_key_are_401(world):
    assert api().get("/api/v1/tenants/").status_code == 401
    client = APIClient_with_header("Token " + world.key_a)
    assert client.get("/api/v1/tenants/").status_code == 401
    ApiKey.objects.get(pk=world.key_a_record.pk).revoke()
    response = api(world.key_a).get("/api/v1/tenants/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "lookup", ["\x00" * 16, "\xff" * 16, "0123456789ABCDEF"], ids=["nul", "latin-1", "upper"]
)
def test_a_key_whose_lookup_is_not_one_is_401_not_500(world, lookup):
    """Anyone can send any bytes after 'Bearer sb_': a NUL made PostgreSQL's key lookup fail (a 500)."""
    response = APIClient_with_header(f"Bearer sb_{lookup}{world.key_a[19:]}").get("/api/v1/tenants/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_key_of_an_inactive_partner_is_refused(world):
    world.partner_a.active = False
    world.partner_a.save()
    assert api(world.key_a).get("/api/v1/tenants/").status_code == 401


def APIClient_with_header(value: str):  # noqa: N802 - reads like the class it builds
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client
