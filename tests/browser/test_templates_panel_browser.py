"""An agent sends a WhatsApp template from the panel on a Messaging Session, opened through the sandbox's
Canvas launcher in headless Chromium at console panel width, with a real Celery worker behind it."""

from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from relay.models import Message
from relay.outbound.template_sync import sync_sender
from tenants.models import Sender
from tests.console.templates_panel_support import (
    OTHER_TENANTS_SESSION,
    add_template,
    globex,
    link_contact_and_case,
)
from tests.e2e.conftest import (  # noqa: F401 - fixtures
    CUSTOMER,
    celery_worker_process,
    console_sessions,
    customer_writes,
    phone_received,
    real_worker,
    wait_for,
    wired,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def panel_page(browser):
    context = browser.new_context(viewport={"width": 400, "height": 900})  # a console side panel
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def templates_on_phone(sim) -> list[dict]:
    return [m for m in phone_received(sim) if m["kind"] == "TEMPLATE"]


def test_agent_fills_and_sends_a_template_and_sees_it_delivered(wired, panel_page):  # noqa: F811
    page, sim = panel_page, wired.sim
    customer_writes(sim, "Hello, where is my parcel?")
    session = wait_for(
        lambda: [
            s
            for s in console_sessions(sim, wired.org_id)
            if s.get("endUserClientId", "").lstrip("+") == CUSTOMER
        ],
        what="the customer's Messaging Session",
    )[0]
    link_contact_and_case(wired.tenant, session["id"])
    whatsapp = Sender.objects.get(tenant=wired.tenant, channel="whatsapp")
    sync_sender(whatsapp)  # the cache as the last periodic sync left it...
    add_template(sim)  # ...and a template approved since then
    _, other_sender = globex()

    launch = (
        f"{wired.sandbox.base_url}/__sim/canvas/launch?org={wired.org_id}&user=ada@acme.demo"
        f"&record={session['id']}&url={quote(wired.live_server.url + '/console/canvas/templates/')}"
    )
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(launch)
    expect(page.locator("h1")).to_have_text("Send a WhatsApp template")
    expect(page.locator("#customer")).to_have_value("+" + CUSTOMER)  # from the session's end user
    expect(page.locator("#sender")).to_have_value(str(whatsapp.pk))  # the conversation's own, chosen

    # Sender first; then the list, the window badge, search and refresh.
    page.select_option("#sender", str(whatsapp.pk))
    expect(page.locator("#window-state")).to_contain_text("Free text allowed")
    expect(page.locator(".sb-tpl__item[data-template=order_shipped]")).to_have_count(2)
    expect(page.locator(".sb-tpl__item[data-template=feedback_request]")).to_have_count(0)  # pending
    page.fill("#template-search", "delivery")
    expect(page.locator("#no-templates")).to_contain_text("No approved template matches")
    page.click("#refresh-templates")
    expect(page.locator("#sync-done")).to_contain_text("Refreshed")
    item = page.locator(".sb-tpl__item[data-template=delivery_update]")
    expect(item).to_contain_text("en")
    item.click()
    expect(page.locator("#chosen-template")).to_contain_text("delivery_update")
    expect(page.locator("#f-reply_1")).to_have_value("Call me")
    expect(page.locator("input[readonly]")).to_have_value("Call us → +447860099299")

    def nothing_sent():
        assert not Message.objects.filter(kind="template").exists()
        assert not templates_on_phone(sim)

    # Each invalid input: a message on its field, nothing sent.
    page.click("#send-template")
    expect(page.locator("#send-errors")).to_be_visible()
    expect(page.locator("#error-body_1")).to_contain_text("empty placeholder")
    expect(page.locator("#error-header_media_url")).to_contain_text("https:// link of the image")
    page.fill("#f-header_media_url", "http://cdn.example.com/parcel.jpg")
    page.fill("#f-reply_1", "p" * 129)
    page.fill("#f-body_1", "Frank")
    page.fill("#f-url_1", "10234")
    page.click("#send-template")
    expect(page.locator("#error-header_media_url")).to_contain_text("must start with https://")
    expect(page.locator("#error-reply_1")).to_contain_text("at most 128 characters; this one has 129")
    nothing_sent()

    page.fill("#f-header_media_url", "https://cdn.example.com/parcel.jpg")
    page.fill("#f-reply_1", "call-me")
    Sender.objects.filter(pk=whatsapp.pk).update(enabled=False)  # an admin turns it off meanwhile
    page.click("#send-template")
    expect(page.locator("#sender-error")).to_contain_text("This sender is disabled")
    Sender.objects.filter(pk=whatsapp.pk).update(enabled=True)
    page.evaluate(  # a forged choice: another tenant's sender
        "pk => { const s = document.querySelector('#sender'); s.add(new Option('x', pk)); s.value = pk; }",
        str(other_sender.pk),
    )
    page.click("#send-template")
    expect(page.locator("#sender-error")).to_contain_text("Choose one of this org's WhatsApp senders")
    nothing_sent()
    page.evaluate("pk => { document.querySelector('#sender').value = pk; }", str(whatsapp.pk))

    # A value from the Salesforce picker, and the live preview.
    page.fill("#f-body_1", "")
    expect(page.locator("#wa-preview-body")).to_have_text("Hi {{1}}, your parcel is at the depot.")
    page.select_option("select[data-target=f-body_1]", label="Contact first name: Frank")
    expect(page.locator("#f-body_1")).to_have_value("Frank")
    expect(page.locator("#wa-preview-body")).to_have_text("Hi Frank, your parcel is at the depot.")
    expect(page.locator("#wa-preview-media")).to_contain_text("https://cdn.example.com/parcel.jpg")
    page.fill("#f-url_1", "A-77")
    expect(page.locator("#wa-preview")).to_contain_text("https://track.example.com/A-77")

    page.click("#send-template")
    expect(page.locator("#send-done")).to_contain_text("Sent to +" + CUSTOMER)
    expect(page.locator("#sender-error")).to_be_empty()
    sent = wait_for(lambda: templates_on_phone(sim), what="the template on the phone")[0]["rendered"]
    assert sent["body"] == "Hi Frank, your parcel is at the depot."
    assert sent["header"]["media_url"] == "https://cdn.example.com/parcel.jpg"
    assert [b.get("url") or b.get("payload") for b in sent["buttons"][:2]] == [
        "https://track.example.com/A-77",
        "call-me",
    ]
    status = page.locator(".sb-history__item .sb-status").first
    expect(status).to_have_attribute("data-status", "read", timeout=20_000)  # followed live by polling
    expect(page.locator(".sb-history__item").first).to_contain_text("by Ada Agent")
    assert len(templates_on_phone(sim)) == 1

    # No URL the page shows or loaded holds the session token: it travels in a header.
    token = page.evaluate("() => JSON.parse(document.body.getAttribute('hx-headers'))['X-Console-Token']")
    assert token and token not in page.url and "st=" not in page.url
    assert not any(token in url for url in requested)

    # The page asked for another Messaging Session (another tenant's): 404, with the reason.
    page.evaluate(
        "id => htmx.ajax('GET', '/console/templates/?id=' + id, {target: 'body'})", OTHER_TENANTS_SESSION
    )
    expect(page.locator("#console-error")).to_contain_text("cannot be pointed at another")

    # The token replayed from another origin (a form on the sandbox's site posting it): refused.
    page.goto(f"{wired.sandbox.base_url}/__sim/canvas")
    page.evaluate(
        """([url, token]) => { const f = document.createElement('form'); f.method = 'post'; f.action = url;
        const i = document.createElement('input'); i.name = 'st'; i.value = token; f.append(i);
        document.body.append(f); f.submit(); }""",
        [f"{wired.live_server.url}/console/templates/send/", token],
    )
    expect(page.locator("#console-error")).to_contain_text("came from another site")
