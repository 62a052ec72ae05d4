"""The webhook delivery log holds each tenant's events (message texts, customers' numbers): a caller sees a
delivery only if it may see the subscription *and* the tenant the event was about. A subscription can change
hands (a partner moves it to another of its tenants); the events it carried before stay their tenant's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.api import webhooks
from portal.api.models import WebhookAttempt, WebhookDelivery

from .conftest import api

pytestmark = pytest.mark.django_db


@pytest.fixture
def moved(world):
    """A1's subscription, with A1's delivery in its log, moved by the partner to tenant A2."""
    subscription = world.a1.subscription
    response = api(world.key_a).patch(
        f"/api/v1/webhook-subscriptions/{subscription.pk}/", {"tenant": world.a2.tenant.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["tenant"] == world.a2.tenant.pk
    return world


def test_the_new_tenant_does_not_read_the_old_tenants_deliveries(moved):
    old = moved.a1.delivery
    client = api(moved.a2.key)
    assert client.get(f"/api/v1/webhook-deliveries/{old.pk}/").status_code == 404
    listed = {d["id"] for d in client.get("/api/v1/webhook-deliveries/").json()["results"]}
    assert old.pk not in listed and moved.a2.delivery.pk in listed


def test_the_new_tenant_cannot_send_the_old_tenants_deliveries_again(moved):
    old = moved.a1.delivery
    before = WebhookDelivery.objects.values_list("status", "attempts").get(pk=old.pk)
    response = api(moved.a2.key).post(f"/api/v1/webhook-deliveries/{old.pk}/redeliver/")
    assert response.status_code == 404, response.content
    assert WebhookDelivery.objects.values_list("status", "attempts").get(pk=old.pk) == before


def test_the_partner_still_reads_both_and_new_events_follow_the_subscription(moved):
    listed = {d["id"] for d in api(moved.key_a).get("/api/v1/webhook-deliveries/").json()["results"]}
    assert {moved.a1.delivery.pk, moved.a2.delivery.pk} <= listed
    # Moved by the partner, the subscription is the partner's (A2's admin reads it, cannot ping it).
    ping = api(moved.key_a).post(f"/api/v1/webhook-subscriptions/{moved.a1.subscription.pk}/ping/")
    assert ping.status_code == 202, ping.content
    assert api(moved.a2.key).get(f"/api/v1/webhook-deliveries/{ping.json()['id']}/").status_code == 200


def test_a_partner_level_subscriptions_ping_is_the_partners(world):
    created = api(world.key_a).post(
        "/api/v1/webhook-subscriptions/", {"url": "https://hooks.example.com/all"}, format="json"
    )
    assert created.status_code == 201, created.content
    ping = api(world.key_a).post(f"/api/v1/webhook-subscriptions/{created.json()['id']}/ping/")
    assert ping.status_code == 202 and ping.json()["tenant"] is None
    assert api(world.key_a).get(f"/api/v1/webhook-deliveries/{ping.json()['id']}/").status_code == 200
    assert api(world.a1.key).get(f"/api/v1/webhook-deliveries/{ping.json()['id']}/").status_code == 404
    assert api(world.key_b).get(f"/api/v1/webhook-deliveries/{ping.json()['id']}/").status_code == 404


def test_a_pending_delivery_of_the_old_tenant_is_not_sent_to_the_new_owner(moved):
    old = moved.a1.delivery
    WebhookDelivery.objects.filter(pk=old.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert webhooks.deliver(old.pk) is None
    old.refresh_from_db()
    assert (old.status, old.last_error) == ("failed", webhooks.MOVED)
    assert not WebhookAttempt.objects.filter(delivery=old).exists()  # no POST was made


def test_a_partner_level_subscription_stops_covering_a_tenant_of_another_partner(world):
    """The same rule when a tenant changes partners: the old partner's endpoint hears no more of it."""
    created = (
        api(world.key_a)
        .post("/api/v1/webhook-subscriptions/", {"url": "https://hooks.example.com/all"}, format="json")
        .json()
    )
    subscription = webhooks.WebhookSubscription.objects.get(pk=created["id"])
    (delivery,) = webhooks.enqueue([subscription], world.a1.tenant.pk, "message.delivered", {"message": 1})
    type(world.a1.tenant).objects.filter(pk=world.a1.tenant.pk).update(partner=world.partner_b)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("failed", webhooks.MOVED)
    assert webhooks.covers(subscription, world.a2.tenant.pk) and webhooks.covers(subscription, None)
