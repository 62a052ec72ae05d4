"""The wizard's Enhanced Chat step in headless Chromium, framed by the sandbox's Canvas launcher: the SCRT URL and
the deployment's API Name are checked live (a guest's token from the deployment): a deployment the org does not
have is named on its field and nothing is saved; the right one is saved with the texts, and the wizard goes on."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_ORG_ID
from tenants.models import SalesforceConnection, Tenant
from tests.browser.test_wizard_browser import live, open_in_launcher  # noqa: F401 - fixture
from tests.console import conftest as console_support
from tests.console.conftest import make_clean_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_org = console_support.demo_org  # fixture
DEPLOYMENT = "Wizard_Chat"


def test_the_enhanced_chat_step_checks_the_deployment_live_and_saves_it(demo_org, live, page):  # noqa: F811
    sim, base = demo_org.sim, demo_org.base_url
    response = sim.post(
        f"/__sim/enhancedchat/orgs/{DEMO_ORG_ID}/deployments",
        json={"developer_name": DEPLOYMENT, "queue": "Support"},
    )
    assert response.status_code == 201, response.text
    tenant = make_clean_tenant(demo_org.sandbox)
    SalesforceConnection.objects.filter(tenant=tenant).update(desk=SalesforceConnection.Desk.ENHANCED_CHAT)

    frame = open_in_launcher(page, base, f"{live.url}/console/canvas/wizard/")
    expect(frame.locator("#tenant-name")).to_contain_text("Acme")
    frame.locator("[data-step=channel] a").first.click()
    expect(frame.locator("#enhanced-chat-form")).to_be_visible()
    frame.locator("#id_scrt_url").fill(f"{base}/sim/scrt")
    # A deployment this org does not have: named on its field, nothing saved.
    frame.locator("#id_es_developer_name").fill("No_Such_Chat")
    frame.locator("#confirm-enhanced-chat").click()
    expect(frame.locator("#id_es_developer_name-error")).to_contain_text("No_Such_Chat")
    assert SalesforceConnection.objects.get(tenant=tenant).es_developer_name == ""
    # A name that is not an API Name is refused before anything is asked.
    frame.locator("#id_es_developer_name").fill("Two__Underscores")
    frame.locator("#confirm-enhanced-chat").click()
    expect(frame.locator("#id_es_developer_name-error")).to_contain_text("single underscores")
    # The right one: checked live, saved with the closing text, and on to the provider step.
    frame.locator("#id_es_developer_name").fill(DEPLOYMENT)
    frame.locator("#id_closing_text").fill("Thanks for chatting with Acme!")
    frame.locator("#confirm-enhanced-chat").click()
    expect(frame.locator("#enhanced-chat-result")).to_contain_text(f"Saved. Checked: {DEPLOYMENT}")
    frame.locator("#continue-provider").click()
    expect(frame.locator("#step-title")).to_contain_text("Provider")
    connection = SalesforceConnection.objects.get(tenant=tenant)
    assert (connection.es_developer_name, connection.scrt_url) == (DEPLOYMENT, f"{base}/sim/scrt")
    assert Tenant.objects.get(pk=tenant.pk).closing_text == "Thanks for chatting with Acme!"
