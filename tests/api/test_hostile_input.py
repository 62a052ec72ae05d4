"""Hostile input to the partner API: a 4xx in the documented error shape that says what is wrong, never a
500, on SQLite and on PostgreSQL (where a 23-digit id overflows bigint and NUL or NaN fail the query).

Routes are read from the router, so a new endpoint is covered without anyone remembering to add it.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.test import override_settings
from django.urls import reverse

from portal.api.base import ScopedViewSet
from portal.api.urls import router
from relay.untrusted import MAX_JSON_DEPTH
from tenants.models import ApiKey, Tenant

from .conftest import api
from .test_api_basics import rates
from .test_boundaries import DETAIL_OPERATIONS, list_routes

pytestmark = pytest.mark.django_db


HUGE = "9" * 23  # over PostgreSQL's bigint


def cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "fields"} and error["status"] == response.status_code
    return error


LIST_ROUTES = sorted(set(list_routes()))
BAD_CURSORS = {
    "not base64": "%%%",
    "position not a number": cursor("p=abc"),
    "position over bigint": cursor(f"p={HUGE}"),
    "position negative": cursor("p=-5"),
    "position with NUL": cursor("p=1\x00"),
    "offset not a number": cursor("o=x&p=1"),
    "reverse not a flag": cursor("r=yes&p=1"),
}


@pytest.mark.parametrize(("basename", "name"), LIST_ROUTES)
@pytest.mark.parametrize("bad", BAD_CURSORS, ids=list(BAD_CURSORS))
def test_a_bad_cursor_is_a_400_on_every_list(world, basename, name, bad):
    response = api(world.key_a).get(reverse(f"partner_api:{name}"), {"cursor": BAD_CURSORS[bad]})
    assert response.status_code == 400, response.content
    assert error_of(response)["fields"] == {"cursor": ["This cursor is not valid."]}


def test_a_cursor_from_next_still_works(world):
    client = api(world.key_a)
    first = client.get("/api/v1/tenants/", {"limit": 1}).json()
    second = client.get(first["next"])
    assert second.status_code == 200 and second.json()["results"]


ROW_RESOURCES = {basename for _, viewset, basename in router.registry if issubclass(viewset, ScopedViewSet)}


@pytest.mark.parametrize(("basename", "name", "method"), DETAIL_OPERATIONS)
@pytest.mark.parametrize("bad_id", [HUGE, "-1", "0", "1e3", "abc"])
def test_an_out_of_range_path_id_is_a_400_on_every_operation(world, basename, name, method, bad_id):
    url = reverse(f"partner_api:{name}", kwargs={"pk": 1}).replace("/1/", f"/{bad_id}/", 1)
    response = api(world.key_a).generic(method, url, data="{}", content_type="application/json")
    if basename not in ROW_RESOURCES:  # its ids are not rows' ids: whatever it answers, not a 500
        assert response.status_code < 500, response.content
        return
    assert response.status_code == 400, response.content
    assert "is not an id" in error_of(response)["fields"]["id"][0]


def filter_parameters():
    for _prefix, viewset, basename in router.registry:
        filterset = getattr(viewset, "filterset_class", None)
        for field_name, field in filterset().fields.items() if filterset else []:
            if field.__class__.__name__ == "IntegerField":
                yield basename, field_name


@pytest.mark.parametrize(("basename", "parameter"), sorted(set(filter_parameters())))
def test_an_out_of_range_filter_id_is_a_400_naming_the_parameter(world, basename, parameter):
    response = api(world.key_a).get(reverse(f"partner_api:{basename}-list"), {parameter: HUGE})
    assert response.status_code == 400, response.content
    assert parameter in error_of(response)["fields"]


@pytest.mark.parametrize(
    ("url", "field", "body"),
    [
        ("/api/v1/senders/", "account", {"channel": "whatsapp", "address": "+447860099111"}),
        ("/api/v1/routing-rules/", "sender", {"target_type": "channel"}),
        ("/api/v1/salesforce-connections/", "tenant", {}),
        ("/api/v1/messages/send/", "sender", {"to": "+385919998888", "text": "hi"}),
    ],
)
@pytest.mark.parametrize("value", [10**22, HUGE, -(10**22)])
def test_an_out_of_range_id_in_a_body_is_no_such_object(world, url, field, body, value):
    response = api(world.key_a).post(url, {**body, field: value}, format="json")
    assert response.status_code == 400, response.content
    assert "There is no object with id" in error_of(response)["fields"][field][0]


BAD_BODIES = {
    "NaN": (b'{"name": "X", "org_id": "00D8d000000N1nN", "delivery_window_seconds": NaN}', 400, "NaN"),
    "Infinity": (b'{"name": "X", "delivery_window_seconds": Infinity}', 400, "Infinity"),
    "1e400": (b'{"name": "X", "delivery_window_seconds": 1e400}', 400, "out of range"),
    "10,000 levels": (("[" * 10_000 + "]" * 10_000).encode(), 400, "nested deeper"),
    "one level too deep": (
        ('{"name": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}").encode(),
        400,
        "nested",
    ),
    "invalid UTF-8": (b'{"name": "\xff"}', 400, "UTF-8"),
    "NUL in a name": (b'{"name": "A\\u0000B", "org_id": "00D8d000000N1nN"}', 400, "Null characters"),
    "lone surrogate in a name": (b'{"name": "A\\ud800B", "org_id": "00D8d000000N1nN"}', 400, "Surrogate"),
    "over 2 MiB": (
        json.dumps({"name": "x" * (2 * 1024 * 1024)}).encode(),
        413,
        "DATA_UPLOAD_MAX_MEMORY_SIZE",
    ),
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_a_hostile_body_is_refused_with_the_reason_and_creates_nothing(world, case):
    body, status, says = BAD_BODIES[case]
    before = Tenant.objects.count()
    response = api(world.key_a).post("/api/v1/tenants/", data=body, content_type="application/json")
    assert response.status_code == status, response.content
    assert says in json.dumps(error_of(response))
    assert Tenant.objects.count() == before


def test_the_body_limit_is_the_setting(world):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = api(world.key_a).post("/api/v1/tenants/", {"name": "x" * 2000}, format="json")
    assert response.status_code == 413 and "1000 bytes" in error_of(response)["message"]


def test_an_org_id_in_use_is_not_available_whoever_holds_it(world):
    client = api(world.key_a)
    own = client.post("/api/v1/tenants/", {"name": "Again", "org_id": world.a1.tenant.org_id}, format="json")
    other = client.post("/api/v1/tenants/", {"name": "Again", "org_id": world.b.tenant.org_id}, format="json")
    assert own.status_code == other.status_code == 400
    assert error_of(own) == error_of(other)
    assert error_of(other)["fields"]["org_id"] == ["This Salesforce org id is not available."]
    by_slug = client.post(
        "/api/v1/tenants/",
        {"name": "X", "slug": world.b.tenant.slug, "org_id": "00D8d000000N1nN"},
        format="json",
    )
    assert error_of(by_slug)["fields"]["slug"] == ["This slug is not available."]


def test_a_partner_s_keys_share_one_rate_limit(world):
    """Keys are free to mint: a second key, or a tenant key of one of its tenants, does not add budget."""
    _, second_key = ApiKey.issue(name="alpha second", partner=world.partner_a)
    with override_settings(REST_FRAMEWORK=rates("4/min")):
        statuses = [
            api(key).get("/api/v1/tenants/").status_code
            for key in (world.key_a, second_key, world.a1.key, world.a2.key, second_key)
        ]
        assert statuses == [200, 200, 200, 200, 429]
        assert api(world.key_b).get("/api/v1/tenants/").status_code == 200  # another partner's budget


def test_a_tenant_without_a_partner_has_its_own_budget(world):
    tenant = world.a1.tenant
    Tenant.objects.filter(pk=tenant.pk).update(partner=None)
    with override_settings(REST_FRAMEWORK=rates("2/min")):
        assert [api(world.a1.key).get("/api/v1/tenants/").status_code for _ in range(3)] == [200, 200, 429]
        assert api(world.key_a).get("/api/v1/tenants/").status_code == 200


def test_a_slug_made_from_the_name_is_a_free_one_and_says_nothing_of_whose(world):
    """The caller sent no slug: a name another partner's tenant shares is no reason to refuse the tenant."""
    client = api(world.key_a)
    made = client.post(
        "/api/v1/tenants/", {"name": world.b.tenant.name, "org_id": "00D8d000000N2nN"}, format="json"
    )
    assert made.status_code == 201, made.content
    assert made.json()["slug"] == f"{world.b.tenant.slug}-2"
    again = client.post(
        "/api/v1/tenants/", {"name": world.b.tenant.name, "org_id": "00D8d000000N3nN"}, format="json"
    )
    assert again.status_code == 201 and again.json()["slug"] == f"{world.b.tenant.slug}-3"
    long_name = client.post(
        "/api/v1/tenants/", {"name": "x" * 80, "org_id": "00D8d000000N4nN"}, format="json"
    )
    assert long_name.json()["slug"] == "x" * 50
    longer = client.post("/api/v1/tenants/", {"name": "x" * 90, "org_id": "00D8d000000N5nN"}, format="json")
    assert longer.json()["slug"] == "x" * 48 + "-2"
