"""The README's "Try it" paragraph, followed word for word in headless Chromium on the demo stack (the
sandbox with the demo fixture, Switchboard's web server, a real Celery worker and the Pub/Sub listener):

the phone page, the WhatsApp sender, a message as the customer; the agent console (Ada, online, accept);
the answer reaches the phone with its delivered and read ticks. Then the console pages the way Salesforce
opens them, through the sandbox's Canvas launcher: the wizard (as the org's admin), the template panel on
the Messaging Session (a template sent to the demo customer and accepted) and the history panel; and the
admin as ``acme-admin``. Every console page is checked at a console panel's 420 px and at full width:
nothing is wider than the frame, every banner is the one SLDS success or error style.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD, link_demo_admin_to_salesforce, register_capabilities
from relay.models import Message
from tests.e2e.conftest import (  # noqa: F401 - fixtures
    celery_worker_process,
    console_sessions,
    listener,
    real_worker,
    wait_for,
    wired,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_CUSTOMER = "+447400123456"
PANEL = 420
FULL = 1280
WIZARD_STEPS = ["salesforce", "channel", "provider", "senders", "routing", "summary"]
SLDS_SUCCESS = "rgb(46, 132, 74)"
SLDS_ERROR = "rgb(186, 5, 23)"

# Every element's right edge inside the window, and no horizontal scrolling.
OVERFLOW = """() => {
  const width = window.innerWidth, wide = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 0.5)
      wide.push(`${e.tagName.toLowerCase()}#${e.id}.${e.className} right=${Math.round(r.right)}`);
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10)};
}"""

# Every banner: which of the SLDS kinds it is, and its colour.
BANNERS = """() => [...document.querySelectorAll('.slds-notify_alert')].filter(e => e.offsetParent).map(e => ({
  id: e.id,
  kinds: ['slds-theme_success', 'slds-alert_error', 'slds-alert_warning'].filter(k => e.classList.contains(k)),
  background: getComputedStyle(e).backgroundColor,
}))"""


def fits(frame, what: str, width: int) -> None:
    found = frame.evaluate(OVERFLOW)
    assert found["width"] == width, f"{what}: the frame is {found['width']} px, not {width}"
    assert found["scroll"] <= found["width"], f"{what} scrolls sideways at {width} px: {found}"
    assert not found["wide"], f"{what}: wider than the {width} px frame: {found['wide']}"


def banners_are_slds(frame, what: str) -> list[dict]:
    banners = frame.evaluate(BANNERS)
    for banner in banners:
        assert len(banner["kinds"]) == 1, f"{what}: banner {banner} is not exactly one SLDS kind"
        if banner["kinds"] == ["slds-theme_success"]:
            assert banner["background"] == SLDS_SUCCESS, f"{what}: {banner}"
        if banner["kinds"] == ["slds-alert_error"]:
            assert banner["background"] == SLDS_ERROR, f"{what}: {banner}"
    return banners


def check(frame, page, what: str, width: int, shots) -> None:
    fits(frame, what, width)
    banners_are_slds(frame, what)
    page.locator("#canvas-frame").screenshot(path=str(shots / f"{what}-{width}.png"))


def launcher(page, sandbox_url: str, target: str, *, user: str, record: str = "", width: int = PANEL):
    """The sandbox's Canvas launcher, as the README says: user, target URL, record; the frame made as
    narrow as a console side panel (or as wide as the window)."""
    page.goto(f"{sandbox_url}/__sim/canvas")
    page.select_option("#user-select", user)
    page.fill("#target-url", target)
    page.fill("#record-id", record)
    page.evaluate(
        "w => { const f = document.getElementById('canvas-frame'); f.style.width = w + 2 + 'px';"  # + border
        " f.style.height = '1400px'; }",
        width,
    )
    page.click("#launch-button")
    return page.frame_locator("#canvas-frame"), lambda: page.frame(name="canvas-frame")


def test_the_readme_try_it_story(wired, listener, browser, tmp_path):  # noqa: F811
    app, sandbox_url, org_id = wired.live_server.url, wired.sandbox.base_url, wired.org_id
    link_demo_admin_to_salesforce(wired.tenant)  # as `bin/run` does
    register_capabilities(wired.tenant)  # as `bin/run` does
    context = browser.new_context(viewport={"width": FULL, "height": 900})
    context.set_default_timeout(20_000)
    try:
        phone, console = context.new_page(), context.new_page()

        # "open the phone page, pick the WhatsApp sender and write as the customer"
        phone.goto(f"{sandbox_url}/__sim/phone")
        whatsapp = phone.locator("#sender option", has_text="WhatsApp")
        phone.select_option("#sender", whatsapp.get_attribute("value"))
        expect(phone.get_by_test_id("customer")).to_have_value(DEMO_CUSTOMER.lstrip("+"))
        phone.get_by_test_id("compose").fill("Hello, my parcel has not arrived")
        phone.get_by_test_id("send").click()
        expect(phone.get_by_test_id("sent-by-customer")).to_contain_text("my parcel has not arrived")

        # "the message appears in the agent console (pick Ada, she is online, accept the session)"
        console.goto(f"{sandbox_url}/__sim/console")
        console.select_option("#pick-agent", label="Ada Agent")
        expect(console.get_by_test_id("presence-status")).to_have_text("Online")
        waiting = console.get_by_test_id("waiting-list")
        expect(waiting).to_contain_text("447400123456")
        waiting.get_by_test_id("accept").first.click()
        expect(console.get_by_test_id("session-status")).to_have_text("Active")
        expect(console.get_by_test_id("transcript")).to_contain_text("my parcel has not arrived")

        # "answer there and the reply appears on the phone with its delivered and read ticks"
        console.locator("#reply-text").fill("Let me check that for you.")
        console.get_by_test_id("send").click()
        reply = phone.get_by_test_id("received").filter(has_text="Let me check that for you.")
        expect(reply).to_have_count(1, timeout=30_000)
        expect(reply.locator(".ph-ticks")).to_have_text("✓✓")
        expect(reply.locator(".ph-ticks")).to_have_attribute("title", "seen", timeout=30_000)

        session_id = wait_for(
            lambda: [
                s["id"]
                for s in console_sessions(wired.sim, org_id)
                if (s.get("endUserClientId") or "").lstrip("+") == DEMO_CUSTOMER.lstrip("+")
            ],
            what="the demo customer's Messaging Session",
        )[0]
        panel_page = context.new_page()
        for width in (PANEL, FULL):
            panel_page.set_viewport_size({"width": max(width + 700, FULL), "height": 900})
            wizard_pages(panel_page, app, sandbox_url, width, tmp_path)
            sent = template_panel(panel_page, app, sandbox_url, session_id, width, tmp_path)
            history_panel(panel_page, app, sandbox_url, session_id, width, tmp_path, sent)
        admin_pages(context.new_page(), app, tmp_path)
    finally:
        context.close()


def wizard_pages(page, app, sandbox_url, width, shots) -> None:
    """ "target .../console/canvas/wizard/", as the org's admin (Avery Admin, linked to acme-admin)."""
    frame, raw = launcher(
        page, sandbox_url, f"{app}/console/canvas/wizard/", user="admin@acme.demo", width=width
    )
    expect(frame.locator("h1")).to_have_text("Switchboard setup")
    expect(frame.locator("#tenant-name")).to_contain_text("Avery Admin")
    check(raw(), page, "wizard-home", width, shots)
    for slug in WIZARD_STEPS:
        frame.locator(f".sb-step[data-step={slug}] a").click()
        expect(frame.locator(f".sb-step[data-step={slug}] a[aria-current=step]")).to_be_visible()
        if slug == "salesforce":
            frame.locator("#test-connection").click()
            result = frame.locator("#test-result")
            # The check is queued to the worker; the banner of the last test stays until its answer arrives.
            expect(result).to_contain_text("Connected.", timeout=30_000)
            expect(result).to_have_class(has_class("slds-theme_success"))
            frame.locator(".sb-step[data-step=salesforce] a").click()  # the page as it is afterwards
            expect(frame.locator("#test-result")).to_contain_text("Connection tested just now")
            frame.locator("#id_consumer_key").fill("")  # refused fields are not what was tested
            frame.locator("#save-continue").click()
            expect(frame.locator("#id_consumer_key-error")).to_contain_text("required")
            expect(frame.locator("#test-result")).to_have_count(0)
            frame.locator(".sb-step[data-step=salesforce] a").click()
        if slug == "channel":
            for name in ("welcome_text", "closing_text", "no_agent_text"):
                expect(frame.locator(f"#id_{name}")).to_have_attribute("rows", "2")
        if slug == "senders":
            expect(frame.locator(".sb-sender").first).to_contain_text("long number")
            expect(frame.locator("#senders-form")).not_to_contain_text("VIRTUAL_LONG_NUMBER")
            expect(frame.locator("#senders-form")).not_to_contain_text("WHATSAPP")
            expect(frame.locator(".sb-sender .slds-badge", has_text="WhatsApp")).to_have_count(1)
        if slug == "routing":
            expect(frame.locator(".sb-list-meta[data-list=flows]")).to_contain_text("1 flow, fetched")
        if slug == "summary":
            expect(frame.locator("#health-list")).to_be_visible()
            expect(frame.locator("[data-check=capabilities]")).to_have_attribute("data-state", "ok")
            frame.locator("#id_number").fill("hello")
            frame.locator("#send-test").click()
            refused = frame.locator(".slds-alert_error, .sb-error").filter(has_text="hello")
            expect(refused).to_contain_text("is not an international")
            expect(refused).not_to_contain_text("did not seem")
        check(raw(), page, f"wizard-{slug}", width, shots)


