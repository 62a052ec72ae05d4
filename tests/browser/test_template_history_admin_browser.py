"""A tenant admin reads the template-history imports (relay/outbound/template_history.py) in a real browser:
the list with each import's state and last error, only their own tenant's, an import's page, and the import
on its message's page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from relay.models import Conversation, Message, TemplateHistoryImport
from tests.factories import ORG_B, make_account, make_sender, make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_import(sender, customer, **row):
    conversation = Conversation.objects.create(tenant=sender.tenant, sender=sender, customer=customer)
    message = Message.objects.create(
        tenant=sender.tenant,
        conversation=conversation,
        direction="out",
        sequence=1,
        kind="template",
        text=f"Template to {customer}",
        status="sent",
        expires_at=timezone.now() + timedelta(days=3),
    )
    return TemplateHistoryImport.objects.create(tenant=sender.tenant, message=message, **row)


def test_template_history_imports_in_the_admin(live_server, page):
    acme = make_tenant("Acme")
    failed = make_import(
        make_sender(make_account(acme)),
        "+385919998888",
        status="failed",
        attempts=6,
        last_error="Salesforce is unavailable – HTTP 503",
    )
    globex = make_tenant("Globex", ORG_B)
    make_import(make_sender(make_account(globex), "+385919990000"), "+385919990001", status="pending")
    make_tenant_admin(acme, "ada", password="correct-horse-battery")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}/admin/")
    page.click("a:has-text('Template history imports')")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)  # Globex's import is not Ada's to see
    expect(rows.first).to_contain_text("Failed")
    expect(rows.first).to_contain_text("HTTP 503")
    expect(rows.first.locator(".field-attempts")).to_have_text("6")

    page.click(f"#result_list a:has-text('message {failed.message_id}')")
    expect(page.locator(".field-last_error")).to_contain_text("HTTP 503")
    expect(page.locator("input[type=submit]")).to_have_count(0)  # read-only: nothing to save

    page.goto(f"{live_server.url}/admin/relay/message/{failed.message_id}/change/")
    inline = page.locator("#history_import-group")
    expect(inline).to_contain_text("Import into the Salesforce conversation")
    expect(inline).to_contain_text("Failed")
