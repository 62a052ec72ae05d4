"""Who manages a webhook subscription: whoever made it. One a partner made for a tenant is the partner's
integration: the tenant's admins read it (and its delivery log) but cannot change, delete, ping or re-key it;
the partner manages its tenants' admins' subscriptions too. Each role on each verb."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from portal.api import webhooks
from portal.api.models import WebhookDelivery, WebhookSubscription

from .conftest import api

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook-subscriptions/"


def made_by(key: str, **body) -> WebhookSubscription:
    response = api(key).post(URL, {"url": "https://hooks.example.com/made", **body}, format="json")
    assert response.status_code == 201, response.content
    return WebhookSubscription.objects.get(pk=response.json()["id"])


@pytest.fixture
def partners_for_a1(world) -> WebhookSubscription:
    """The partner's own subscription for its tenant A1 (its integration)."""
    return made_by(world.key_a, tenant=world.a1.tenant.pk)


def managing(client, subscription: WebhookSubscription):
    """Every change a caller can ask of one subscription, with the answer it got."""
    detail = f"{URL}{subscription.pk}/"
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        tenant=subscription.tenant,
        event="ping",
        payload={"type": "ping"},
        status=WebhookDelivery.Status.FAILED,
        attempts=12,
    )
    return {
        "patch": client.patch(detail, {"url": "https://attacker.example.net/x"}, format="json"),
        "put": client.put(detail, {"url": "https://attacker.example.net/x", "events": []}, format="json"),
        "rotate-secret": client.post(f"{detail}rotate-secret/"),
        "ping": client.post(f"{detail}ping/"),
        "redeliver": client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/"),
        "delete": client.delete(detail),
    }


def test_the_tenant_admin_reads_the_partners_subscription_for_its_tenant(world, partners_for_a1):
    client = api(world.a1.key)
    read = client.get(f"{URL}{partners_for_a1.pk}/")
    assert read.status_code == 200
    assert read.json()["managed_by"] == "partner" and "secret" not in read.json()
    assert partners_for_a1.pk in [row["id"] for row in client.get(URL).json()["results"]]
    delivery = WebhookDelivery.objects.create(
        subscription=partners_for_a1, tenant=world.a1.tenant, event="ping", payload={"type": "ping"}
    )
    assert client.get(f"/api/v1/webhook-deliveries/{delivery.pk}/").status_code == 200


def test_the_tenant_admin_cannot_manage_the_partners_subscription(world, partners_for_a1):
    before = (partners_for_a1.url, str(partners_for_a1.secret))
    answers = managing(api(world.a1.key), partners_for_a1)
    assert {verb: answer.status_code for verb, answer in answers.items()} == dict.fromkeys(answers, 403)
    assert answers["rotate-secret"].json()["error"]["code"] == "permission_denied"
    assert "secret" not in answers["rotate-secret"].json()
    partners_for_a1.refresh_from_db()
    assert (partners_for_a1.url, str(partners_for_a1.secret)) == before
    # Nothing sent for it either: the ping made no delivery, the redelivery left the failed one as it was.
    assert [(d.status, d.attempts) for d in partners_for_a1.deliveries.all()] == [("failed", 12)]


def test_the_tenant_admin_manages_its_own_subscription(world):
    own = made_by(world.a1.key)
    assert own.managed_by == "tenant" and own.tenant == world.a1.tenant
    answers = managing(api(world.a1.key), own)
    assert {verb: answer.status_code for verb, answer in answers.items()} == {
        "patch": 200,
        "put": 200,
        "rotate-secret": 200,
        "ping": 202,
        "redeliver": 202,
        "delete": 204,
    }
    assert not WebhookSubscription.objects.filter(pk=own.pk).exists()


@pytest.mark.parametrize("made_by_partner", [True, False])
def test_the_partner_manages_both(world, made_by_partner):
    subscription = made_by(world.key_a if made_by_partner else world.a1.key, tenant=world.a1.tenant.pk)
    answers = managing(api(world.key_a), subscription)
    assert [answers[verb].status_code for verb in ("patch", "put", "rotate-secret", "ping", "delete")] == [
        200,
        200,
        200,
        202,
        204,
    ]
    assert answers["redeliver"].status_code == 202


