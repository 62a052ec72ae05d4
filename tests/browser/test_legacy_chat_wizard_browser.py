"""The wizard's Legacy Chat step in headless Chromium, framed by the sandbox's Canvas launcher: the retirement
notice points to Enhanced Chat, and the pasted snippets are read and, once confirmed, checked live at the Chat
API: a wrong button id is named and nothing is saved; the right one is saved with the button's state."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_ORG_ID
from tenants.models import SalesforceConnection
from tests.browser.test_wizard_browser import live, open_in_launcher  # noqa: F401 - fixture
from tests.console import conftest as console_support
from tests.console.conftest import make_clean_tenant
from tests.relay.livechat_snippets import setup_snippets

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_org = console_support.demo_org  # fixture
WRONG_BUTTON = "573000000000999"


def test_the_legacy_chat_step_warns_reads_the_snippets_and_saves_them(demo_org, live, page):  # noqa: F811
    sim, base = demo_org.sim, demo_org.base_url
    tenant = make_clean_tenant(demo_org.sandbox)
    SalesforceConnection.objects.filter(tenant=tenant).update(desk=SalesforceConnection.Desk.LIVECHAT)
    state = sim.get(f"/__sim/livechat/orgs/{DEMO_ORG_ID}").json()
    button = next(b["id"] for b in state["buttons"] if b["developerName"] == "Support_Chat")
    deployment_code, button_code = setup_snippets(
        f"{base}/sim/livechat/chat", state["deployments"][0]["id"][:15], DEMO_ORG_ID[:15], button[:15]
    )

    frame = open_in_launcher(page, base, f"{live.url}/console/canvas/wizard/")
    expect(frame.locator("#tenant-name")).to_contain_text("Acme")
    frame.locator("[data-step=channel] a").first.click()
    notice = frame.locator("#legacy-chat-retired")
    expect(notice).to_contain_text("retired Legacy Chat on 2026-02-14")
    expect(notice).to_contain_text("Enhanced Chat")
    # A button id of no button of this org: the live check names it on the Chat Button Code, nothing saved.
    _, wrong_button_code = setup_snippets(
        f"{base}/sim/livechat/chat", state["deployments"][0]["id"][:15], DEMO_ORG_ID[:15], WRONG_BUTTON
    )
    frame.locator("#id_deployment_code").fill(deployment_code)
    frame.locator("#id_button_code").fill(wrong_button_code)
    frame.locator("#read-chat").click()
    expect(frame.locator("#parsed-chat [data-field=button]")).to_contain_text(WRONG_BUTTON)
    frame.locator("#confirm-chat").click()
    expect(frame.locator("#id_button_code-error")).to_contain_text(
        f"The org has no chat button {WRONG_BUTTON}"
    )
    assert SalesforceConnection.objects.get(tenant=tenant).chat_button_id == ""
    # The right snippets: checked, saved, and the button's state shown (Ada, online, takes Support_Chat).
    frame.locator("#id_button_code").fill(button_code)
    frame.locator("#read-chat").click()
    expect(frame.locator("#parsed-chat [data-field=button]")).to_contain_text(button)
    frame.locator("#confirm-chat").click()
    expect(frame.locator("#chat-result")).to_contain_text("Saved. Checked: button online")
    frame.locator("#continue-provider").click()
    expect(frame.locator("#step-title")).to_contain_text("Provider")
    connection = SalesforceConnection.objects.get(tenant=tenant)
    assert connection.chat_button_id == button
    assert connection.chat_api_endpoint == f"{base}/sim/livechat/chat/rest/"
