"""The sweeper re-queues a stuck line once per lease time, and the pipeline counts a successful attempt."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from relay import tasks
from relay.errors import ExternalError
from relay.lines import pipeline, sweep
from relay.models import Conversation, Message, SalesforceNotice
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    tenant = make_tenant()
    return Conversation.objects.create(
        tenant=tenant, sender=make_sender(make_account(tenant)), customer="+385919990000"
    )


def pending(conversation, sequence=1, **extra):
    message = Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction="in",
        sequence=sequence,
        kind="text",
        text=f"message {sequence}",
        provider="infobip",
        provider_message_id=f"sweep-{conversation.pk}-{sequence}",
        expires_at=timezone.now() + timedelta(days=1),
        **extra,
    )
    # Waiting longer than the sweep's head start, as a message whose task was lost does.
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    return message


@pytest.fixture
def queued(monkeypatch):
    """The conversations the sweep hands to the broker (the broker itself is not under test here)."""
    calls = []
    monkeypatch.setattr(tasks.deliver_inbound, "delay", calls.append)
    return calls


def test_a_waiting_line_is_requeued_once_per_lease_time(conversation, queued):
    pending(conversation)
    cache.delete(f"relay:requeued:in:{conversation.pk}")

    assert tasks.sweep()["in"] == 1
    assert tasks.sweep()["in"] == 0  # still waiting in the broker: no second task
    assert queued == [conversation.pk]

    cache.delete(f"relay:requeued:in:{conversation.pk}")  # the mark's lease time is over
    assert tasks.sweep()["in"] == 1
    assert queued == [conversation.pk, conversation.pk]


def test_a_backed_off_line_s_queue_neither_wakes_it_nor_fills_the_batch(conversation, queued, monkeypatch):
    """The batch counts lines, not messages, and a line whose head waits for its retry is not due, however many
    messages wait behind it: before, those messages filled the batch (one row each), and another line whose task
    was lost was not woken while the backlog lasted."""
    monkeypatch.setattr(sweep, "BATCH", 3)
    busy = conversation
    pending(busy, 1, next_attempt_at=timezone.now() + timedelta(minutes=10))  # Salesforce answered 503
    for sequence in range(2, 12):
        pending(busy, sequence)
    lost = Conversation.objects.create(tenant=busy.tenant, sender=busy.sender, customer="+385919990401")
    pending(lost)
    others = [
        Conversation.objects.create(tenant=busy.tenant, sender=busy.sender, customer=f"+38591999050{n}")
        for n in range(2)
    ]
    for other in others:
        pending(other)
    cache.delete_many([f"relay:requeued:in:{c.pk}" for c in (busy, lost, *others)])

    assert tasks.sweep()["in"] == 3
    assert sorted(queued) == sorted([lost.pk, *(o.pk for o in others)])


def test_the_mark_of_one_line_does_not_hold_back_another(conversation, queued):
    pending(conversation)
    cache.delete(f"relay:requeued:in:{conversation.pk}")
    tasks.sweep()
    other = Conversation.objects.create(
        tenant=conversation.tenant, sender=conversation.sender, customer="+385919990001"
    )
    pending(other)
    cache.delete(f"relay:requeued:in:{other.pk}")

    assert tasks.sweep()["in"] == 1
    assert queued == [conversation.pk, other.pk]


def test_the_mark_expires_with_the_lease_time(conversation, queued, settings):
    pending(conversation)
    cache.delete(f"relay:requeued:in:{conversation.pk}")
    settings.RELAY_LEASE_SECONDS = 3
    tasks.sweep()
    assert tasks.sweep()["in"] == 0
    deadline = time.monotonic() + 10
    while tasks.sweep()["in"] == 0:  # a lost re-queue is re-queued again once the lease time is over
        assert time.monotonic() < deadline, "the line was never re-queued again"
        time.sleep(0.1)
    assert queued == [conversation.pk, conversation.pk]


def test_a_waiting_notice_is_requeued_once_per_lease_time(conversation, monkeypatch):
    message = pending(conversation)
    Message.objects.filter(pk=message.pk).update(status="sent", direction="out")
    notice = SalesforceNotice.objects.create(tenant=conversation.tenant, message=message, kind="delivered")
    SalesforceNotice.objects.filter(pk=notice.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    cache.delete(f"relay:requeued:notices:{message.pk}")
    notified = []
    monkeypatch.setattr(tasks.notify_salesforce, "delay", notified.append)

    assert tasks.sweep()["notices"] == 1
    assert tasks.sweep()["notices"] == 0
    assert notified == [message.pk]


def test_a_delivered_message_counts_its_attempt_and_forgets_the_earlier_error(conversation):
    message = pending(conversation, last_error="Salesforce answered 503", attempts=1)

    def deliver(message):  # what a desk does on success: mark the message delivered
        Message.objects.filter(pk=message.pk).update(status=Message.Status.DELIVERED)

    def on_failed(message, reason, error):
        raise AssertionError(f"nothing fails here: {reason}")

    assert pipeline.run(conversation.pk, "in", deliver, on_failed) is None
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("delivered", 2, "")


def test_a_transient_failure_counts_its_attempt_and_keeps_the_line_waiting(conversation):
    first = pending(conversation, 1)
    second = pending(conversation, 2)

    def deliver(message):
        raise ExternalError("Salesforce is busy", status=503)

    due = pipeline.run(conversation.pk, "in", deliver, lambda *a: None)
    first.refresh_from_db()
    second.refresh_from_db()
    assert due is not None and due > timezone.now()
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "Salesforce is busy – HTTP 503")
    assert (second.status, second.attempts) == ("pending", 0)  # order holds: the second waits its turn