@pytest.mark.parametrize("caller", ["sibling tenant", "other partner", "other partner's tenant"])
def test_outsiders_do_not_find_it(world, partners_for_a1, caller):
    key = {
        "sibling tenant": world.a2.key,
        "other partner": world.key_b,
        "other partner's tenant": world.b.key,
    }[caller]
    client = api(key)
    assert client.get(f"{URL}{partners_for_a1.pk}/").status_code == 404
    answers = managing(client, partners_for_a1)
    assert {verb: answer.status_code for verb, answer in answers.items()} == dict.fromkeys(answers, 404)


def test_a_subscription_the_partner_moves_to_a_tenant_becomes_the_partners(world):
    own = made_by(world.a1.key)
    moved = api(world.key_a).patch(f"{URL}{own.pk}/", {"tenant": world.a2.tenant.pk}, format="json")
    assert moved.status_code == 200 and moved.json()["managed_by"] == "partner"
    assert api(world.a2.key).delete(f"{URL}{own.pk}/").status_code == 403


def test_a_tenant_admins_subscription_the_partner_points_elsewhere_becomes_the_partners(world):
    """Else the partner could point a tenant admin's subscription at its own endpoint and, once the tenant moved
    to another partner, go on hearing the tenant's events (the move drops only the partner's subscriptions)."""
    own = made_by(world.a1.key)
    events = api(world.key_a).patch(f"{URL}{own.pk}/", {"events": ["message.status_changed"]}, format="json")
    assert (
        events.status_code == 200 and events.json()["managed_by"] == "tenant"
    )  # same URL: still the admin's
    pointed = api(world.key_a).patch(
        f"{URL}{own.pk}/", {"url": "https://partner-a.example.net/collect"}, format="json"
    )
    assert pointed.status_code == 200 and pointed.json()["managed_by"] == "partner"
    tenant = world.a1.tenant
    tenant.partner = world.partner_b
    tenant.save()
    assert not WebhookSubscription.objects.filter(pk=own.pk).exists()
    urls = [s.url for s in webhooks.subscriptions_for(tenant.pk, "message.status_changed")]
    assert "https://partner-a.example.net/collect" not in urls


def test_the_partner_sending_back_the_same_tenant_takes_nothing_over(world):
    own = made_by(world.a1.key)
    read = api(world.key_a).get(f"{URL}{own.pk}/").json()
    body = {name: read[name] for name in ("tenant", "url", "events", "active", "description")}
    assert api(world.key_a).put(f"{URL}{own.pk}/", body, format="json").status_code == 200
    own.refresh_from_db()
    assert own.managed_by == "tenant"
    assert api(world.a1.key).delete(f"{URL}{own.pk}/").status_code == 204


def test_managed_by_is_read_only(world, partners_for_a1):
    own = made_by(world.a1.key, managed_by="partner")
    assert own.managed_by == "tenant"
    response = api(world.a1.key).patch(f"{URL}{partners_for_a1.pk}/", {"managed_by": "tenant"}, format="json")
    assert response.status_code == 403
    partners_for_a1.refresh_from_db()
    assert partners_for_a1.managed_by == "partner"


def test_a_tenant_that_moves_to_another_partner_leaves_the_old_partners_subscriptions(world, partners_for_a1):
    """The old partner's integration for the tenant ends with the move: its endpoint no longer hears the
    tenant's events, and the new partner does not inherit it. The tenant admin's own stays."""
    tenant = world.a1.tenant
    tenant.name = "Renamed"
    tenant.save()  # not a move
    assert WebhookSubscription.objects.filter(pk=partners_for_a1.pk).exists()
    tenant.partner = world.partner_b
    tenant.save()
    assert not WebhookSubscription.objects.filter(pk=partners_for_a1.pk).exists()
    assert WebhookSubscription.objects.filter(pk=world.a1.subscription.pk).exists()
    assert [s.pk for s in webhooks.subscriptions_for(tenant.pk, "message.status_changed")] == [
        world.a1.subscription.pk
    ]


def test_existing_subscriptions_of_a_partners_tenants_become_the_partners(world):
    """The migration cannot know who made an old subscription: a partner-run tenant's is the partner's."""
    WebhookSubscription.objects.update(managed_by="tenant")
    lone = world.b.tenant
    lone.partner = None
    lone.save()
    migration = importlib.import_module("portal.api.migrations.0004_webhook_subscription_managed_by")
    migration.existing_owners(apps, None)
    assert WebhookSubscription.objects.get(pk=world.a1.subscription.pk).managed_by == "partner"
    assert WebhookSubscription.objects.get(pk=world.b.subscription.pk).managed_by == "tenant"
