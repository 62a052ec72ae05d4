"""Tenants, texts, Salesforce connections, provider accounts, senders, routing rules and API keys: each
resource and action, secrets write-only, validation with field-level messages and nothing written."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tenants.certificates import generate_key_pair
from tenants.models import ApiKey, Partner, ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant
from tenants.validators import normalize_salesforce_id

from .conftest import api

pytestmark = pytest.mark.django_db

SECRETS = ("private_key", "canvas_consumer_secret", "api_key", "webhook_secret", "digest")


def assert_no_secret(data, *values):
    text = str(data)
    for value in values:
        assert value not in text
    for name in SECRETS:
        assert name not in (data if isinstance(data, dict) else {})


# --- tenants ----------------------------------------------------------------------------------------------


def test_partner_creates_a_tenant_with_a_normalized_org_id_and_its_slug(world):
    response = api(world.key_a).post(
        "/api/v1/tenants/", {"name": "Gamma Stores", "org_id": "00D8d000000GamM"}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["org_id"] == normalize_salesforce_id("00D8d000000GamM") and len(data["org_id"]) == 18
    assert data["slug"] == "gamma-stores" and data["partner"] == world.partner_a.pk
    assert data["delivery_window_seconds"] == 3 * 24 * 3600
    assert Tenant.objects.get(pk=data["id"]).partner == world.partner_a


def test_a_bad_tenant_changes_nothing_and_says_which_field(world):
    before = Tenant.objects.count()
    response = api(world.key_a).post(
        "/api/v1/tenants/", {"name": "Bad", "org_id": "00X123", "delivery_window_seconds": 1}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["status"] == 400
    assert set(error["fields"]) == {"org_id", "delivery_window_seconds"}
    assert Tenant.objects.count() == before


def test_a_duplicate_org_id_is_a_field_error(world):
    response = api(world.key_a).post(
        "/api/v1/tenants/", {"name": "Copy", "org_id": world.b.tenant.org_id[:15]}, format="json"
    )
    assert response.status_code == 400
    assert "org_id" in response.json()["error"]["fields"]


def test_a_tenant_key_cannot_create_tenants_nor_change_its_org(world):
    client = api(world.a1.key)
    response = client.post("/api/v1/tenants/", {"name": "X", "org_id": "00D8d000000XxxX"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    response = client.patch(
        f"/api/v1/tenants/{world.a1.tenant.pk}/",
        {"org_id": "00D8d000000XxxX", "name": "Renamed"},
        format="json",
    )
    assert response.status_code == 200
    world.a1.tenant.refresh_from_db()
    assert world.a1.tenant.name == "Renamed" and world.a1.tenant.org_id.startswith("00D8d000000A1aA")


def test_tenants_are_deactivated_not_deleted(world):
    client = api(world.key_a)
    assert client.delete(f"/api/v1/tenants/{world.a1.tenant.pk}/").status_code == 405
    response = client.patch(f"/api/v1/tenants/{world.a1.tenant.pk}/", {"active": False}, format="json")
    assert response.json()["active"] is False
    assert client.get("/api/v1/tenants/?active=false").json()["results"][0]["id"] == world.a1.tenant.pk
    assert len(client.get("/api/v1/tenants/?active=true").json()["results"]) == 1


def test_texts_are_read_and_changed(world):
    client = api(world.a1.key)
    url = f"/api/v1/tenants/{world.a1.tenant.pk}/texts/"
    assert client.get(url).json() == {"welcome_text": "", "closing_text": "", "no_agent_text": ""}
    response = client.patch(url, {"welcome_text": "Hi there"}, format="json")
    assert response.json()["welcome_text"] == "Hi there"
    world.a1.tenant.refresh_from_db()
    assert world.a1.tenant.welcome_text == "Hi there"


# --- Salesforce connections ---------------------------------------------------------------------------------


def test_a_new_connection_gets_a_generated_key_pair_and_never_shows_the_private_key(world):
    tenant = Tenant.objects.create(name="New", slug="new", org_id="00D8d000000NewwA", partner=world.partner_a)
    response = api(world.key_a).post(
        "/api/v1/salesforce-connections/",
        {
            "tenant": tenant.pk,
            "instance_url": "https://new.my.salesforce.com",
            "consumer_key": "3MVGnew",
            "integration_username": "int@new.example",
            "canvas_consumer_secret": "canvas-secret-value",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    connection = SalesforceConnection.objects.get(tenant=tenant)
    assert data["has_private_key"] and data["has_canvas_consumer_secret"]
    assert data["certificate"].startswith("-----BEGIN CERTIFICATE-----") and data["certificate_expires_at"]
    assert_no_secret(data, str(connection.private_key), "canvas-secret-value")
    assert str(connection.canvas_consumer_secret) == "canvas-secret-value"


def test_generate_certificate_replaces_the_pair(world):
    url = f"/api/v1/salesforce-connections/{world.a1.connection.pk}/generate-certificate/"
    response = api(world.key_a).post(url)
    assert response.status_code == 200
    world.a1.connection.refresh_from_db()
    assert response.json()["certificate"] == world.a1.connection.certificate
    assert "PRIVATE" not in str(response.json())


def test_a_supplied_key_pair_must_match(world):
    key, _ = generate_key_pair("one")
    _, other_certificate = generate_key_pair("two")
    url = f"/api/v1/salesforce-connections/{world.a1.connection.pk}/"
    response = api(world.key_a).patch(
        url, {"private_key": key, "certificate": other_certificate}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"certificate": ["This certificate is not the key's."]}
    response = api(world.key_a).patch(url, {"private_key": key}, format="json")
    assert "certificate" in response.json()["error"]["fields"]


def test_a_plain_http_salesforce_url_is_refused(world):
    url = f"/api/v1/salesforce-connections/{world.a1.connection.pk}/"
    response = api(world.key_a).patch(url, {"instance_url": "http://acme.my.salesforce.com"}, format="json")
    assert response.status_code == 400
    assert "https" in response.json()["error"]["fields"]["instance_url"][0]


def finished_check(client, response) -> dict:
    """A live action answers 202 with a check; its status resource carries the outcome (Celery runs eager
    in these tests, so it is done by the time the 202 is sent)."""
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["url"] and body["url"].endswith(f"/api/v1/checks/{body['id']}/")
    polled = client.get(body["url"])
    assert polled.status_code == 200, polled.content
    assert polled.json()["status"] == "done", polled.json()
    return polled.json()


def test_the_live_test_signs_in_to_the_sandbox(wired):
    tenant, key = wired
    client = api(key)
    check = finished_check(
        client, client.post(f"/api/v1/salesforce-connections/{tenant.salesforce.pk}/test/")
    )
    assert check["ok"] is True, check
    assert check["kind"] == "salesforce-login" and check["tenant"] == tenant.pk
    assert "Salesforce accepted the login" in check["message"]


def test_the_live_test_reports_a_refused_sign_in(wired):
    tenant, key = wired
    SalesforceConnection.objects.filter(pk=tenant.salesforce.pk).update(consumer_key="3MVGunknown")
    client = api(key)
    check = finished_check(
        client, client.post(f"/api/v1/salesforce-connections/{tenant.salesforce.pk}/test/")
    )
    assert check["ok"] is False
    assert check["message"]


def test_a_check_is_found_only_by_its_tenants_keys(wired):
    tenant, key = wired
    response = api(key).post(f"/api/v1/salesforce-connections/{tenant.salesforce.pk}/test/")
    url = response.json()["url"]
    _, other_key = ApiKey.issue(name="other", partner=Partner.objects.create(name="Other", slug="other"))
    assert api(other_key).get(url).status_code == 404  # another partner's key: no such check
    assert api(key).get("/api/v1/checks/not-a-uuid/").status_code == 404
    assert api(key).get("/api/v1/checks/6c1c5f7e-0000-4000-8000-000000000000/").status_code == 404


# --- provider accounts ------------------------------------------------------------------------------------


def test_a_new_account_answers_with_its_webhook_secret_once(world):
    client = api(world.key_a)
    response = client.post(
        "/api/v1/provider-accounts/",
        {
            "tenant": world.a1.tenant.pk,
            "name": "Second",
            "base_url": "https://zz99.api.infobip.com",
            "api_key": "ib-secret-key",
            "webhook_auth": "basic",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    account = ProviderAccount.objects.get(pk=data["id"])
    webhook = data["webhook"]
    assert webhook["secret"] == str(account.webhook_secret)
    assert webhook["url"].endswith(account.webhook_path) and webhook["auth"] == "basic"
    assert webhook["username"] == account.webhook_username and webhook["username"].startswith("sb-")
    assert_no_secret(data, "ib-secret-key")
    again = client.get(f"/api/v1/provider-accounts/{account.pk}/").json()
    assert "secret" not in again["webhook"] and again["has_api_key"] is True
    assert_no_secret(again, str(account.webhook_secret), "ib-secret-key")


def test_an_account_needs_an_api_key_and_a_known_provider(world):
    response = api(world.key_a).post(
        "/api/v1/provider-accounts/",
        {
            "tenant": world.a1.tenant.pk,
            "name": "x",
            "base_url": "https://x.api.infobip.com",
            "provider": "twilio",
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"provider", "api_key"}


def test_rotate_and_change_of_auth_make_new_credentials(world):
    client = api(world.key_a)
    account = world.a1.account
    old = str(account.webhook_secret)
    rotated = client.post(f"/api/v1/provider-accounts/{account.pk}/rotate-webhook-credentials/").json()
    account.refresh_from_db()
    assert rotated["secret"] == str(account.webhook_secret) != old
    changed = client.patch(
        f"/api/v1/provider-accounts/{account.pk}/", {"webhook_auth": "header"}, format="json"
    )
    account.refresh_from_db()
    assert changed.json()["webhook"]["secret"] == str(account.webhook_secret) != rotated["secret"]
    renamed = client.patch(f"/api/v1/provider-accounts/{account.pk}/", {"name": "Renamed"}, format="json")
    assert "secret" not in renamed.json()["webhook"]


def test_validate_asks_the_provider(wired):
    tenant, key = wired
    account = ProviderAccount.objects.get(tenant=tenant)
    client = api(key)
    check = finished_check(client, client.post(f"/api/v1/provider-accounts/{account.pk}/validate/"))
    assert (check["ok"], check["message"], check["kind"]) == (
        True,
        "Infobip accepted the API key.",
        "provider-key",
    )
    account.api_key = "wrong-key"
    account.save()
    check = finished_check(client, client.post(f"/api/v1/provider-accounts/{account.pk}/validate/"))
    assert check["ok"] is False and "API key rejected" in check["message"]


# --- senders and routing rules ----------------------------------------------------------------------------


def test_a_sender_is_created_with_its_number_normalized(world):
    response = api(world.key_a).post(
        "/api/v1/senders/",
        {"account": world.a1.account.pk, "channel": "whatsapp", "address": "447860044444"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["address"] == "+447860044444" and response.json()["tenant"] == world.a1.tenant.pk


def test_a_duplicate_or_invalid_sender_is_a_field_error(world):
    client = api(world.key_a)
    bad = client.post(
        "/api/v1/senders/",
        {"account": world.a1.account.pk, "channel": "whatsapp", "address": "123"},
        format="json",
    )
    assert bad.status_code == 400 and "address" in bad.json()["error"]["fields"]
    duplicate = client.post(
        "/api/v1/senders/",
        {"account": world.a1.account.pk, "channel": "whatsapp", "address": world.a1.sender.address[1:]},
        format="json",
    )
    assert duplicate.status_code == 400
    assert Sender.objects.filter(account=world.a1.account).count() == 1


def test_a_sender_cannot_move_to_another_tenants_account(world):
    response = api(world.key_a).patch(
        f"/api/v1/senders/{world.a1.sender.pk}/", {"account": world.a2.account.pk}, format="json"
    )
    assert response.status_code == 400
    assert "account" in response.json()["error"]["fields"]


def test_a_sender_in_use_is_a_conflict(world):
    response = api(world.key_a).delete(f"/api/v1/senders/{world.a1.sender.pk}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "protected"
    assert Sender.objects.filter(pk=world.a1.sender.pk).exists()


def test_sync_adds_the_providers_numbers_once(wired):
    tenant, key = wired
    account = ProviderAccount.objects.get(tenant=tenant)
    Sender.objects.filter(tenant=tenant, channel="sms").delete()
    client = api(key)
    result = finished_check(
        client, client.post("/api/v1/senders/sync/", {"account": account.pk}, format="json")
    )["result"]
    created = result["created"]
    assert [(s["channel"], s["address"], s["enabled"]) for s in created] == [("sms", "+447491163443", False)]
    assert {s["channel"] for s in result["existing"]} == {"whatsapp"}  # Viber names are not listed
    again = finished_check(
        client, client.post("/api/v1/senders/sync/", {"account": account.pk}, format="json")
    )
    assert again["result"]["created"] == []


def test_sync_reports_a_provider_failure_in_its_check(wired):
    tenant, key = wired
    account = ProviderAccount.objects.get(tenant=tenant)
    account.base_url = "http://127.0.0.1:9/"  # nothing listens on the discard port
    account.save()
    Sender.objects.filter(tenant=tenant, channel="sms").delete()
    before = set(Sender.objects.filter(tenant=tenant).values_list("pk", flat=True))
    client = api(key)
    check = finished_check(
        client, client.post("/api/v1/senders/sync/", {"account": account.pk}, format="json")
    )
    assert check["ok"] is False and check["result"] is None and check["message"]
    assert set(Sender.objects.filter(tenant=tenant).values_list("pk", flat=True)) == before


def test_routing_rules_are_validated_by_the_model(world):
    client = api(world.a1.key)
    bad = client.post(
        "/api/v1/routing-rules/",
        {"sender": world.a1.sender.pk, "target_type": "queue", "customer_pattern": "abc"},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"target_id", "customer_pattern"}
    good = client.post(
        "/api/v1/routing-rules/",
        {"sender": world.a1.sender.pk, "target_type": "queue", "target_id": "00G8d000000AbCd", "priority": 5},
        format="json",
    )
    assert good.status_code == 201, good.content
    assert good.json()["target_id"] == RoutingRule.objects.get(pk=good.json()["id"]).target_id
    assert len(good.json()["target_id"]) == 18 and good.json()["tenant"] == world.a1.tenant.pk
    listed = client.get(f"/api/v1/routing-rules/?sender={world.a1.sender.pk}").json()["results"]
    assert [r["priority"] for r in listed] == [100, 5]
    assert client.delete(f"/api/v1/routing-rules/{good.json()['id']}/").status_code == 204


# --- API keys ---------------------------------------------------------------------------------------------


def test_a_partner_issues_a_tenant_key_shown_once_which_then_works(world):
    client = api(world.key_a)
    response = client.post(
        "/api/v1/api-keys/", {"name": "Gamma admin", "tenant": world.a2.tenant.pk}, format="json"
    )
    assert response.status_code == 201
    issued = response.json()
    assert issued["key"].startswith(issued["prefix"]) and issued["tenant"] == world.a2.tenant.pk
    record = ApiKey.objects.get(pk=issued["id"])
    assert issued["key"] not in str(record.__dict__)  # stored as a digest only
    assert "key" not in client.get(f"/api/v1/api-keys/{record.pk}/").json()
    tenants = api(issued["key"]).get("/api/v1/tenants/").json()["results"]
    assert [t["id"] for t in tenants] == [world.a2.tenant.pk]
    record.refresh_from_db()
    assert record.last_used_at is not None and record.last_used_at <= timezone.now()


def test_a_tenant_key_issues_keys_only_for_its_tenant(world):
    response = api(world.a1.key).post("/api/v1/api-keys/", {"name": "Colleague"}, format="json")
    assert response.status_code == 201
    assert response.json()["tenant"] == world.a1.tenant.pk and response.json()["partner"] is None


def test_a_revoked_key_stops_at_once(world):
    _, plaintext = ApiKey.issue(name="temp", tenant=world.a1.tenant)
    record = ApiKey.objects.get(name="temp")
    assert api(plaintext).get("/api/v1/tenants/").status_code == 200
    response = api(world.key_a).post(f"/api/v1/api-keys/{record.pk}/revoke/")
    assert response.json()["active"] is False and response.json()["revoked_at"]
    assert api(plaintext).get("/api/v1/tenants/").status_code == 401
