"""A tenant admin adds a provider account and a sender in the admin, in a real browser."""

import pytest
from playwright.sync_api import expect

from tenants.models import ProviderAccount, Sender
from tests.factories import ORG_B, make_account, make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_tenant_admin_adds_account_and_sender_and_never_sees_the_secret_again(live_server, page):
    acme = make_tenant("Acme")
    make_account(make_tenant("Globex", ORG_B), name="Globex Infobip")
    make_tenant_admin(acme, "ada", password="correct-horse-battery")

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("Switchboard")

    page.goto(f"{live_server.url}/admin/tenants/provideraccount/add/")
    expect(page.locator("#id_tenant option")).to_have_count(2)  # the empty choice and Acme, never Globex
    page.select_option("#id_tenant", label="Acme")
    page.fill("#id_name", "Acme WhatsApp")
    page.fill("#id_base_url", "https://abcd12.api.infobip.com")
    page.fill("#id_api_key", "typed-in-api-key-123")
    page.select_option("#id_webhook_auth", "hmac")
    page.click("input[name=_continue]")

    account = ProviderAccount.objects.get(name="Acme WhatsApp")
    shown = page.locator("#show-once")  # in the response to the save itself, never in a message cookie
    expect(shown).to_contain_text(account.webhook_path)
    expect(shown).to_contain_text(str(account.webhook_secret))
    assert account.api_key == "typed-in-api-key-123"
    assert not [c for c in page.context.cookies() if str(account.webhook_secret) in c["value"]]

    page.click("#continue")  # the change page: the secrets are gone for good
    expect(page.locator("#id_api_key")).to_be_visible()
    page.reload()
    content = page.content()
    assert "typed-in-api-key-123" not in content and str(account.webhook_secret) not in content
    expect(page.locator("#id_api_key")).to_have_value("")
    expect(page.locator(".field-api_key .help")).to_contain_text("Set – leave empty to keep it.")

    page.goto(f"{live_server.url}/admin/tenants/sender/add/")
    page.select_option("#id_tenant", label="Acme")
    page.select_option("#id_account", label="Infobip – Acme WhatsApp")
    page.select_option("#id_channel", "whatsapp")
    page.fill("#id_address", "+4478")
    page.click("input[name=_save]")
    expect(page.locator(".errorlist")).to_contain_text("not a valid sender number")
    assert not Sender.objects.exists()

    page.fill("#id_address", "447860099299")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert Sender.objects.get().address == "+447860099299"
    expect(page.locator("#result_list")).to_contain_text("+447860099299")
    expect(page.locator("#changelist-filter")).not_to_contain_text("Globex")
