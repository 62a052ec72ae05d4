"""Partner events go through an outbox: a row written in the transaction of the change, delivered after commit.

A change rolled back is never announced; a committed one is delivered once, however often its fan-out runs;
a tenant nobody listens to pays nothing, and one with subscriptions pays one INSERT.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.api import tasks, webhooks
from portal.api.models import PartnerEvent, WebhookDelivery, WebhookSubscription
from relay.desks.base import mark_delivered
from relay.models import Message

from .conftest import make_message

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


@pytest.fixture
def listening(world, sandbox, sim):
    """Tenant a1's own subscription now points at a fresh sandbox sink; returns the sink's name."""
    name = f"outbox-{uuid.uuid4().hex[:8]}"
    WebhookSubscription.objects.filter(pk=world.a1.subscription.pk).update(
        url=f"{sandbox.base_url}/__sim/infobip/sink/{name}", events=["message.status_changed"]
    )
    webhooks.forget_subscriptions()
    yield name
    webhooks.forget_subscriptions()


def posts(sim, name):
    return [hit["body"] for hit in sim.get(f"/__sim/infobip/sink/{name}").json()]


def pending_message(world) -> Message:
    return make_message(world.a1.conversation, sequence=2, status=Message.Status.PENDING)


def test_the_event_of_a_rolled_back_change_is_never_delivered(
    world, listening, sim, django_capture_on_commit_callbacks
):
    message = pending_message(world)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Rollback),
        transaction.atomic(),
    ):
        mark_delivered(message)
        assert PartnerEvent.objects.count() == 1  # written with the change...
        raise Rollback
    assert callbacks == []  # ...and gone with it: nothing was queued
    assert not PartnerEvent.objects.exists()
    assert Message.objects.get(pk=message.pk).status == Message.Status.PENDING
    assert tasks.sweep_partner_webhooks()["events"] == 0  # the sweep finds nothing to fan out either
    assert not WebhookDelivery.objects.filter(event="message.status_changed").exists()
    assert posts(sim, listening) == []


def test_the_event_of_a_committed_change_is_delivered_once(
    world, listening, sim, django_capture_on_commit_callbacks
):
    message = pending_message(world)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        mark_delivered(message)
        event_id = PartnerEvent.objects.get().pk
    # Delivered after commit; then the fan-out runs again (a duplicate task) and the sweep looks for late rows.
    assert not PartnerEvent.objects.exists()
    delivery = WebhookDelivery.objects.get(event="message.status_changed")
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.fan_out(event_id) == []
        assert tasks.sweep_partner_webhooks()["events"] == 0
    (body,) = posts(sim, listening)
    assert body["type"] == "message.status_changed" and body["id"] == str(delivery.event_id)
    assert body["data"]["message"]["id"] == message.pk and body["data"]["message"]["status"] == "delivered"


def test_a_lost_fan_out_is_done_by_the_sweep_exactly_once(
    world, listening, sim, django_capture_on_commit_callbacks
):
    message = pending_message(world)
    with transaction.atomic():  # its on-commit task is "lost": the test transaction never commits
        mark_delivered(message)
    (event,) = PartnerEvent.objects.all()
    assert tasks.sweep_partner_webhooks()["events"] == 0  # the task queued at commit gets a head start
    PartnerEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_partner_webhooks()["events"] == 1
    assert webhooks.fan_out(event.pk) == []  # the late original task finds nothing left to do
    assert [b["data"]["message"]["id"] for b in posts(sim, listening)] == [message.pk]
    assert WebhookDelivery.objects.filter(event="message.status_changed").count() == 1


@pytest.mark.parametrize("subscribed, inserts", [(False, 0), (True, 1)])
def test_the_relay_pays_one_insert_at_most_for_its_report(world, subscribed, inserts):
    """The hot path: with the subscription lookup memoized, a status change costs its report nothing when
    nobody listens, and a single INSERT (no savepoint, no lookup) when somebody does."""
    WebhookSubscription.objects.filter(tenant=world.a1.tenant).update(active=subscribed)
    WebhookSubscription.objects.filter(partner=world.partner_a).delete()
    webhooks.forget_subscriptions()
    message = pending_message(world)
    webhooks.subscriptions_for(world.a1.tenant.pk, "message.status_changed")  # memoized, as in a busy worker
    with CaptureQueriesContext(connection) as queries:
        mark_delivered(message)
    report = [q["sql"] for q in queries.captured_queries if "partner_api" in q["sql"]]
    assert len(report) == inserts and all(sql.startswith("INSERT") for sql in report)
    assert not [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
    assert PartnerEvent.objects.count() == inserts
