"""The Legacy Chat agent page, clicked through in headless Chromium."""

from __future__ import annotations

import pytest

from .livechat_support import ORG_ID, Visitor, create_chat_org

pytestmark = pytest.mark.browser


def test_agent_accepts_replies_and_ends_a_chat_from_the_page(sandbox, sim, page):
    ids = create_chat_org(sim)
    visitor = Visitor(sim, ids)
    visitor.init()
    assert visitor.types() == ["ChatRequestSuccess"]
    visitor.post("Chasitor/ChatMessage", {"text": "Hello, my parcel is late"})

    page.goto(f"{sandbox.base_url}/__sim/livechat/console?org={ORG_ID}&agent={ids['agents']['ada']}")
    assert page.get_by_test_id("chat-flag").inner_text() == "Legacy Chat enabled"
    row = page.get_by_test_id("chat-row")
    assert "Waiting" in row.inner_text()
    row.get_by_role("link", name="Jane Doe").click()

    detail = page.get_by_test_id("chat-detail")
    assert "+447000000001" in page.get_by_test_id("prechat").inner_text()
    assert "Hello, my parcel is late" in page.get_by_test_id("transcript").inner_text()
    detail.get_by_role("button", name="Accept").click()
    page.get_by_test_id("chat-status").filter(has_text="InProgress").wait_for()
    [established] = visitor.messages()
    assert (established["type"], established["message"]["name"]) == ("ChatEstablished", "Ada Agent")

    page.get_by_label("Reply to Jane Doe").fill("Sorry about that, let me check.")
    page.get_by_role("button", name="Send").click()
    page.get_by_test_id("transcript").filter(has_text="Sorry about that").wait_for()
    [reply] = visitor.messages()
    assert reply["message"]["text"] == "Sorry about that, let me check."

    visitor.post("Chasitor/ChatMessage", {"text": "Thanks!"})
    page.get_by_test_id("transcript").filter(has_text="Thanks!").wait_for()  # the panel refreshes itself

    page.get_by_test_id("chat-detail").get_by_role("button", name="End chat").click()
    page.get_by_test_id("chat-status").filter(has_text="Completed").wait_for()
    assert visitor.messages() == [
        {"type": "ChatEnded", "message": {"reason": "agent", "attachedRecords": []}}
    ]


def test_agent_goes_offline_from_the_page_and_buttons_follow(sandbox, sim, page):
    ids = create_chat_org(sim)
    page.goto(f"{sandbox.base_url}/__sim/livechat/console?org={ORG_ID}")
    page.get_by_test_id("agent-ada").get_by_role("button", name="Go offline").click()
    page.get_by_test_id("agent-ada").get_by_role("button", name="Go online").wait_for()
    state = sim.get(f"/__sim/livechat/orgs/{ORG_ID}").json()
    ada = next(a for a in state["agents"] if a["id"] == ids["agents"]["ada"])
    assert ada["isOnline"] is False
    ada_direct = next(b for b in state["buttons"] if b["developerName"] == "Ada_Direct")
    assert ada_direct["isAvailable"] is False


def test_refused_action_shows_a_notice(sandbox, sim, page):
    ids = create_chat_org(sim)
    visitor = Visitor(sim, ids)
    visitor.init(buttonId=ids["buttons"]["Ada_Direct"])
    chat_id = visitor.chat()["id"]
    page.goto(
        f"{sandbox.base_url}/__sim/livechat/console?org={ORG_ID}&agent={ids['agents']['linus']}&chat={chat_id}"
    )
    page.get_by_test_id("chat-detail").get_by_role("button", name="Accept").click()
    assert "does not serve" in page.get_by_test_id("notice").inner_text()
    assert visitor.chat()["status"] == "Waiting"
