"""The Case chat panel in headless Chromium: a WhatsApp customer's message opens a Case (the Cases desk,
against the sandbox's Salesforce), the agent opens the Case's page in the sandbox console, where the panel
is framed through the Canvas launcher, reads the message, answers; the reply reaches the phone and the panel
follows its ticks; a failed send shows its reason; the panel is usable at a 420 px utility-panel width.
Celery runs eagerly inside the live server (a real worker is the e2e tests' business)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.console import session
from portal.demo import ensure_demo_tenant, register_certificate_with_sandbox
from relay.desks.cases_models import CaseLink
from relay.models import Conversation, Message
from tests.e2e.conftest import agent_id, customer_writes, phone_received, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ORG = "00D8d000000AcmE"
ACCOUNT = "demo-account-key"
CUSTOMER = "385919998888"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture
def cases_demo(sandbox, sim, live_server, settings):
    """The demo tenant on the Cases desk, wired to the sandbox."""
    from django.core.cache import cache

    cache.clear()
    settings.PUBLIC_BASE_URL = live_server.url
    sandbox.call(sandbox.world.load_fixture, json.loads((ROOT / "sandbox/fixtures/demo.json").read_text()))
    tenant = ensure_demo_tenant(sandbox.base_url)
    register_certificate_with_sandbox(tenant, sandbox.base_url)
    tenant.salesforce.desk = tenant.salesforce.Desk.CASES
    tenant.salesforce.save(update_fields=["desk"])
    webhook = f"{live_server.url}/webhooks/infobip/{ACCOUNT}/"
    assert sim.patch(f"/__sim/infobip/accounts/{ACCOUNT}", json={"webhook_url": webhook}).status_code == 200
    return tenant


def a_case_opened_by(sim, text: str) -> CaseLink:
    customer_writes(sim, text, customer=CUSTOMER)
    return wait_for(
        lambda: CaseLink.objects.exclude(case_id="").select_related("conversation").first(),
        what="the Case the customer's message opened",
        timeout=45,  # the first delivery also signs in to Salesforce: slow on busy shared cores
    )


def case_page_url(sandbox, sim, live_server, case_id: str) -> str:
    """The Case's page in the sandbox's agent console, as Ada: it frames the Switchboard panel through the
    Canvas launcher, which posts the signed request naming the Case as the record."""
    query = urlencode(
        {"org": ORG, "agent": agent_id(sim, ORG), "panel": f"{live_server.url}/console/canvas/case/"}
    )
    return f"{sandbox.base_url}/__sim/console/cases/{case_id}?{query}"


def case_feed(sandbox, case_id: str) -> list[str]:
    """The bodies of the Case's feed posts in the sandbox's org, oldest first."""
    org = sandbox.world.orgs.get(ORG)
    return sandbox.call(lambda: [r["Body"] for r in org.records.filter("FeedItem", ParentId=case_id)])


def open_case_page(page, sandbox, sim, live_server, case_id: str):
    """The Case page, and the panel's frame once the panel has loaded in it."""
    page.goto(case_page_url(sandbox, sim, live_server, case_id))
    expect(page.frame_locator('[data-testid="case-panel"]').locator("#case-panel")).to_be_visible()
    frame = page.frame(name="case-panel")
    assert frame is not None and frame.url.startswith(live_server.url)
    return frame


