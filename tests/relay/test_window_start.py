"""WhatsApp's 24-hour window starts when the customer's message reached the provider (Infobip's ``receivedAt``),
not when its webhook reached Switchboard: a webhook can come hours late (the provider's retries, an outage, a
sender added later). A late webhook must not reopen a closed window (free text would then fail at WhatsApp with
131047), an older message arriving after a newer one must not move the window back, and a time no clock could
show is replaced by the arrival time. Through the webhook, on the path of a new conversation and on the one
statement that stores a known conversation's message (PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from relay.inbound.auth import expected_signature
from relay.models import Conversation, Message
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[2] / "relay/providers/infobip/fixtures/whatsapp_text.json"


@pytest.fixture
def account():
    account = make_account(make_tenant(welcome_text=""))
    make_sender(account, "+41793026731")
    return account


def webhook(client, account, message_id: str, received_at) -> None:
    result = json.loads(FIXTURE.read_text())["results"][0]
    result = {
        **result,
        "messageId": message_id,
        "receivedAt": received_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    }
    body = json.dumps({"results": [result]}).encode()
    signature = expected_signature(str(account.webhook_secret), body)
    response = client.post(
        account.webhook_path,
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.content


def window_start() -> timezone.datetime:
    return Conversation.objects.get().last_inbound_at


def test_a_late_webhook_opens_no_window_for_a_new_conversation(client, account):
    wrote = timezone.now() - timedelta(hours=25)
    webhook(client, account, "m-1", wrote)
    assert abs((window_start() - wrote).total_seconds()) < 1
    assert not Conversation.objects.get().window_open()


def test_a_known_conversation_s_window_follows_its_latest_message_whatever_the_order(client, account):
    now = timezone.now()
    webhook(client, account, "m-1", now - timedelta(hours=30))
    webhook(client, account, "m-2", now - timedelta(hours=25))  # a retried webhook: still closed
    assert abs((window_start() - (now - timedelta(hours=25))).total_seconds()) < 1
    assert not Conversation.objects.get().window_open()
    webhook(client, account, "m-3", now - timedelta(minutes=5))
    webhook(client, account, "m-4", now - timedelta(hours=2))  # older, arriving later: the window stays
    assert abs((window_start() - (now - timedelta(minutes=5))).total_seconds()) < 1
    assert Conversation.objects.get().window_open()
    assert Message.objects.count() == 4


def test_a_time_no_clock_could_show_counts_as_the_arrival(client, account):
    before = timezone.now()
    webhook(client, account, "m-1", before + timedelta(days=3))
    assert before <= window_start() <= timezone.now()
