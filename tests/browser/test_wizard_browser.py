"""The setup wizard in headless Chromium, framed by the sandbox's Canvas launcher at console-panel width,
from a tenant with nothing configured to a delivered test message."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_CONSUMER_KEY, DEMO_ORG_ID
from relay.models import Message
from tenants.models import ProviderAccount, RoutingRule, Sender
from tests.console import conftest as console_support
from tests.console.conftest import INFOBIP_KEY, make_clean_tenant, upload_certificate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_org = console_support.demo_org  # fixture

PANEL_WIDTH = 420
CUSTOMER = "+385919998888"
SLDS_BRAND_BLUE = "rgb(1, 118, 211)"


@pytest.fixture
def live(settings, live_server, sandbox):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SALESFORCE_PUBSUB_ENDPOINT = sandbox.world.config.grpc_target
    settings.SALESFORCE_PUBSUB_TLS = False
    return live_server


def open_in_launcher(page, sandbox_url: str, target: str, *, user="admin@acme.demo", tampered=False):
    """The sandbox's Canvas launcher frames our page as the Service Console does; the frame is made as
    narrow as a console side panel."""
    page.goto(f"{sandbox_url}/__sim/canvas?org={DEMO_ORG_ID}")
    page.select_option("#user-select", user)
    page.fill("#target-url", target)
    if tampered:
        page.click("label[for=tampered]")
    page.evaluate(
        f"() => {{ const f = document.getElementById('canvas-frame'); f.style.width = '{PANEL_WIDTH}px';"
        " f.style.height = '1600px'; }"
    )
    page.click("#launch-button")
    return page.frame_locator("#canvas-frame")


def fits_the_panel(page) -> None:
    frame = page.frame(name="canvas-frame")
    width = frame.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[1] <= PANEL_WIDTH and width[0] <= width[1] + 1, f"horizontal overflow at {width}"


def test_an_admin_completes_every_step_inside_the_console_frame(demo_org, live, page):
    sim, base = demo_org.sim, demo_org.base_url
    tenant = make_clean_tenant(demo_org.sandbox)
    frame = open_in_launcher(page, base, f"{live.url}/console/canvas/wizard/")

    # Overview, then step 1.
    expect(frame.locator("#tenant-name")).to_contain_text("Acme")
    expect(frame.locator("#step-overview")).to_contain_text("1. Salesforce connection")
    assert frame.locator(".slds-button_brand").first.evaluate("b => getComputedStyle(b).backgroundColor") == (
        SLDS_BRAND_BLUE
    )
    fits_the_panel(page)
    frame.locator("#continue").click()
    expect(frame.locator("#step-title")).to_have_text("1. Salesforce connection")
    frame.locator("#generate-key").click()
    expect(frame.locator("#download-certificate")).to_be_visible()
    upload_certificate(sim, tenant)  # the admin uploads it to the Connected App in Salesforce
    # My Domain comes prefilled from the signed request.
    expect(frame.locator("#id_instance_url")).to_have_value(f"{base}/sim/core")
    frame.locator("#id_consumer_key").fill("3MVG9wrongConsumerKey")
    frame.locator("#id_integration_username").fill("integration@acme.demo")
    frame.locator("#test-connection").click()
    expect(frame.locator("#test-result")).to_contain_text(
        "Salesforce refused the login: client identifier invalid"
    )
    expect(frame.locator(".sb-step[data-step=salesforce]")).to_have_attribute("data-done", "false")
    fits_the_panel(page)

    # Keyboard only: from My Domain, Tab to the consumer key, type it, Enter submits "Save and continue".
    frame.locator("#id_instance_url").focus()
    for _ in range(3):  # org type, desk, consumer key
        page.keyboard.press("Tab")
    expect(frame.locator("#id_consumer_key")).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type(DEMO_CONSUMER_KEY)
    page.keyboard.press("Enter")
    expect(frame.locator("#step-title")).to_have_text("2. Channel")
    expect(frame.locator(".sb-step[data-step=salesforce]")).to_have_attribute("data-done", "true")

    # 2. Channel setup through the Tooling API, then the Messaging channel from the org.
    frame.locator("#run-setup").click()
    expect(frame.locator("#setup-results tbody tr")).to_have_count(5)
    expect(frame.locator("#setup-results tr[data-name=Switchboard]")).to_contain_text("Created")
    expect(frame.locator("#setup-results tr[data-name=Switchboard_Messaging]")).to_contain_text(
        "Already existed"
    )
    frame.locator("#id_channel").select_option(label="Acme_WhatsApp")
    frame.locator("#id_scrt_url").fill(f"{base}/sim/scrt")
    frame.locator("#id_welcome_text").fill("Hi! Acme here.")
    fits_the_panel(page)
    frame.locator("#save-channel").click()

    # 3. Provider account: a bad key is refused with Infobip's words; the good one shows the webhook once.
    expect(frame.locator("#step-title")).to_have_text("3. Provider account")
    frame.locator("#id_base_url").fill(f"{base}/sim/infobip")
    frame.locator("#id_api_key").fill("not-the-api-key")
    frame.locator("#save-provider").click()
    expect(frame.locator("#id_api_key-error")).to_contain_text("Infobip API key rejected")
    assert not ProviderAccount.objects.exists()
    frame.locator("#id_api_key").fill(INFOBIP_KEY)
    frame.locator("#save-provider").click()
    secret = frame.locator("#webhook-secret").input_value()
    webhook_url = frame.locator("#webhook-url").input_value()
    account = ProviderAccount.objects.get(tenant=tenant)
    assert secret == str(account.webhook_secret) and webhook_url == f"{live.url}{account.webhook_path}"
    fits_the_panel(page)
    # The admin pastes both into Infobip.
    response = sim.patch(
        "/__sim/infobip/accounts/demo-account-key",
        json={"webhook_url": webhook_url, "auth": {"type": "HMAC", "secret": secret}},
    )
    assert response.status_code == 200, response.text
    frame.locator("#continue-senders").click()

    # 4. Senders, fetched live; each feeds a Messaging channel.
    expect(frame.locator(".sb-sender")).to_have_count(2)
    frame.locator("label[for=id_use-0]").click()
    frame.locator("label[for=id_use-1]").click()
    frame.locator("#id_channel-1").select_option(label="Acme_SMS")
    fits_the_panel(page)
    frame.locator("#save-senders").click()

    # 5. Routing from the org's queues, agents and flows.
    expect(frame.locator("#step-title")).to_have_text("5. Routing")
    expect(frame.locator(".sb-list-meta[data-list=queues]")).to_contain_text("2 queues, fetched")
    whatsapp = Sender.objects.get(tenant=tenant, channel="whatsapp")
    frame.locator(f"#id_s{whatsapp.pk}-target").select_option(label="Support")
    frame.locator(f"#id_s{whatsapp.pk}-fallback").select_option(label="Ada Agent (ada@acme.demo)")
    frame.locator(f"label[for=id_s{whatsapp.pk}-sticky]").click()
    fits_the_panel(page)
    frame.locator("#save-routing").click()
    expect(frame.locator("#step-title")).to_have_text("6. Check and test")
    rule = RoutingRule.objects.get(sender=whatsapp)
    assert (rule.target_type, rule.target_label, rule.fallback_type, rule.sticky_agent) == (
        "queue",
        "Support",
        "agent",
        True,
    )

    # 6. The live health check, then a test message through the whole loop.
    expect(frame.locator("#health-list")).to_be_visible(timeout=20_000)
    for key in ("token", "capabilities", "provider", "webhook"):
        expect(frame.locator(f"[data-check={key}]")).to_have_attribute("data-state", "ok")
    expect(frame.locator("[data-state=error]")).to_have_count(0)
    frame.locator("#id_sender").select_option(label="SMS +447491163443")
    frame.locator("#id_number").fill(CUSTOMER)
    frame.locator("#send-test").click()
    expect(frame.locator("#test-status")).to_have_attribute(
        "data-status", re.compile("delivered|read"), timeout=20_000
    )
    expect(frame.locator("#test-status")).to_contain_text("Delivered to +385919998888")
    fits_the_panel(page)
    message = Message.objects.get(tenant=tenant, content__system="wizard-test")
    assert message.status in ("delivered", "read")
    frame.locator("#finish").click()
    expect(frame.locator("#step-overview")).to_be_visible()
    for step in ("salesforce", "channel", "provider", "senders", "routing", "summary"):
        expect(frame.locator(f".sb-step[data-step={step}]")).to_have_attribute("data-done", "true")
    expect(frame.locator("#step-overview .slds-badge")).to_have_text(["Done"] * 6)
    # Saving the channel registered its capabilities: step 2's setup table says so.
    frame.locator(".sb-step[data-step=channel] a").click()
    expect(frame.locator("#capabilities-row")).to_have_attribute("data-capabilities", "registered")
    expect(frame.locator("#capabilities-row")).to_contain_text("Registered")


def test_red_items_link_to_the_step_that_fixes_them(demo_org, live, page):
    make_clean_tenant(demo_org.sandbox)
    frame = open_in_launcher(page, demo_org.base_url, f"{live.url}/console/canvas/wizard/")
    frame.locator(".sb-step[data-step=summary] a").click()
    expect(frame.locator("#health-list")).to_be_visible(timeout=20_000)
    expect(frame.locator("[data-check=token]")).to_have_attribute("data-state", "error")
    frame.locator("[data-check=token] [data-fix=salesforce]").click()
    expect(frame.locator("#step-title")).to_have_text("1. Salesforce connection")


def test_a_tampered_signed_request_ends_on_the_clear_error_page(demo_org, live, page):
    make_clean_tenant(demo_org.sandbox)
    frame = open_in_launcher(page, demo_org.base_url, f"{live.url}/console/canvas/wizard/", tampered=True)
    expect(frame.locator("h2")).to_contain_text("Switchboard cannot open this page")
    expect(frame.locator("#console-error")).to_contain_text("The signature does not match")


POST_SIGNED_REQUEST = """([url, signed]) => {
  const form = document.createElement('form'); form.method = 'post'; form.action = url;
  const field = document.createElement('input'); field.name = 'signed_request'; field.value = signed;
  form.append(field); document.body.append(form); form.submit();
}"""


def test_a_signed_request_replayed_is_refused(demo_org, live, page):
    make_clean_tenant(demo_org.sandbox)
    launched = console_support.launch(
        demo_org.sim, DEMO_ORG_ID, "admin@acme.demo", f"{live.url}/console/canvas/wizard/"
    )
    assert launched["envelope"]["issuedAt"] < 0  # as real orgs send it
    page.goto(f"{demo_org.base_url}/__sim/canvas?org={DEMO_ORG_ID}")  # the Salesforce side
    page.evaluate(POST_SIGNED_REQUEST, [launched["action"], launched["signed_request"]])
    expect(page.locator("#tenant-name")).to_contain_text("Acme")
    # session.js (deferred) puts the page's own address, with no token in it, in the address bar
    expect(page).to_have_url(f"{live.url}/console/wizard/")
    page.locator("#continue").click()
    expect(page.locator("#step-title")).to_have_text("1. Salesforce connection")
    expect(page).to_have_url(f"{live.url}/console/wizard/salesforce/")

    page.goto(f"{demo_org.base_url}/__sim/canvas?org={DEMO_ORG_ID}")
    page.evaluate(POST_SIGNED_REQUEST, [launched["action"], launched["signed_request"]])
    expect(page.locator("#console-error")).to_contain_text("already used")