def has_class(name: str):
    return re.compile(rf"(^|\s){name}(\s|$)")


def template_panel(page, app, sandbox_url, session_id, width, shots) -> str:
    """ ".../templates/ with a Messaging session as the record": the demo customer, the conversation's
    WhatsApp sender chosen, the 24-hour badge, a template sent and accepted."""
    frame, raw = launcher(
        page,
        sandbox_url,
        f"{app}/console/canvas/templates/",
        user="ada@acme.demo",
        record=session_id,
        width=width,
    )
    expect(frame.locator("h1")).to_have_text("Send a WhatsApp template")
    expect(frame.locator("#customer")).to_have_value(DEMO_CUSTOMER)
    sender = frame.locator("#sender option:checked")
    expect(sender).to_have_text("Acme WhatsApp · +447860099299 (this conversation)")
    badge = frame.locator("#window-state")
    expect(badge).to_contain_text("Free text allowed until")  # the customer wrote minutes ago
    check(raw(), page, "templates-open", width, shots)

    # The badge follows both fields: another recipient, no recipient, no sender, and back.
    frame.locator("#customer").fill("+447400999888")
    expect(badge).to_contain_text("24-hour window closed")
    frame.locator("#customer").fill("")
    expect(badge).to_contain_text("Enter the recipient's number")
    frame.locator("#sender").select_option("")
    expect(badge).to_contain_text("Choose a sender")
    frame.locator("#customer").fill(DEMO_CUSTOMER)
    frame.locator("#sender").select_option(index=1)
    expect(badge).to_contain_text("Free text allowed until")
    assert badge.evaluate("e => e.getBoundingClientRect().right") <= width  # the badge fits the panel

    frame.locator(".sb-tpl__item[data-template=appointment_reminder]").click()
    expect(frame.locator("#chosen-template")).to_contain_text("appointment_reminder")
    picker = frame.locator("select.sb-picker[data-target=f-body_1]")
    expect(picker).to_be_visible()  # SLDS markup: the select in its container, with the arrow
    assert picker.evaluate("e => e.parentElement.classList.contains('slds-select_container')")
    picker.select_option(index=2)  # a Salesforce value of this session
    expect(frame.locator("#f-body_1")).not_to_have_value("")
    frame.locator("#f-body_2").fill("12 May")
    frame.locator("#f-body_3").fill("10:30")
    check(raw(), page, "templates-filled", width, shots)
    frame.locator("#send-template").click()
    done = frame.locator("#send-done")
    expect(done).to_contain_text(f"Sent to {DEMO_CUSTOMER}")
    expect(done).to_have_class(has_class("slds-theme_success"))
    status = frame.locator(".sb-history__item .sb-status").first
    expect(status).to_have_attribute("data-status", "read", timeout=30_000)
    check(raw(), page, "templates-sent", width, shots)
    return "appointment_reminder"


