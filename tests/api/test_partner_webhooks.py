"""Outgoing webhooks to partners: signed with HMAC-SHA256 and a timestamp, logged, retried with backoff."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.api import tasks, webhooks
from portal.api.models import WebhookDelivery, WebhookSubscription
from relay import tasks as relay_tasks
from relay.models import Conversation, Message
from tenants.models import Sender

from .conftest import api, make_message

pytestmark = pytest.mark.django_db


def sink_url(sandbox, name="partner", status=200):
    url = f"{sandbox.base_url}/__sim/infobip/sink/{name}"
    return url if status == 200 else f"{url}?status={status}"


def received(sim, name="partner"):
    return sim.get(f"/__sim/infobip/sink/{name}").json()


def subscribe(key, url, **extra):
    response = api(key).post("/api/v1/webhook-subscriptions/", {"url": url, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_the_signing_secret_is_shown_once(world):
    created = subscribe(
        world.key_a, "https://hooks.example.com/switchboard", events=["message.status_changed"]
    )
    assert created["secret"].startswith("whsec_") and created["partner"] == world.partner_a.pk
    stored = WebhookSubscription.objects.get(pk=created["id"])
    assert str(stored.secret) == created["secret"]
    read = api(world.key_a).get(f"/api/v1/webhook-subscriptions/{stored.pk}/").json()
    assert "secret" not in read and created["secret"] not in str(read)
    rotated = api(world.key_a).post(f"/api/v1/webhook-subscriptions/{stored.pk}/rotate-secret/").json()
    stored.refresh_from_db()
    assert rotated["secret"] == str(stored.secret) != created["secret"]


def test_a_plain_http_endpoint_is_refused_and_events_are_checked(world):
    response = api(world.key_a).post(
        "/api/v1/webhook-subscriptions/",
        {"url": "http://hooks.example.com/x", "events": ["message.lost"]},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"url", "events.0"}


def test_a_status_change_is_posted_signed_to_the_partner(
    wired, sandbox, sim, django_capture_on_commit_callbacks
):
    tenant, key = wired
    secret = subscribe(key, sink_url(sandbox), events=["message.status_changed"])["secret"]
    sender = Sender.objects.get(tenant=tenant, channel="whatsapp")
    template = {"name": "welcome_back", "language": "en"}
    with django_capture_on_commit_callbacks(execute=True):
        response = api(key).post(
            "/api/v1/messages/send-template/",
            {"sender": sender.pk, "to": "+385919998888", "template": template},
            format="json",
        )
    assert response.status_code == 201, response.content
    (hit,) = received(sim)
    headers = {k.lower(): v for k, v in hit["headers"].items()}
    assert webhooks.verify(secret, headers["switchboard-signature"], hit["raw"].encode())
    assert not webhooks.verify("another-secret", headers["switchboard-signature"], hit["raw"].encode())
    body = json.loads(hit["raw"])
    assert body["type"] == headers["switchboard-event"] == "message.status_changed"
    assert body["tenant"] == tenant.pk and body["id"] == headers["switchboard-delivery"]
    assert body["data"]["message"] | {"id": None} == {
        "id": None,
        "conversation": response.json()["conversation"],
        "sender": sender.pk,
        "customer": "+385919998888",
        "direction": "out",
        "kind": "template",
        "status": "sent",
        "reason": "",
        "provider_message_id": Message.objects.get(pk=response.json()["id"]).provider_message_id,
    }
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_an_old_or_altered_signature_does_not_verify():
    body = b'{"type":"ping"}'
    header = webhooks.sign("s3cret", 1_700_000_000, body)
    assert webhooks.verify("s3cret", header, body, now=1_700_000_100)
    assert not webhooks.verify("s3cret", header, body, now=1_700_000_000 + 301)  # a replay, too late
    assert not webhooks.verify("s3cret", header, body + b" ", now=1_700_000_100)
    assert not webhooks.verify("s3cret", "garbage", body)


def test_a_failing_endpoint_is_retried_with_backoff_and_every_attempt_is_logged(
    world, sandbox, sim, django_capture_on_commit_callbacks
):
    created = subscribe(world.a1.key, sink_url(sandbox, status=503))
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.a1.key).post(f"/api/v1/webhook-subscriptions/{created['id']}/ping/")
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get(subscription_id=created["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
    assert delivery.next_attempt_at > timezone.now()  # backing off, not hammering
    assert tasks.sweep_partner_webhooks()["deliveries"] == 0  # not due yet
    api(world.a1.key).patch(
        f"/api/v1/webhook-subscriptions/{created['id']}/", {"url": sink_url(sandbox)}, format="json"
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert tasks.sweep_partner_webhooks()["deliveries"] == 1
    log = api(world.a1.key).get(f"/api/v1/webhook-deliveries/{delivery.pk}/").json()
    assert (log["status"], log["attempts"]) == ("delivered", 2)
    assert [a["status_code"] for a in log["attempt_log"]] == [503, 200]
    assert len(received(sim)) == 2  # the failed POST reached the sink too, and said 503


def test_a_delivery_gives_up_after_the_last_attempt_and_can_be_redelivered(
    world, sandbox, sim, django_capture_on_commit_callbacks
):
    created = subscribe(world.key_a, sink_url(sandbox, status=500))
    (delivery,) = webhooks.enqueue(
        [WebhookSubscription.objects.get(pk=created["id"])], None, "ping", {"subscription": created["id"]}
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=webhooks.MAX_ATTEMPTS - 1)
    webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert delivery.last_error.startswith("HTTP 500")
    WebhookSubscription.objects.filter(pk=created["id"]).update(url=sink_url(sandbox))
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.key_a).post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 202
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_only_the_owners_subscriptions_hear_about_a_tenants_events(world):
    partner_wide = subscribe(world.key_a, "https://hooks.example.com/a")
    own_tenant = subscribe(world.a1.key, "https://hooks.example.com/a1")
    conversations_only = subscribe(
        world.key_a, "https://hooks.example.com/c", events=["conversation.connected"]
    )
    sibling = subscribe(world.a2.key, "https://hooks.example.com/a2")
    other_partner = subscribe(world.key_b, "https://hooks.example.com/b")
    chosen = {s.pk for s in webhooks.subscriptions_for(world.a1.tenant.pk, "message.status_changed")}
    assert partner_wide["id"] in chosen and own_tenant["id"] in chosen
    assert world.a1.subscription.pk in chosen  # the fixture's own tenant subscription
    assert not {conversations_only["id"], sibling["id"], other_partner["id"]} & chosen


def test_the_relay_reports_an_inbound_delivery_and_the_new_conversation(
    wired, sandbox, sim, django_capture_on_commit_callbacks
):
    """The Messaging desk delivers a customer's message to the sandbox's Salesforce: the partner hears that
    the message was delivered and that Salesforce took the conversation."""
    tenant, key = wired
    subscribe(key, sink_url(sandbox))
    sender = Sender.objects.get(tenant=tenant, channel="whatsapp")
    conversation = Conversation.objects.create(
        tenant=tenant, sender=sender, customer="+385919998888", last_inbound_at=timezone.now()
    )
    make_message(conversation, status=Message.Status.PENDING, next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        relay_tasks.deliver_inbound(conversation.pk)
    events = {hit["body"]["type"]: hit["body"] for hit in received(sim)}
    assert events["message.status_changed"]["data"]["message"]["status"] == "delivered"
    connected = events["conversation.connected"]["data"]
    conversation.refresh_from_db()
    assert connected["conversation"]["id"] == conversation.pk
    assert connected["changes"]["salesforce_conversation_id"] == conversation.salesforce_conversation_id != ""
