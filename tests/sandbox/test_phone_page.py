"""The phone page in headless Chromium: the customer writes, receives templates, taps buttons."""

import pytest

from .infobip_support import (
    AUTH,
    CUSTOMER,
    WA,
    create_account,
    results_of,
    sink_posts,
    wait_for,
    wait_results,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(sim, sandbox, page):
    create_account(sim, sandbox)
    page.goto(f"{sandbox.base_url}/__sim/phone?account=acme&sender={WA}&customer={CUSTOMER}")
    return page


def test_customer_message_fires_the_mo_webhook(phone, sim):
    assert "window closed" in phone.get_by_test_id("window-state").inner_text()
    phone.get_by_test_id("compose").fill("Hello from the phone")
    phone.get_by_test_id("send").click()
    bubble = phone.get_by_test_id("sent-by-customer")
    bubble.wait_for()
    assert "Hello from the phone" in bubble.inner_text()
    assert phone.get_by_test_id("compose").input_value() == ""
    assert "window open" in phone.get_by_test_id("window-state").inner_text()
    result = wait_results(sim, lambda r: r.get("message", {}).get("text") == "Hello from the phone")[0]
    assert result["from"] == CUSTOMER and result["to"] == WA
    log = sim.get("/__sim/infobip/webhooks", params={"account": "acme", "kind": "MO"}).json()
    assert log[0]["state"] == "delivered"


def test_template_is_rendered_and_quick_reply_fires_a_button_mo(phone, sim):
    template = {
        "from": WA,
        "to": CUSTOMER,
        "content": {
            "templateName": "order_shipped",
            "language": "en",
            "templateData": {
                "header": {"type": "TEXT", "placeholder": "10234"},
                "body": {"placeholders": ["Maria", "10234", "Friday"]},
                "buttons": [
                    {"type": "URL", "parameter": "10234"},
                    {"type": "QUICK_REPLY", "parameter": "HANDOVER-10234"},
                ],
            },
        },
    }
    sent = sim.post("/sim/infobip/whatsapp/1/message/template", json={"messages": [template]}, headers=AUTH)
    message_id = sent.json()["messages"][0]["messageId"]
    received = phone.locator(f"[data-testid=received][data-message-id='{message_id}']")
    received.wait_for()  # arrives by htmx polling
    assert received.get_by_test_id("template-header").inner_text() == "Order 10234 is on its way"
    assert "Hi Maria, your order 10234 has shipped" in received.get_by_test_id("body").inner_text()
    assert received.get_by_test_id("template-footer").inner_text() == "Acme Store"
    assert received.get_by_test_id("url-button").get_attribute("href") == "https://track.example.com/10234"
    phone.wait_for_function("document.querySelector('[title=seen]') !== null")  # DLR and SEEN ticks
    received.get_by_test_id("quick-reply").click()
    phone.get_by_test_id("sent-by-customer").wait_for()
    assert "Talk to an agent" in phone.get_by_test_id("sent-by-customer").inner_text()
    button = wait_results(sim, lambda r: r.get("message", {}).get("type") == "BUTTON")[0]
    assert (
        button["message"]["payload"] == "HANDOVER-10234" and button["message"]["context"]["id"] == message_id
    )


def test_free_form_media_and_list_messages_are_shown(phone, sim):
    sim.post(
        "/__sim/infobip/window", json={"account": "acme", "sender": WA, "customer": CUSTOMER, "hours_ago": 1}
    )
    image = {
        "from": WA,
        "to": CUSTOMER,
        "content": {"mediaUrl": "https://cdn.example.com/a.png", "caption": "Your receipt"},
    }
    sim.post("/sim/infobip/whatsapp/1/message/image", json=image, headers=AUTH)
    listing = {
        "from": WA,
        "to": CUSTOMER,
        "content": {
            "body": {"text": "What do you need?"},
            "action": {
                "title": "Topics",
                "sections": [{"title": "Help", "rows": [{"id": "billing", "title": "Billing"}]}],
            },
        },
    }
    sim.post("/sim/infobip/whatsapp/1/message/interactive/list", json=listing, headers=AUTH)
    phone.get_by_test_id("list-row").wait_for()
    assert phone.get_by_test_id("media").get_attribute("src") == "https://cdn.example.com/a.png"
    assert "Your receipt" in phone.locator("[data-kind=IMAGE]").inner_text()
    phone.get_by_test_id("list-row").click()
    result = wait_results(sim, lambda r: r.get("message", {}).get("type") == "INTERACTIVE_LIST_REPLY")[0]
    assert result["message"]["id"] == "billing" and result["message"]["title"] == "Billing"


def test_window_closed_free_form_shows_the_failure(phone, sim):
    sim.post(
        "/sim/infobip/whatsapp/1/message/text",
        json={"from": WA, "to": CUSTOMER, "content": {"text": "Too late"}},
        headers=AUTH,
    )
    failure = phone.get_by_test_id("failure")
    failure.wait_for()
    assert "24-hour" in failure.inner_text()


def test_switching_customer_shows_another_thread(phone, sim, sandbox):
    phone.get_by_test_id("compose").fill("first customer")
    phone.get_by_test_id("send").click()
    phone.get_by_test_id("sent-by-customer").wait_for()
    phone.get_by_test_id("customer").fill("447700900456")
    phone.get_by_test_id("open").click()
    phone.get_by_test_id("empty").wait_for()
    phone.get_by_test_id("compose").fill("second customer")
    phone.get_by_test_id("send").click()
    phone.get_by_test_id("sent-by-customer").wait_for()
    posts = wait_for(lambda: sink_posts(sim), lambda p: len(results_of(p)) == 2)
    assert [r["from"] for r in results_of(posts)] == [CUSTOMER, "447700900456"]
