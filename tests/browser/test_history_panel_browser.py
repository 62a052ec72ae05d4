"""The conversation-history panel, opened as Salesforce opens it (the sandbox's Canvas launcher on a
Messaging Session record), at a console panel's width, clicked through and used by keyboard."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import expect

from portal.demo import ensure_demo_tenant, register_certificate_with_sandbox
from relay.handover.models import Handover, HandoverEndpoint
from relay.models import Message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = "+385919998888"


@pytest.fixture
def demo(sandbox, sim, live_server, settings):
    """The demo tenant wired to the sandbox; Celery runs eagerly inside the live server."""
    from django.core.cache import cache

    cache.clear()
    settings.PUBLIC_BASE_URL = live_server.url
    sandbox.call(sandbox.world.load_fixture, json.loads((ROOT / "sandbox/fixtures/demo.json").read_text()))
    org = sandbox.world.orgs.get("00D8d000000AcmE")
    sandbox.call(lambda: setattr(org, "ccaas_enabled", True))
    tenant = ensure_demo_tenant(sandbox.base_url)
    register_certificate_with_sandbox(tenant, sandbox.base_url)
    webhook = f"{live_server.url}/webhooks/infobip/demo-account-key/"
    assert (
        sim.patch("/__sim/infobip/accounts/demo-account-key", json={"webhook_url": webhook}).status_code
        == 200
    )
    return tenant


def launch_url(sandbox, live_server, record: str) -> str:
    query = urlencode(
        {
            "org": "00D8d000000AcmE",
            "user": "ada@acme.demo",
            "url": f"{live_server.url}/console/canvas/history/",
            "record": record,
        }
    )
    return f"{sandbox.base_url}/__sim/canvas/launch?{query}"


def test_the_agent_reads_the_bot_transcript_and_the_relay_timeline(demo, sandbox, sim, live_server, browser):
    endpoint, secret = HandoverEndpoint.issue(demo)
    start = datetime.now(UTC) - timedelta(minutes=30)
    transcript = [
        {
            "speaker": "customer" if i % 2 == 0 else "bot",
            "text": f"{'Customer' if i % 2 == 0 else 'Bot'} says {i:02d}",
            "time": int((start + timedelta(minutes=i)).timestamp() * 1000),
        }
        for i in range(12)
    ]
    response = httpx.post(
        f"{live_server.url}{endpoint.path}",
        json={"customer": CUSTOMER, "customerName": "Frank", "transcript": transcript},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    handover = Handover.objects.get()
    assert handover.status == "delivered" and handover.messaging_session_id

    context = browser.new_context(viewport={"width": 400, "height": 900})  # a console side panel
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(launch_url(sandbox, live_server, handover.messaging_session_id))
        expect(page.get_by_role("heading", name="Conversation history")).to_be_visible()
        expect(page.locator("#conversation-summary")).to_contain_text("Frank")
        expect(page.locator("#handover-status")).to_contain_text("Transcript in Salesforce")
        entries = page.locator(".sb-transcript .sb-entry__text")
        expect(entries).to_have_count(12)
        assert entries.all_inner_texts() == [e["text"] for e in transcript]
        # Fits the panel: nothing wider than the frame.
        assert page.evaluate("document.documentElement.scrollWidth") <= 400

        # By keyboard: to the "Relay timeline" tab, Enter.
        page.locator("#tab-transcript").focus()
        page.keyboard.press("Tab")
        expect(page.locator("#tab-timeline")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#tab-timeline")).to_have_attribute("aria-selected", "true")
        history_row = page.locator(".sb-row", has_text="Bot transcript: 12 messages")
        expect(history_row).to_contain_text("bot transcript → agent")
        expect(page.locator(".sb-row", has_text="welcome text")).to_be_visible()
        expect(history_row.locator(".sb-attempt").first).not_to_be_visible()
        history_row.locator("summary").click()
        attempts = history_row.locator(".sb-attempt")
        expect(attempts).to_have_count(3)  # 12 entries, at most 5 per conversationHistory call
        expect(attempts.first).to_contain_text("conversationHistory → salesforce: Succeeded")

        # The customer writes again; Refresh shows it on the timeline.
        expect(page.locator(".sb-row", has_text="Is anyone there?")).to_have_count(0)
        sim.post(
            "/__sim/infobip/inbound",
            json={
                "account": "demo-account-key",
                "channel": "WHATSAPP",
                "from": CUSTOMER.lstrip("+"),
                "to": "447860099299",
                "text": "Is anyone there?",
            },
        )
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not Message.objects.filter(text="Is anyone there?", status="delivered").exists():
            assert datetime.now(UTC) < deadline, "the customer's message was not delivered"
            page.wait_for_timeout(100)
        page.click("#history-refresh")
        new_row = page.locator(".sb-row", has_text="Is anyone there?")
        expect(new_row).to_contain_text("customer → agent")
        expect(new_row).to_contain_text("Delivered")
        expect(page.locator("#tab-timeline")).to_have_attribute("aria-selected", "true")

        # Back to the transcript tab by mouse.
        page.click("#tab-transcript")
        expect(page.locator(".sb-transcript .sb-entry")).to_have_count(12)
    finally:
        context.close()


def test_without_a_record_or_for_another_tenants_session_the_panel_says_so(demo, sandbox, live_server, page):
    from relay.models import Conversation
    from tests.factories import ORG_B, make_account, make_sender, make_tenant

    globex = make_tenant("Globex", ORG_B)
    Conversation.objects.create(
        tenant=globex,
        sender=make_sender(make_account(globex), "+385919990000"),
        customer="+385919990001",
        messaging_session_id="0Mw8d00000Glbx1",
    )
    page.goto(launch_url(sandbox, live_server, ""))
    expect(page.locator("#history-problem")).to_contain_text("Open this panel on a Messaging Session")
    assert "st=" not in page.url  # the session token is in no URL
    # Another tenant's session, asked for by id with this tenant's console session: 404, not shown.
    page.evaluate("() => htmx.ajax('GET', '/console/history/?id=0Mw8d00000Glbx1', {target: 'body'})")
    expect(page.locator("#console-error")).to_contain_text("not a Messaging Session of this org")
    expect(page.locator("body")).not_to_contain_text("+385919990001")
