"""A Salesforce login refused with the connection's settings (a key pair replaced before its certificate was
uploaded, a deactivated integration user, a wrong consumer key) is the connection's problem, not the message's:
the customer's message waits for the admin's fix within the tenant's delivery window, as it does while no org is
connected, and arrives once the login passes. Before, it failed for good at its first try and the customer was
told no agent was available: every message of the outage lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from relay import tasks
from relay.models import Message
from tenants.certificates import generate_key_pair
from tests.relay.test_messaging_salesforce_refusals import (  # noqa: F401 - demo: a fixture
    customer_message,
    demo,
    texts_in_salesforce,
)

pytestmark = pytest.mark.django_db(transaction=True)


def customer_text(demo, text: str) -> Message:  # noqa: F811
    return customer_message(demo, {"kind": "text", "text": text}, f"in-{text}")


def test_a_message_waits_while_the_login_is_refused_and_arrives_once_it_is_fixed(demo):  # noqa: F811
    connection = demo.tenant.salesforce
    uploaded_key = connection.private_key
    connection.private_key = generate_key_pair("a key whose certificate Salesforce does not have")[0]
    connection.save()
    message = customer_text(demo, "Is anyone there?")

    tasks.deliver_inbound(demo.conversation.pk)
    row = Message.objects.get(pk=message.pk)
    assert row.status == Message.Status.PENDING, row.last_error
    assert "invalid assertion" in row.last_error and row.next_attempt_at is not None
    assert not Message.objects.filter(direction="out", content__system="undelivered").exists()

    connection.private_key = uploaded_key  # the admin puts back the key whose certificate is uploaded
    connection.save()
    # New credentials: tried at once, not after the refusal remembered for the old ones.
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())  # the retry falls due
    tasks.deliver_inbound(demo.conversation.pk)
    row = Message.objects.get(pk=message.pk)
    assert row.status == Message.Status.DELIVERED, row.last_error
    assert texts_in_salesforce(demo) == ["Is anyone there?"]


def test_past_the_delivery_window_it_fails_as_any_message_that_waited(demo):  # noqa: F811
    connection = demo.tenant.salesforce
    connection.consumer_key = "3MVG9-not-this-org"
    connection.save()
    message = customer_text(demo, "Hello?")
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    tasks.deliver_inbound(demo.conversation.pk)
    row = Message.objects.get(pk=message.pk)
    assert row.status == Message.Status.FAILED
    assert "delivery window" in row.last_error
