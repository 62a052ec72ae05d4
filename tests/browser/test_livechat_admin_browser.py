"""A tenant admin keeps the Legacy Chat custom fields in the admin, in a real browser: a field is added with
its Chat Transcript field checked, and only the own tenant's fields and chats are listed."""

import pytest
from playwright.sync_api import expect

from relay.desks.livechat_models import LiveChatCustomField
from tests.factories import ORG_B, make_tenant, make_tenant_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()


def test_a_tenant_admin_adds_a_custom_field_for_the_chat_transcript(live_server, browser):
    acme = make_tenant("Acme")
    globex = make_tenant("Globex", ORG_B)
    LiveChatCustomField.objects.create(
        tenant=globex, label="Globex brand", value="G", transcript_field="G__c"
    )
    make_tenant_admin(acme, "ada", password="correct-horse-battery")

    page = browser.new_page()
    sign_in(page, live_server, "ada")
    expect(page.locator("#content-main")).to_contain_text("Live chat custom fields")
    page.goto(f"{live_server.url}/admin/relay/livechatcustomfield/add/")
    page.select_option("#id_tenant", label="Acme")
    page.fill("#id_label", "Brand")
    page.fill("#id_value", "Acme Mobile")
    page.fill("#id_transcript_field", "Brand c")  # not an API name
    page.click("input[name=_save]")
    expect(page.locator(".field-transcript_field .errorlist")).to_contain_text("ending in __c")
    page.fill("#id_transcript_field", "Brand__c")
    page.click("input[name=_save]")
    results = page.locator("#result_list")
    expect(results).to_contain_text("Acme Mobile")
    expect(results).to_contain_text("Brand__c")
    expect(results).not_to_contain_text("Globex brand")
    assert LiveChatCustomField.objects.filter(tenant=acme, transcript_field="Brand__c").exists()

    page.goto(f"{live_server.url}/admin/relay/livechatsession/")
    expect(page.locator("#content")).to_contain_text("0 live chat sessions")
    page.close()
