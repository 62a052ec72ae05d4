"""A tenant admin who types an internal address as a provider's API base URL is told why it is refused."""

import pytest
from playwright.sync_api import expect

from tenants.models import ProviderAccount
from tests.factories import make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_internal_base_url_is_refused_with_the_reason(live_server, page, settings):
    settings.EGRESS_ALLOWED_HOSTS = []  # production's default
    make_tenant_admin(make_tenant("Acme"), "ada", password="correct-horse-battery")
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}/admin/tenants/provideraccount/add/")
    page.select_option("#id_tenant", label="Acme")
    page.fill("#id_name", "Acme WhatsApp")
    page.fill("#id_api_key", "typed-in-api-key-123")
    for url, says in [
        ("https://169.254.169.254", "169.254.169.254 is a cloud metadata address"),
        ("https://abcd12.api.infobip.com/#", "has a #fragment"),
        ("https://abcd12.api.infobip.com/whatsapp/1", "enter the API base URL only"),
    ]:
        page.fill("#id_base_url", url)
        page.fill("#id_api_key", "typed-in-api-key-123")
        page.click("input[name=_save]")
        expect(page.locator(".field-base_url .errorlist")).to_contain_text(says)
    assert not ProviderAccount.objects.exists()

    page.fill("#id_base_url", "https://abcd12.api.infobip.com")
    page.fill("#id_api_key", "typed-in-api-key-123")
    page.click("input[name=_continue]")
    expect(page.locator("#show-once")).to_be_visible()
    assert ProviderAccount.objects.get().base_url == "https://abcd12.api.infobip.com"
