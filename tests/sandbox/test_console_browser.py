"""The agent console clicked through in headless Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .scrt_support import CUSTOMER, PNG, Salesforce, entry_interaction


@pytest.mark.browser
def test_agent_goes_online_accepts_replies_and_ends(sandbox, sim, page, tmp_path):
    sf = Salesforce(sandbox, sim)
    sim.put(sf.api(f"/agents/{sf.ada}/presence"), json={"online": False})
    page.goto(f"{sandbox.base_url}/__sim/console?org={sf.org_id}&agent={sf.ada}")
    expect(page.get_by_test_id("presence-status")).to_have_text("Offline")
    page.get_by_test_id("go-online").click()
    expect(page.get_by_test_id("presence-status")).to_have_text("Online")
    assert sf.org.records.get("User", sf.ada)["IsOnline"] is True

    sf.send_text("Where is my order?", routing={"queue": "Sales"})  # a real /interactions call
    waiting = page.get_by_test_id("waiting-list")
    expect(waiting).to_contain_text(CUSTOMER)  # appears through htmx polling
    expect(waiting).to_contain_text("queue: Sales")
    waiting.get_by_test_id("accept").click()

    expect(page.get_by_test_id("session-status")).to_have_text("Active")
    expect(page.get_by_test_id("transcript")).to_contain_text("Where is my order?")
    expect(page.get_by_test_id("routing-attributes")).to_contain_text("queue = Sales")
    assert [e["payload"]["entryType"] for e in sf.published()] == [
        "ParticipantChanged",
        "SessionStatusChanged",
    ]

    page.locator("#reply-text").fill("It ships today.")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("transcript")).to_contain_text("It ships today.")
    expect(page.get_by_test_id("events")).to_contain_text("Message")
    [message] = sf.wait_published("Message")
    assert message["payload"]["entryPayload"]["abstractMessage"]["staticContent"]["text"] == "It ships today."

    receipt = tmp_path / "label.png"
    receipt.write_bytes(PNG)
    page.get_by_test_id("reply-file").set_input_files(str(receipt))
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("attachment")).to_contain_text("label.png")
    assert len(sf.wait_published("Message", 2)) == 2

    page.get_by_test_id("end-session").click()
    expect(page.get_by_test_id("session-status")).to_have_text("Ended")
    expect(page.get_by_test_id("transcript")).to_contain_text(re.compile("Session Ended .ended by Agent"))
    ended = sf.wait_published("SessionStatusChanged", 2)[-1]["payload"]["entryPayload"]
    assert ended["sessionStatus"] == "Ended" and ended["sessionEndedByRole"] == "Agent"


@pytest.mark.browser
def test_delivery_failures_and_receipts_show_on_agent_messages(sandbox, sim, page):
    sf = Salesforce(sandbox, sim)
    session_id = sf.send_text("hi")["workItemIds"][0]
    sim.post(sf.api(f"/sessions/{session_id}/accept"), json={"agent": sf.ada})
    sent = [
        sim.post(sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "text": t}).json()
        for t in ("one", "two")
    ]
    conversation = sim.get(sf.api(f"/sessions/{session_id}")).json()["conversationIdentifier"]
    ack = {"sender": {"appType": "custom", "subject": CUSTOMER, "role": "EndUser"}, "conversationIdentifier": conversation,
           "acknowledgements": [{"acknowledgementTimestamp": 1_800_000_000_000, "acknowledgementType": "Read",
                                 "acknowledgedConversationEntryIdentifier": sent[0]["identifier"],
                                 "acknowledgmentCreatedConversationEntryIdentifier": "ack-1"}]}  # fmt: skip
    assert sf.post_json("/acknowledgement", ack).status_code == 200
    failure = {"id": "f6d1c1b2-0000-4000-8000-000000000001", "entryType": "MessageDeliveryFailed",
               "failedConversationEntryIdentifier": sent[1]["identifier"], "errorCode": "131047",
               "errorMessage": "outside the 24 hour window",
               "recipient": {"appType": "custom", "subject": CUSTOMER, "role": "EndUser"}}  # fmt: skip
    assert sf.post_interaction(entry_interaction(failure)).status_code == 202

    page.goto(f"{sandbox.base_url}/__sim/console?org={sf.org_id}&agent={sf.ada}&session={session_id}")
    first = page.locator(f"[data-entry='{sent[0]['identifier']}']")
    second = page.locator(f"[data-entry='{sent[1]['identifier']}']")
    expect(first.get_by_test_id("receipts")).to_contain_text("Read")
    expect(second.get_by_test_id("delivery-failure")).to_contain_text("131047 · outside the 24 hour window")
    color = second.get_by_test_id("delivery-failure").evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(186, 5, 23)"  # shown in red