def history_panel(page, app, sandbox_url, session_id, width, shots, sent_template: str) -> None:
    """ "or .../history/": no bot handed this conversation over, so the relay timeline comes first."""
    frame, raw = launcher(
        page,
        sandbox_url,
        f"{app}/console/canvas/history/",
        user="ada@acme.demo",
        record=session_id,
        width=width,
    )
    expect(frame.get_by_role("heading", name="Conversation history")).to_be_visible()
    tabs = frame.get_by_role("tab")
    expect(tabs).to_have_text(["Relay timeline", "Bot transcript"])
    expect(frame.locator("#tab-timeline")).to_have_attribute("aria-selected", "true")
    expect(frame.locator(".sb-row", has_text="my parcel has not arrived")).to_contain_text("customer → agent")
    expect(frame.locator(".sb-row", has_text="Let me check that for you.")).to_contain_text(
        "agent → customer"
    )
    check(raw(), page, "history-timeline", width, shots)
    frame.locator("#tab-transcript").click()
    expect(frame.locator("#no-transcript")).to_contain_text("No bot handed this conversation over")
    check(raw(), page, "history-transcript", width, shots)
    assert Message.objects.filter(kind="template", content__template__name=sent_template).exists()


def admin_pages(page, app, shots) -> None:
    """ "or sign in to the admin as acme-admin and open /console/wizard/": the audit trail is read-only."""
    page.goto(f"{app}/admin/login/")
    page.fill("#id_username", "acme-admin")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.locator("#content-main")).to_contain_text("Conversations")
    expect(page.locator("#content-main")).not_to_contain_text("Listener cursors")  # internal: superusers
    assert page.goto(f"{app}/admin/relay/listenercursor/").status == 403

    page.goto(f"{app}/admin/relay/message/")
    first = Message.objects.filter(direction="in").order_by("id").first()
    expect(page.locator("#result_list")).to_contain_text(
        f"Customer → agent · text · #1 · {DEMO_CUSTOMER} (Acme WhatsApp)"
    )
    expect(page.locator("#result_list")).to_contain_text("Agent → customer · text · #")
    actions = page.locator("select[name=action] option")
    assert "delete_selected" not in actions.evaluate_all("os => os.map(o => o.value)")
    page.goto(f"{app}/admin/relay/message/{first.pk}/change/")
    expect(page.locator(".submit-row")).to_contain_text("Close")
    expect(page.locator("input[name=_save], .deletelink")).to_have_count(0)
    assert page.goto(f"{app}/admin/relay/message/{first.pk}/delete/").status == 403

    page.goto(f"{app}/admin/relay/conversation/{first.conversation_id}/change/")
    expect(page.locator(".submit-row")).to_contain_text("Close")
    expect(page.locator("input[name=_save], .deletelink")).to_have_count(0)
    assert page.goto(f"{app}/admin/relay/conversation/{first.conversation_id}/delete/").status == 403
    page.screenshot(path=str(shots / "admin-conversation.png"), full_page=True)

    page.goto(f"{app}/console/wizard/")
    expect(page.locator("h1")).to_have_text("Switchboard setup")
