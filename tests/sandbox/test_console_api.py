"""The agent console's JSON API: agent actions and the platform events Salesforce would publish."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from .scrt_support import (
    CCD,
    CUSTOMER,
    EVENT,
    PNG,
    WHATSAPP,
    Salesforce,
    assert_valid_event,
    entry_interaction,
)


@pytest.fixture
def sf(sandbox, sim) -> Salesforce:
    return Salesforce(sandbox, sim)


def waiting_session(sf) -> str:
    return sf.send_text("I need help")["workItemIds"][0]


def accepted_session(sf, sim) -> str:
    session_id = waiting_session(sf)
    assert sim.post(sf.api(f"/sessions/{session_id}/accept"), json={"agent": sf.ada}).status_code == 200
    return session_id


def register_capabilities(sf, *message_types) -> None:
    body = {
        "capabilities": {
            "appType": "custom",
            "channelCapabilities": [{"messageTypeCapabilities": list(message_types)}],
        }
    }
    assert sf.post_json("/capabilities", body, method="PATCH").json() == {"success": True}


# --- presence ---------------------------------------------------------------------------------------


def test_presence_sets_user_is_online(sf, sim):
    response = sim.put(sf.api(f"/agents/{sf.grace}/presence"), json={"online": True})
    assert response.status_code == 200 and response.json()["online"] is True
    assert sf.org.records.get("User", sf.grace)["IsOnline"] is True
    sim.put(sf.api(f"/agents/{sf.grace}/presence"), json={"online": False})
    assert [a["online"] for a in sim.get(sf.api("/agents")).json()] == [True, False]


def test_presence_errors(sf, sim):
    assert sim.put(sf.api(f"/agents/{sf.grace}/presence"), json={"online": "yes"}).status_code == 400
    assert sim.put(sf.api(f"/agents/{sf.integration}/presence"), json={"online": True}).status_code == 403
    assert sim.put(sf.api("/agents/0058d0000009999/presence"), json={"online": True}).status_code == 404
    assert (
        sim.put(
            "/__sim/console/api/orgs/00D000000000001/agents/x/presence", json={"online": True}
        ).status_code
        == 404
    )


# --- accept -----------------------------------------------------------------------------------------------


def test_accept_activates_the_session_and_publishes_participant_and_status(sf, sim):
    session_id = waiting_session(sf)
    response = sim.post(sf.api(f"/sessions/{session_id}/accept"), json={"agent": sf.ada})
    assert response.status_code == 200
    session = response.json()
    assert session["status"] == "Active" and session["agentId"] == sf.ada
    assert session["record"]["AcceptTime"] and session["record"]["OwnerId"] == sf.ada

    [joined] = sf.wait_published("ParticipantChanged")
    assert_valid_event(joined)
    assert joined["payload"]["entryPayload"]["entries"] == [
        {"operation": "add", "participant": {"appType": "agent", "subject": sf.ada[:15], "role": "Agent"},
         "displayName": "Ada Agent"}
    ]  # fmt: skip
    [active] = sf.wait_published("SessionStatusChanged")
    assert_valid_event(active)
    status = active["payload"]["entryPayload"]
    assert status["sessionStatus"] == "Active" and status["sessionStatusPrev"] == "Waiting"
    assert status["sessionId"] == session["id"] and status["channelAddressIdentifier"] == WHATSAPP
    assert isinstance(status["sessionStartTime"], int) and status["sessionStartTime"] > 10**12  # epoch ms
    assert sim.post(sf.api(f"/sessions/{session_id}/accept"), json={"agent": sf.ada}).status_code == 409


def test_offline_agent_cannot_accept(sf, sim):
    session_id = waiting_session(sf)
    response = sim.post(sf.api(f"/sessions/{session_id}/accept"), json={"agent": sf.grace})
    assert response.status_code == 409 and "offline" in response.json()["error"]
    assert sim.get(sf.api(f"/sessions/{session_id}")).json()["status"] == "Waiting"
    assert sf.published() == []


def test_unknown_session_is_404(sf, sim):
    assert sim.post(sf.api("/sessions/0Mw8d0000009999/accept"), json={"agent": sf.ada}).status_code == 404
    assert sim.get(sf.api("/sessions/nope/entries")).status_code == 404


# --- replies ------------------------------------------------------------------------------------------------


def test_text_reply_is_published_as_an_interaction_event(sf, sim):
    session_id = accepted_session(sf, sim)
    response = sim.post(
        sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "text": "Hi, how can I help?"}
    )
    assert response.status_code == 201
    [event] = sf.wait_published("Message")
    assert_valid_event(event)
    conversation = sim.get(sf.api(f"/sessions/{session_id}")).json()["conversationIdentifier"]
    assert event["conversationIdentifier"] == conversation and event["channelAddressIdentifier"] == WHATSAPP
    assert event["recipient"] == {"appType": "custom", "subject": CUSTOMER, "role": "EndUser"}
    payload = event["payload"]
    assert payload["identifier"] == response.json()["identifier"]
    assert payload["sender"] == {"appType": "agent", "subject": sf.ada[:15], "role": "Agent"}
    assert payload["senderDisplayName"] == "Ada Agent"
    assert payload["entryPayload"]["abstractMessage"]["staticContent"] == {
        "formatType": "Text",
        "text": "Hi, how can I help?",
    }
    assert payload["entryPayload"]["abstractMessage"]["id"] == payload["identifier"]
    assert payload["transcriptedTimestamp"] > 10**12 and payload["clientDuration"] == 0
    [record] = [
        r for r in sf.sandbox.call(sf.world.pubsub.events, sf.org_id, EVENT) if "Message" in r["Payload__c"]
    ]
    assert record["EventType__c"] == "Interaction" and record["CreatedById"] == sf.ada
    events = sim.get(sf.api(f"/sessions/{session_id}/events")).json()
    assert [e["entryType"] for e in events] == ["ParticipantChanged", "SessionStatusChanged", "Message"]


def test_reply_rules(sf, sim):
    waiting = waiting_session(sf)
    assert (
        sim.post(sf.api(f"/sessions/{waiting}/reply"), json={"agent": sf.ada, "text": "x"}).status_code == 409
    )
    session_id = waiting
    sim.post(sf.api(f"/sessions/{session_id}/accept"), json={"agent": sf.ada})
    sim.put(sf.api(f"/agents/{sf.grace}/presence"), json={"online": True})
    assert (
        sim.post(sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.grace, "text": "x"}).status_code
        == 409
    )
    assert (
        sim.post(sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "text": " "}).status_code
        == 400
    )
    assert sim.post(sf.api(f"/sessions/{session_id}/reply"), content=b"{nope").status_code == 400
    assert sf.wait_published("Message", timeout=0) == []


def test_file_reply_carries_a_download_url(sf, sim):
    session_id = accepted_session(sf, sim)
    attachment = {
        "name": "invoice.png",
        "mimeType": "image/png",
        "contentBase64": base64.b64encode(PNG).decode(),
    }
    response = sim.post(
        sf.api(f"/sessions/{session_id}/reply"),
        json={"agent": sf.ada, "attachment": attachment, "text": "Your invoice"},
    )
    assert response.status_code == 201, response.text
    [event] = sf.wait_published("Message")
    assert_valid_event(event)
    static = event["payload"]["entryPayload"]["abstractMessage"]["staticContent"]
    assert static["formatType"] == "Attachments" and static["text"] == "Your invoice"
    [sent] = static["attachments"]
    assert (
        sent["name"] == "invoice.png" and sent["mimeType"] == "image/png" and "attachmentUploadResult" in sent
    )
    assert "/sfc/dist/version/download/?oid=" in sent["url"] and "&ids=068" in sent["url"]
    download = sim.get(sent["url"])
    assert download.status_code == 200 and download.content == PNG


def test_choices_need_registered_capabilities(sf, sim):
    session_id = accepted_session(sf, sim)
    choices = {"formatType": "Buttons", "text": "Did that help?", "options": ["Yes", "No"]}
    response = sim.post(sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "choices": choices})
    assert response.status_code == 409 and "ChoicesMessage/Buttons" in response.json()["error"]
    register_capabilities(
        sf, {"messageType": "ChoicesMessage", "formatTypeCapabilities": [{"formatType": "Buttons"}]}
    )
    assert (
        sim.post(
            sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "choices": choices}
        ).status_code
        == 201
    )
    quick = {**choices, "formatType": "QuickReplies"}
    assert (
        sim.post(
            sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "choices": quick}
        ).status_code
        == 409
    )
    [event] = sf.wait_published("Message")
    assert_valid_event(event)
    message = event["payload"]["entryPayload"]["abstractMessage"]
    assert message["messageType"] == "ChoicesMessage" and message["choices"]["formatType"] == "Buttons"
    assert [o["titleItem"]["title"] for o in message["choices"]["optionItems"]] == ["Yes", "No"]


def test_registered_mime_types_limit_agent_files(sf, sim):
    register_capabilities(sf, {"messageType": "StaticContentMessage", "formatTypeCapabilities": [
        {"formatType": "Text"},
        {"formatType": "Attachments", "capabilityFieldRestriction": [{
            "fieldJsonPath": "$.staticContent.attachments.mimeType",
            "restriction": {"fieldRestrictionType": "MimeTypeRestriction", "mimeType": "image/png"}}]}]})  # fmt: skip
    session_id = accepted_session(sf, sim)
    pdf = {
        "name": "a.pdf",
        "mimeType": "application/pdf",
        "contentBase64": base64.b64encode(b"%PDF").decode(),
    }
    assert (
        sim.post(
            sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "attachment": pdf}
        ).status_code
        == 409
    )
    png = {"name": "a.png", "mimeType": "image/png", "contentBase64": base64.b64encode(PNG).decode()}
    assert (
        sim.post(
            sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "attachment": png}
        ).status_code
        == 201
    )


# --- typing and end ---------------------------------------------------------------------------------------


def test_agent_typing_indicators(sf, sim):
    session_id = accepted_session(sf, sim)
    for typing in (True, False):
        assert (
            sim.post(
                sf.api(f"/sessions/{session_id}/typing"), json={"agent": sf.ada, "typing": typing}
            ).status_code
            == 201
        )
    [started] = sf.wait_published("TypingStartedIndicator")
    [stopped] = sf.wait_published("TypingStoppedIndicator")
    for event in (started, stopped):
        assert_valid_event(event)
        assert event["payload"]["entryPayload"]["timestamp"] > 10**12


def test_typing_is_refused_when_the_channel_definition_disables_it(sandbox, sim):
    sf = Salesforce(sandbox, sim, typing_disabled=True)
    session_id = accepted_session(sf, sim)
    response = sim.post(sf.api(f"/sessions/{session_id}/typing"), json={"agent": sf.ada, "typing": True})
    assert response.status_code == 409 and CCD in response.json()["error"]
    assert sf.wait_published("TypingStartedIndicator", timeout=0) == []


def test_agent_ends_the_session(sf, sim):
    session_id = accepted_session(sf, sim)
    response = sim.post(sf.api(f"/sessions/{session_id}/end"), json={"agent": sf.ada})
    assert response.status_code == 200
    assert response.json()["status"] == "Ended" and response.json()["endedByType"] == "Agent"
    [_, ended] = sf.wait_published("SessionStatusChanged", 2)
    assert_valid_event(ended)
    payload = ended["payload"]["entryPayload"]
    assert payload["sessionStatus"] == "Ended" and payload["sessionEndedByRole"] == "Agent"
    assert payload["sessionEndTime"] >= payload["sessionStartTime"]
    [_, left] = sf.wait_published("ParticipantChanged", 2)
    assert_valid_event(left)
    assert left["payload"]["entryPayload"]["entries"][0]["operation"] == "remove"
    assert sim.post(sf.api(f"/sessions/{session_id}/end"), json={"agent": sf.ada}).status_code == 409


# --- what Salesforce received ---------------------------------------------------------------------------


def test_delivery_failure_is_attached_to_the_agent_message(sf, sim):
    session_id = accepted_session(sf, sim)
    reply = sim.post(sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "text": "Hello?"}).json()
    failure = {
        "id": str(uuid.uuid4()),
        "entryType": "MessageDeliveryFailed",
        "failedConversationEntryIdentifier": reply["identifier"],
        "recipient": {"appType": "custom", "subject": CUSTOMER, "role": "EndUser"},
        "errorCode": "131047",
        "errorMessage": "Re-engagement message: more than 24 hours passed",
    }
    assert sf.post_interaction(entry_interaction(failure)).status_code == 202
    [row] = sim.get(sf.api("/delivery-failures")).json()
    assert row["failedEntryIdentifier"] == reply["identifier"] and row["errorCode"] == "131047"
    entries = sim.get(sf.api(f"/sessions/{session_id}/entries")).json()
    [message] = [e for e in entries if e["identifier"] == reply["identifier"]]
    assert message["deliveryFailures"][0]["errorMessage"].startswith("Re-engagement")


def test_conversations_and_events_are_listed(sf, sim):
    session_id = accepted_session(sf, sim)
    [conversation] = sim.get(sf.api("/conversations")).json()
    assert conversation["endUserClientId"] == CUSTOMER and conversation["sessionIds"] == [
        sf.org.records.get("MessagingSession", session_id)["Id"]
    ]
    detail = sim.get(sf.api(f"/conversations/{conversation['conversationIdentifier']}")).json()
    assert [e["entryType"] for e in detail["entries"]] == [
        "Message",
        "ParticipantChanged",
        "SessionStatusChanged",
    ]
    events = sim.get(sf.api("/events")).json()
    assert [json.loads(e["fields"]["Payload__c"]) for e in events] == [e["event"] for e in events]
    assert sim.get(sf.api("/conversations/nope")).status_code == 404


def test_console_page_renders(sf, sim):
    assert "Pick the agent you act as" in sim.get(f"/__sim/console?org={sf.org_id}").text
    session_id = accepted_session(sf, sim)
    page = sim.get(f"/__sim/console?org={sf.org_id}&agent={sf.ada}&session={session_id}")
    assert page.status_code == 200 and "I need help" in page.text and "MS-0000001" in page.text
