"""A stored message the relay cannot handle holds its conversation only RELAY_MAX_INTERNAL_ERRORS tries:
then it fails with the reason (in the admin and the API), the customer is told, and the customer's next
message reaches Salesforce. Real worker, real webhooks, the sandbox; nothing of ours patched."""

from __future__ import annotations

import httpx
import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone

from relay.models import Conversation, DeliveryAttempt, Message, next_sequence
from tenants.models import ApiKey, User
from tests.e2e.conftest import (
    CUSTOMER,
    console_sessions,
    customer_entries,
    customer_writes,
    entry_texts,
    phone_received,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REASON = "internal error: DoesNotExist: Handover matching query does not exist."


def insert_poison(conversation: Conversation) -> Message:
    """A chatbot-transcript row whose handover is gone: the desk's importer raises on it, every time."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        return Message.objects.create(
            tenant_id=locked.tenant_id,
            conversation=locked,
            direction=Message.Direction.INBOUND,
            sequence=next_sequence(locked.pk, Message.Direction.INBOUND),
            kind="history",
            content={"kind": "history", "handover": 987654321},
            provider="infobip",
            provider_message_id="poison-1",
            expires_at=timezone.now() + locked.tenant.delivery_window,
        )


def test_a_poison_message_fails_after_the_bound_and_the_next_one_reaches_salesforce(wired):
    customer_writes(wired.sim, "Hello")
    hello = wait_for(
        lambda: Message.objects.filter(direction="in", status="delivered").first(), what="the first delivery"
    )
    poison = insert_poison(hello.conversation)
    customer_writes(wired.sim, "Still there?")  # its task finds the poison at the head of the line
    key = ApiKey.issue(name="e2e", tenant=wired.tenant)[1]
    api = httpx.Client(base_url=wired.live_server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    # While the poison is retried, the message behind it says what it waits for.
    wait_for(lambda: Message.objects.get(pk=poison.pk).internal_errors >= 1, what="the first internal error")
    behind = wait_for(  # the sandbox posts the webhook on its own time
        lambda: Message.objects.filter(direction="in", text="Still there?").first(), what="the second message"
    )
    waiting = api.get(f"/api/v1/messages/{behind.pk}/").json()
    if waiting["status"] == "pending":  # (not if the poison has already been given up)
        assert waiting["waiting_reason"].startswith(f"waiting behind message #{poison.sequence}: {REASON}")

    failed = wait_for(
        lambda: Message.objects.filter(pk=poison.pk, status="failed").first(),
        timeout=60,
        what="the poison to be given up",
    )
    bound = settings.RELAY_MAX_INTERNAL_ERRORS
    assert failed.last_error.startswith(f"Switchboard could not handle this message ({REASON})")
    assert failed.internal_errors == bound and f"gave up after {bound} tries" in failed.last_error
    assert DeliveryAttempt.objects.filter(message=poison, outcome="internal").count() == bound

    # The next message of the conversation reaches the agent, in order.
    wait_for(
        lambda: Message.objects.get(pk=behind.pk).status == "delivered", what="the message behind the poison"
    )
    session = console_sessions(wired.sim, wired.org_id)[0]
    assert entry_texts(customer_entries(wired, session["id"])) == ["Hello", "Still there?"]
    # The customer hears that a message did not reach an agent (the on_failed path).
    wait_for(
        lambda: (
            wired.tenant.no_agent_text
            in [m["content"].get("text") for m in phone_received(wired.sim, CUSTOMER)]
        ),
        what="the customer's notice",
    )

    # The reason is visible in the API and in the admin.
    shown = api.get(f"/api/v1/messages/{poison.pk}/").json()
    assert shown["status"] == "failed" and shown["last_error"] == failed.last_error
    assert shown["waiting_reason"] == ""
    admin = Client()
    admin.force_login(User.objects.get(username="acme-admin"))
    page = admin.get(f"/admin/relay/message/{poison.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Handover matching query does not exist." in html and f"gave up after {bound} tries" in html
    assert html.count("Failed: error in Switchboard") >= bound  # its attempts, each one shown