def test_the_agent_answers_from_the_case_panel_and_follows_the_ticks(
    cases_demo, sandbox, sim, live_server, browser, monkeypatch
):
    link = a_case_opened_by(sim, "My parcel <b>has not</b> arrived")
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # the Case record page, wide
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        panel = open_case_page(page, sandbox, sim, live_server, link.case_id)
        expect(page.get_by_test_id("case-title")).to_contain_text(link.case_number)
        expect(panel.get_by_role("heading", name="Conversation")).to_be_visible()
        expect(panel.locator("#case-number")).to_contain_text(link.case_number or link.case_id)
        first = panel.locator(".sb-chat__item_in").first
        expect(first.locator(".sb-chat__text")).to_have_text("My parcel <b>has not</b> arrived")  # as text
        expect(panel.locator("#window-state")).to_have_attribute("data-open", "true")
        expect(panel.locator("#case-closed")).to_be_hidden()  # the Case is open: replies are on
        expect(panel.locator("#send-template")).to_be_hidden()  # and so is the window

        # The agent answers; the reply reaches the phone and the panel follows it to "Read".
        panel.fill("#reply-text", "We are on it, Frank.")
        panel.click("#reply-send")
        expect(panel.locator("#reply-text")).to_have_value("")
        wait_for(
            lambda: [
                m
                for m in phone_received(sim, customer=CUSTOMER)
                if m["content"].get("text") == "We are on it, Frank."
            ],
            what="the reply on the phone",
        )
        mine = panel.locator(".sb-chat__item_out", has_text="We are on it, Frank.")
        expect(mine).to_have_attribute("data-status", "read", timeout=20_000)
        expect(mine.locator(".sb-chat__status")).to_contain_text("Read")
        expect(mine.locator(".sb-chat__ticks")).to_have_text("✓✓")

        # A file: checked, kept, sent as media the provider fetches from Switchboard; the agent's link opens it.
        panel.set_input_files("#reply-file", {"name": "label.png", "mimeType": "image/png", "buffer": PNG})
        panel.fill("#reply-text", "Your label")
        panel.click("#reply-send")
        image = wait_for(
            lambda: [m for m in phone_received(sim, customer=CUSTOMER) if m["kind"] == "IMAGE"],
            what="the image on the phone",
        )[0]
        assert image["content"]["mediaUrl"].startswith(f"{live_server.url}/console/case/file/")
        assert image["content"]["caption"] == "Your label"
        attached = panel.locator(".sb-chat__item_out", has_text="Your label").locator(".sb-chat__file a")
        expect(attached).to_have_text("📎 label.png")
        fetched = page.request.get(live_server.url + attached.get_attribute("href"))
        assert (
            fetched.status == 200 and fetched.body() == PNG and fetched.headers["content-type"] == "image/png"
        )

        # The customer writes again: it appears without a reload.
        customer_writes(sim, "Thanks!", customer=CUSTOMER)
        expect(panel.locator(".sb-chat__item_in", has_text="Thanks!")).to_be_visible(timeout=20_000)

        # The provider cannot deliver the next one: the panel says so, with the provider's reason.
        assert (
            sim.patch(f"/__sim/infobip/accounts/{ACCOUNT}", json={"dlr_outcome": "FAILED"}).status_code == 200
        )
        panel.fill("#reply-text", "Here is your tracking link")
        panel.click("#reply-send")
        failed = panel.locator(".sb-chat__item_out", has_text="Here is your tracking link")
        expect(failed).to_have_attribute("data-status", "failed", timeout=20_000)
        reason = Message.objects.get(text="Here is your tracking link").last_error
        assert reason
        expect(failed.locator(".sb-chat__error")).to_have_text(reason.removeprefix("Not delivered: "))
        expect(failed.locator(".sb-chat__status")).to_contain_text("Not delivered")

        # In a 420 px utility panel: nothing wider than the frame, and the reply box still works.
        page.set_viewport_size({"width": 420, "height": 800})
        fits = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        assert panel.evaluate(fits)
        assert panel.evaluate("document.documentElement.clientWidth") < 420

        # Quick replies by keyboard: Ctrl+Enter sends.
        assert (
            sim.patch(
                f"/__sim/infobip/accounts/{ACCOUNT}", json={"dlr_outcome": "DELIVERED_SEEN"}
            ).status_code
            == 200
        )
        panel.locator("details.sb-reply__more summary").click()
        panel.fill("#reply-choices", "Yes\nNo")
        panel.fill("#reply-text", "Shall we resend it?")
        panel.press("#reply-text", "Control+Enter")
        offered = panel.locator(".sb-chat__item_out", has_text="Shall we resend it?")
        expect(offered.locator(".sb-chat__choice")).to_have_text(["Yes", "No"])
        assert panel.evaluate(fits)

        # The Case closes (as the Cases desk records Salesforce's change): the panel says so and locks replies.
        CaseLink.objects.filter(pk=link.pk).update(is_closed=True, status="Closed", closed_at=timezone.now())
        expect(panel.locator("#case-closed")).to_be_visible()
        expect(panel.locator("#case-status")).to_have_text("Closed")
        expect(panel.locator("#reply-send")).to_be_disabled()
        expect(panel.locator("#reply-locked")).to_have_text("The Case is closed: replies are off.")

        # The session runs out: the panel stops asking and says what to do.
        monkeypatch.setattr(session, "MAX_AGE_SECONDS", -1)  # every token is now older than its lifetime
        expect(panel.locator("#feed-status-text")).to_have_text(
            "Your session for this Case has ended. Reload the Case page in Salesforce to continue."
        )
    finally:
        context.close()


