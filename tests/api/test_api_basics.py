"""What every endpoint shares: the error shape, rate limits per key, the served OpenAPI document and docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from drf_spectacular.validation import validate_schema

from tenants.models import ApiKey

from .conftest import api

pytestmark = pytest.mark.django_db


def rates(general: str, send: str = "100/min") -> dict:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"partner_api": general, "partner_api_send": send},
    }


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(world):
    with override_settings(REST_FRAMEWORK=rates("3/min")):
        client = api(world.key_a)
        statuses = [client.get("/api/v1/tenants/").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get("/api/v1/tenants/")
        assert 0 < int(limited["Retry-After"]) <= 60
        assert limited.json()["error"]["code"] == "throttled"
        assert api(world.key_b).get("/api/v1/tenants/").status_code == 200


def test_callers_without_a_key_cannot_escape_the_limit_with_their_own_forwarded_for(world):
    """The limit of callers without a key (the public schema, every 401) is per address: DRF's default read
    the whole X-Forwarded-For header, which a client writes, so a new one per request was never limited."""
    with override_settings(REST_FRAMEWORK=rates("2/min")):
        statuses = [
            api().get("/api/v1/schema/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(3)
        ]
        assert statuses == [200, 200, 429]


@pytest.mark.parametrize(("proxies", "limited"), [(0, True), (1, False)])
def test_behind_a_proxy_the_address_it_appended_is_the_callers(world, proxies, limited):
    with override_settings(REST_FRAMEWORK={**rates("1/min"), "NUM_PROXIES": proxies}):
        first = api().get("/api/v1/schema/", HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.1")
        second = api().get("/api/v1/schema/", HTTP_X_FORWARDED_FOR="192.0.2.1, 192.0.2.2")
        assert first.status_code == 200
        assert second.status_code == (429 if limited else 200)


def test_sends_have_their_own_lower_limit(world):
    with override_settings(REST_FRAMEWORK=rates("100/min", send="1/min")):
        client = api(world.a1.key)
        body = {"sender": world.a1.sender.pk, "to": "+385919998888", "text": "hi"}
        first = client.post("/api/v1/messages/send/", {**body, "to": "bad"}, format="json")
        second = client.post("/api/v1/messages/send/", body, format="json")
        assert (first.status_code, second.status_code) == (400, 429)
        assert client.get("/api/v1/messages/").status_code == 200


def test_every_error_has_the_same_shape(world):
    client = api(world.key_a)
    answers = [
        client.post("/api/v1/tenants/", data="{not json", content_type="application/json"),
        client.post("/api/v1/tenants/", data="name=x", content_type="application/x-www-form-urlencoded"),
        client.get("/api/v1/tenants/987654/"),
        client.get("/api/v1/no-such-thing/"),
        client.put("/api/v1/messages/1/", {}, format="json"),
        api().get("/api/v1/tenants/"),
        client.post("/api/v1/tenants/", {}, format="json"),
    ]
    assert [a.status_code for a in answers] == [400, 415, 404, 404, 405, 401, 400]
    for answer in answers:
        error = answer.json()["error"]
        assert set(error) == {"status", "code", "message", "fields"}
        assert error["status"] == answer.status_code and error["message"]
    assert answers[0].json()["error"]["code"] == "parse_error"
    assert answers[-1].json()["error"]["fields"] == {
        "name": ["This field is required."],
        "org_id": ["This field is required."],
    }


def test_last_used_is_recorded(world):
    assert ApiKey.objects.get(pk=world.key_a_record.pk).last_used_at is None
    api(world.key_a).get("/api/v1/tenants/")
    assert ApiKey.objects.get(pk=world.key_a_record.pk).last_used_at is not None


def test_the_openapi_document_is_served_without_a_key_and_is_valid(client):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    send = schema["paths"]["/api/v1/messages/send-template/"]["post"]
    assert {"201", "400", "401", "422", "429"} <= set(send["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in send["parameters"])
    tenant_detail = schema["paths"]["/api/v1/tenants/{id}/"]["get"]["responses"]
    assert tenant_detail["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    account = schema["components"]["schemas"]["ProviderAccount"]["properties"]
    assert "api_key" not in account and "has_api_key" in account  # secrets never in a response


def test_the_openapi_document_is_built_once_per_process(client, monkeypatch):
    """Building it costs about 0.1 s of CPU and anyone may ask: each process builds it once."""
    from drf_spectacular.generators import SchemaGenerator

    from portal.api import urls

    built = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        built.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    monkeypatch.setattr(urls, "_documents", {})
    answers = [
        client.get("/api/v1/schema/?format=json"),
        client.get("/api/v1/schema/"),
        client.get("/api/v1/schema/?format=json"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].content == answers[2].content and b"openapi: 3" in answers[1].content
    assert len(built) == 1


def test_the_docs_page_uses_the_local_redoc(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/redoc/bundles/redoc.standalone.js" in html and "googleapis" not in html
    assert (
        Path(settings.BASE_DIR) / "static/vendor/redoc/bundles/redoc.standalone.js"
    ).stat().st_size > 500_000
