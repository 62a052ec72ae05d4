"""A tenant admin adds an 8x8 account (sub-account id, account id) and an 8x8 sender by channel id in the
admin, in a real browser; a malformed id is refused on its field."""

import pytest
from playwright.sync_api import expect

from tenants.models import ProviderAccount, Sender
from tests.factories import make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHANNEL = "ec36a867-3dd4-e911-814a-02d85f55fce8"


def test_tenant_admin_adds_an_8x8_account_and_channel(live_server, page):
    acme = make_tenant("Acme")
    make_tenant_admin(acme, "ada", password="correct-horse-battery")
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}/admin/tenants/provideraccount/add/")
    page.select_option("#id_tenant", label="Acme")
    page.select_option("#id_provider", "8x8")
    page.fill("#id_name", "Acme 8x8")
    page.fill("#id_base_url", "https://chatapps.8x8.uk")
    page.fill("#id_api_key", "eight-key-123")
    page.fill("#id_subaccount_id", "has spaces")
    page.fill("#id_provider_account_id", "0f1d2c3b-4a59-4687-a7b8-c9d0e1f2a3b4")
    page.select_option("#id_webhook_auth", "basic")
    page.click("input[name=_save]")
    expect(page.locator(".field-subaccount_id .errorlist")).to_contain_text("3 to 50 letters")
    assert not ProviderAccount.objects.exists()

    page.fill("#id_subaccount_id", "Acme_ChatApps")
    page.fill("#id_api_key", "eight-key-123")
    page.click("input[name=_save]")
    account = ProviderAccount.objects.get(name="Acme 8x8")
    assert (account.provider, account.subaccount_id) == ("8x8", "Acme_ChatApps")
    expect(page.locator("#show-once")).to_contain_text(account.webhook_path)

    page.goto(f"{live_server.url}/admin/tenants/sender/add/")
    page.select_option("#id_tenant", label="Acme")
    page.select_option("#id_account", label="8x8 – Acme 8x8")
    page.select_option("#id_channel", "whatsapp")
    page.fill("#id_address", "+447860099299")
    page.click("input[name=_save]")
    expect(page.locator(".errorlist")).to_contain_text("channel id")
    page.fill("#id_address", CHANNEL.upper())
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert Sender.objects.get().address == CHANNEL