def test_a_refused_reply_keeps_what_was_typed_and_a_closed_window_leads_to_the_template_panel(
    cases_demo, sandbox, sim, live_server, browser
):
    link = a_case_opened_by(sim, "Hello")
    context = browser.new_context(viewport={"width": 420, "height": 640})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        panel = open_case_page(page, sandbox, sim, live_server, link.case_id)
        panel.locator("details.sb-reply__more summary").click()
        panel.fill("#reply-choices", "\n".join(f"Option {i}" for i in range(11)))
        panel.fill("#reply-text", "Pick one")
        panel.click("#reply-send")
        expect(panel.locator("#reply-choices-error")).to_contain_text("at most 10")
        expect(panel.locator("#reply-text")).to_have_value("Pick one")
        assert not Message.objects.filter(content__source="case_panel").exists()

        # A day later WhatsApp's window has closed: the badge says so, free text is off, a template is offered.
        Conversation.objects.filter(pk=link.conversation_id).update(
            last_inbound_at=timezone.now() - timedelta(hours=25), updated_at=timezone.now()
        )
        expect(panel.locator("#window-state")).to_have_attribute("data-open", "false")
        expect(panel.locator("#window-state")).to_contain_text("24-hour window closed")
        expect(panel.locator("#reply-send")).to_be_disabled()
        panel.click("#send-template")
        expect(panel.get_by_role("heading", name="Send a WhatsApp template")).to_be_visible()
        expect(panel.locator("#customer")).to_have_value(link.conversation.customer)
        expect(panel.locator("#window-state")).to_have_attribute("data-open", "false")
        expect(panel.locator("#session-summary")).to_contain_text(f"Case {link.case_number}")

        # The agent sends one: the customer gets it, and it is on the Case (its transcript and this panel).
        panel.locator(".sb-tpl__item[data-template=welcome_back]").first.click()
        expect(panel.locator("#chosen-template")).to_contain_text("welcome_back")
        panel.click("#send-template")
        expect(panel.locator("#send-done")).to_contain_text("Sent to")
        wait_for(
            lambda: [m for m in phone_received(sim, customer=CUSTOMER) if m["kind"] == "TEMPLATE"],
            what="the template on the phone",
        )
        feed = wait_for(
            lambda: [b for b in case_feed(sandbox, link.case_id) if "welcome_back" in b],
            what="the template on the Case's feed",
        )
        assert feed == [
            "Agent Ada Agent:\n[WhatsApp template welcome_back]\nWelcome back to Acme! How can we help you today?"
        ]
        panel = open_case_page(page, sandbox, sim, live_server, link.case_id)
        sent = panel.locator(".sb-chat__item_out", has_text="Welcome back to Acme!")
        expect(sent).to_have_attribute("data-status", "read", timeout=20_000)
        expect(sent.locator(".sb-chat__ticks")).to_have_text("✓✓")
    finally:
        context.close()
