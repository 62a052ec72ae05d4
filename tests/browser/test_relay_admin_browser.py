"""A tenant admin follows a conversation's timeline and retries a failed message, in a real browser."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from relay.models import Conversation, DeliveryAttempt, Message
from tests.factories import ORG_B, make_account, make_sender, make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_conversation(sender, customer, texts_and_statuses):
    conversation = Conversation.objects.create(tenant=sender.tenant, sender=sender, customer=customer)
    for sequence, (text, status) in enumerate(texts_and_statuses, start=1):
        message = Message.objects.create(
            tenant=sender.tenant,
            conversation=conversation,
            direction="in",
            sequence=sequence,
            kind="text",
            text=text,
            provider="infobip",
            provider_message_id=f"{customer}-{sequence}",
            status=status,
            expires_at=timezone.now() + timedelta(days=3),
            last_error="Salesforce refused it – HTTP 400 – code 10017" if status == "failed" else "",
        )
        DeliveryAttempt.objects.create(
            tenant=sender.tenant,
            message=message,
            target="salesforce",
            action="interaction",
            outcome="permanent" if status == "failed" else "ok",
            error=message.last_error,
            status_code=400 if status == "failed" else 202,
        )
    return conversation


def test_conversation_timeline_and_retry_now(live_server, page):
    acme = make_tenant("Acme")
    acme_sender = make_sender(make_account(acme))
    make_conversation(acme_sender, "+385919998888", [("Hello", "delivered"), ("Are you there?", "failed")])
    globex = make_tenant("Globex", ORG_B)
    make_conversation(
        make_sender(make_account(globex), "+385919990000"), "+385919990001", [("Secret", "delivered")]
    )
    make_tenant_admin(acme, "ada", password="correct-horse-battery")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}/admin/relay/conversation/")
    expect(page.locator("#result_list")).to_contain_text("+385919998888")
    expect(page.locator("#result_list")).not_to_contain_text("+385919990001")
    page.click("#result_list a:has-text('+385919998888')")
    timeline = page.locator("#messages-group")
    expect(timeline).to_contain_text("Hello")
    expect(timeline).to_contain_text("Are you there?")
    expect(timeline).to_contain_text("code 10017")

    page.goto(f"{live_server.url}/admin/relay/message/?status__exact=failed")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.click("#result_list a:has-text('#2')")
    expect(page.locator(".field-timeline")).to_contain_text("Failed for good")
    page.go_back()
    page.check("#result_list tbody input.action-select")
    page.select_option("select[name=action]", "retry_now")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("Queued 1 failed message(s)")
    retried = Message.objects.get(text="Are you there?")
    assert retried.status == "pending"  # back in line (this tenant has no Salesforce yet, so it waits)
    assert retried.delivery_attempts.count() == 2  # the retry really ran and was recorded
