"""A tenant admin sees why each waiting message waits: in the conversation's timeline, the message list
and a message's page, in a real browser."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from relay.models import Conversation, Message
from tests.factories import make_account, make_sender, make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BUSY = "Salesforce is busy – HTTP 429"


def test_messages_behind_a_waiting_head_say_what_they_wait_for(live_server, page):
    tenant = make_tenant("Acme")
    conversation = Conversation.objects.create(
        tenant=tenant, sender=make_sender(make_account(tenant)), customer="+385919998888"
    )
    for sequence, text in enumerate(["First, retried", "Second", "Third"], start=1):
        Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            direction="in",
            sequence=sequence,
            kind="text",
            text=text,
            provider="infobip",
            provider_message_id=f"wait-{sequence}",
            expires_at=timezone.now() + timedelta(days=3),
            last_error=BUSY if sequence == 1 else "",
            next_attempt_at=timezone.now() + timedelta(minutes=10) if sequence == 1 else None,
            attempts=4 if sequence == 1 else 0,
        )
    make_tenant_admin(tenant, "ada", password="correct-horse-battery")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")

    # The conversation's timeline: the head says its own reason, the two behind it name the head.
    page.goto(f"{live_server.url}/admin/relay/conversation/")
    page.click("#result_list a:has-text('+385919998888')")
    rows = page.locator("#messages-group tbody tr.has_original")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("td.field-waiting_reason")).to_contain_text(f"{BUSY} (next try at ")
    for index in (1, 2):
        expect(rows.nth(index).locator("td.field-waiting_reason")).to_contain_text(
            f"waiting behind message #1: {BUSY}"
        )

    # The message list, and the page of one waiting message.
    page.goto(f"{live_server.url}/admin/relay/message/?status__exact=pending")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    third = page.locator("#result_list tbody tr", has_text="Third")
    expect(third.locator("td.field-waiting_reason")).to_contain_text(f"waiting behind message #1: {BUSY}")
    page.click("#result_list a:has-text('#3')")
    expect(page.locator(".field-waiting_reason")).to_contain_text(f"waiting behind message #1: {BUSY}")
