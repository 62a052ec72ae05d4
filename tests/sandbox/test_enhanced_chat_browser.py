"""An agent takes an Enhanced Chat conversation in the sandbox console (headless Chromium), and the
customer's event stream receives what the agent does."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .test_enhanced_chat_api import Chat
from .test_enhanced_chat_stream import Events


@pytest.mark.browser
def test_agent_accepts_answers_and_ends_an_enhanced_chat_conversation(sandbox, sim, page):
    chat = Chat(sandbox, sim)
    token = chat.token()["accessToken"]
    events = Events(sim, token)
    try:
        conversation_id = chat.create(token, {"Phone": "+447700900123", "Queue": "Sales"})
        assert chat.send(token, conversation_id, "Is my parcel lost?").status_code == 202

        page.goto(f"{sandbox.base_url}/__sim/console?org={chat.org.org_id}&agent={chat.ada}")
        waiting = page.get_by_test_id("waiting-list")
        expect(waiting).to_contain_text("Switchboard_Chat_Channel")
        expect(waiting).to_contain_text("queue: Sales")
        waiting.get_by_test_id("accept").click()

        expect(page.get_by_test_id("session-status")).to_have_text("Active")
        expect(page.get_by_test_id("transcript")).to_contain_text("Is my parcel lost?")
        expect(page.get_by_test_id("routing-attributes")).to_contain_text("Phone = +447700900123")

        page.locator("#reply-text").fill("Found it, it ships today.")
        page.get_by_test_id("send").click()
        expect(page.get_by_test_id("transcript")).to_contain_text("Found it, it ships today.")

        page.get_by_text("Quick replies / buttons").click()
        page.get_by_test_id("choices-text").fill("Anything else?")
        page.get_by_test_id("choices-options").fill("Yes\nNo")
        page.get_by_test_id("send-choices").click()
        expect(page.get_by_test_id("transcript")).to_contain_text("Anything else?")

        page.get_by_test_id("end-session").click()
        expect(page.get_by_test_id("session-status")).to_have_text("Ended")

        received = []  # the agent's End reaches the stream as the session Ended (never a CLOSE_CONVERSATION)
        while not received or not _session_ended(received[-1]):
            event = events.next()
            assert event is not None, received
            received.append(event)
    finally:
        events.close()
    from_agent = [
        json.loads(e["data"]["conversationEntry"]["entryPayload"])["abstractMessage"]
        for e in received
        if e["event"] == "CONVERSATION_MESSAGE"
        and e["data"]["conversationEntry"]["sender"]["role"] == "Agent"
    ]
    assert from_agent[0]["staticContent"]["text"] == "Found it, it ships today."
    assert from_agent[1]["choices"]["text"] == "Anything else?"
    kinds = [e["event"] for e in received]
    assert kinds.index("CONVERSATION_READ_ACKNOWLEDGEMENT") < len(kinds) - 1
    assert "CONVERSATION_CLOSE_CONVERSATION" not in kinds


def _session_ended(event: dict) -> bool:
    if event["event"] != "CONVERSATION_SESSION_STATUS_CHANGED":
        return False
    return json.loads(event["data"]["conversationEntry"]["entryPayload"])["sessionStatus"] == "Ended"
