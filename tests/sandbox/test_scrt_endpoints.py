"""Contract tests of /conversation, /conversationHistory, /acknowledgement, /messagingSession, /capabilities, /route."""

from __future__ import annotations

import time
import uuid

import pytest

from sandbox.salesforce.scrt import MESSAGES

from .scrt_support import CCD, CUSTOMER, FOREIGN, INACTIVE, WHATSAPP, Salesforce, assert_valid_event

EARLIER = 10 * 60 * 1000  # history happened ten minutes ago


@pytest.fixture
def sf(sandbox, sim) -> Salesforce:
    return Salesforce(sandbox, sim)


@pytest.fixture
def ccaas(sandbox, sim) -> Salesforce:
    return Salesforce(sandbox, sim, ccaas=True)


def assert_error(response, code: int, status: int = 400, **extra) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {**extra, "message": MESSAGES[code], "code": code}


def now_ms() -> int:
    return int(time.time() * 1000)


# --- POST /conversation -----------------------------------------------------------------------------


def conversation_body(**override) -> dict:
    body = {
        "channelAddressIdentifier": WHATSAPP,
        "participants": [{"subject": CUSTOMER, "role": "EndUser", "appType": "custom"}],
        "routingAttributes": {"queue": "Sales"},
    }
    body.update(override)
    return body


def test_establish_conversation_is_idempotent(sf, sim):
    first = sf.post_json("/conversation", conversation_body())
    assert first.status_code == 202
    body = first.json()
    assert body["success"] is True and body["messagingSessionId"].startswith("0Mw")
    assert sf.post_json("/conversation", conversation_body()).json() == body
    assert sf.send_text("hello")["conversationIdentifier"] == body["conversationIdentifier"]
    [session] = sim.get(sf.api("/sessions")).json()
    assert session["routingAttributes"] == {"queue": "Sales"} and session["status"] == "Waiting"


@pytest.mark.parametrize(
    "override, code",
    [
        ({"channelAddressIdentifier": None}, 10052),
        ({"channelAddressIdentifier": "unknown"}, 10052),
        ({"channelAddressIdentifier": INACTIVE}, 10031),
        ({"channelAddressIdentifier": FOREIGN}, 10001),
        ({"participants": []}, 10053),
        ({"participants": [{"subject": CUSTOMER, "role": "Agent", "appType": "custom"}]}, 10053),
        ({"participants": [{"subject": "", "role": "EndUser", "appType": "custom"}]}, 10054),
        ({"routingAttributes": ["queue"]}, 10089),
    ],
)
def test_establish_conversation_errors(sf, override, code):
    assert_error(sf.post_json("/conversation", conversation_body(**override)), code)


def test_establish_conversation_needs_a_body(sf):
    assert_error(sf.post_json("/conversation", b""), 10100)


# --- POST /conversationHistory ------------------------------------------------------------------------


def history_body(count: int = 2, **override) -> dict:
    start = now_ms() - EARLIER
    entries = []
    for i in range(count):
        entry_id = str(uuid.uuid4())
        sender = {"subject": "bot-1", "role": "Chatbot", "appType": "custom"}
        if i % 2 == 0:
            sender = {"subject": CUSTOMER, "role": "EndUser", "appType": "custom"}
        entries.append(
            {
                "clientTimestamp": start + 1000 * (count - i),  # newest first, as the docs ask
                "sender": sender,
                "entryPayload": {
                    "entryType": "Message",
                    "id": entry_id,
                    "abstractMessage": {
                        "messageType": "StaticContentMessage",
                        "id": entry_id,
                        "staticContent": {"formatType": "Text", "text": f"history {count - i}"},
                    },
                },
            }
        )
    body = {
        "channelAddressIdentifier": WHATSAPP,
        "conversationParticipants": [
            {"displayName": "Customer", "participant": {"subject": CUSTOMER, "role": "EndUser", "appType": "custom"},
             "joinedTime": start - 300_000},
            {"displayName": "Bot", "participant": {"subject": "bot-1", "role": "Chatbot", "appType": "custom"},
             "joinedTime": start - 300_000, "leftTime": start + 60_000},
        ],
        "conversationEntries": entries,
        "messagingSession": {"messagingSessionRequestType": "EstablishMessagingSession",
                             "payload": {"startTime": start}},
    }  # fmt: skip
    body.update(override)
    return body


def post_history(sf, body, **headers):
    return sf.post_json(
        "/conversationHistory", body, AuthorizationContextType="ConversationChannelDefinition", **headers
    )


def test_history_is_refused_unless_the_org_is_ccaas(sf):
    assert_error(post_history(sf, history_body()), 10057)


def test_history_is_stored_in_conversation_order(ccaas, sim):
    response = post_history(ccaas, history_body(3))
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    attach = {
        "messagingSessionRequestType": "AttachMessagingSession",
        "payload": {"sessionId": body["messagingSessionId"]},
    }
    later = history_body(2, messagingSession=attach)
    for entry in later["conversationEntries"]:
        entry["clientTimestamp"] -= 100_000  # an older batch, uploaded after the newer one
    assert post_history(ccaas, later).json() == body
    ccaas.send_text("live message")
    entries = sim.get(ccaas.api(f"/conversations/{body['conversationIdentifier']}")).json()["entries"]
    assert [e["text"] for e in entries] == [
        "history 1", "history 2", "history 1", "history 2", "history 3", "live message"
    ]  # fmt: skip
    assert [e["source"] for e in entries].count("history") == 5
    assert entries[0]["senderDisplayName"] == "Bot" and entries[1]["senderDisplayName"] == "Customer"


def test_history_needs_the_context_type_header(ccaas):
    assert_error(ccaas.post_json("/conversationHistory", history_body()), 10016)
    response = ccaas.post_json(
        "/conversationHistory", history_body(), AuthorizationContextType="EmbeddedMessagingChannel"
    )
    assert_error(response, 10093)


def _participants(body, index, **changes):
    body["conversationParticipants"][index].update(changes)
    return body


@pytest.mark.parametrize(
    "build, code",
    [
        (lambda: history_body(6), 10078),
        (lambda: history_body(channelAddressIdentifier="unknown"), 10069),
        (lambda: history_body(channelAddressIdentifier=FOREIGN), 10070),
        (lambda: history_body(conversationParticipants=[]), 10039),
        (lambda: _participants(history_body(), 0, leftTime=now_ms()), 10065),
        (lambda: _participants(history_body(), 1, leftTime=None), 10066),
        (lambda: _participants(history_body(), 1, leftTime=now_ms() - 2 * EARLIER), 10067),
        (lambda: _participants(history_body(), 1, participant={"subject": "x", "role": "Agent", "appType": "agent"}), 10043),
        (lambda: _participants(history_body(), 1, participant={"subject": "y", "role": "EndUser", "appType": "custom"}, leftTime=None), 10044),
        (lambda: history_body(conversationParticipants=history_body()["conversationParticipants"][1:]), 10042),
    ],
)  # fmt: skip
def test_history_participant_and_size_errors(ccaas, build, code):
    assert_error(post_history(ccaas, build()), code)


def test_history_message_ids_must_be_unique(ccaas):
    body = history_body(2)
    second = body["conversationEntries"][1]["entryPayload"]
    second["id"] = second["abstractMessage"]["id"] = body["conversationEntries"][0]["entryPayload"]["id"]
    assert_error(post_history(ccaas, body), 10073)


def test_history_sender_must_be_a_participant(ccaas):
    body = history_body(2)
    body["conversationEntries"][1]["sender"] = {"subject": "bot-2", "role": "Chatbot", "appType": "custom"}
    assert_error(post_history(ccaas, body), 10068)


def test_history_timestamp_must_be_inside_the_participation(ccaas):
    body = history_body(2)
    body["conversationEntries"][1]["clientTimestamp"] = body["conversationParticipants"][1]["leftTime"] + 1
    assert_error(post_history(ccaas, body), 10074)


def test_history_older_than_24_hours_is_refused(ccaas):
    body = history_body(2)
    body["conversationEntries"][0]["clientTimestamp"] = now_ms() - 25 * 3600 * 1000
    assert_error(post_history(ccaas, body), 10046)


def test_history_session_errors(ccaas):
    body = history_body(messagingSession={"messagingSessionRequestType": "EstablishMessagingSession",
                                          "payload": {"startTime": now_ms() + 3_600_000}})  # fmt: skip
    assert_error(post_history(ccaas, body), 10061)
    body = history_body()
    body["messagingSession"]["payload"]["endTime"] = body["messagingSession"]["payload"]["startTime"] - 1
    assert_error(post_history(ccaas, body), 10064)
    attach = {"messagingSessionRequestType": "AttachMessagingSession", "payload": {"sessionId": "nope"}}
    assert_error(post_history(ccaas, history_body(messagingSession=attach)), 10072)
    attach["payload"]["sessionId"] = "0Mw8d0000009999"
    assert_error(post_history(ccaas, history_body(messagingSession=attach)), 10071)


# --- POST /acknowledgement ----------------------------------------------------------------------------


def agent_message(sf, sim) -> tuple[str, str, str]:
    """A conversation with an accepted session and one agent message: (conversation, session, entry)."""
    body = sf.send_text("hi")
    session_id = body["workItemIds"][0]
    assert sim.post(sf.api(f"/sessions/{session_id}/accept"), json={"agent": sf.ada}).status_code == 200
    reply = sim.post(
        sf.api(f"/sessions/{session_id}/reply"), json={"agent": sf.ada, "text": "How can I help?"}
    )
    return body["conversationIdentifier"], session_id, reply.json()["identifier"]


def ack_body(conversation: str, entry: str, kind: str = "Delivered", **override) -> dict:
    body = {
        "sender": {"appType": "custom", "subject": CUSTOMER, "role": "EndUser"},
        "conversationIdentifier": conversation,
        "acknowledgements": [
            {
                "acknowledgementTimestamp": now_ms(),
                "acknowledgementType": kind,
                "acknowledgedConversationEntryIdentifier": entry,
                "acknowledgmentCreatedConversationEntryIdentifier": str(uuid.uuid4()),
            }
        ],
    }
    body.update(override)
    return body


def test_acknowledgements_attach_to_the_agent_message(sf, sim):
    conversation, session_id, entry = agent_message(sf, sim)
    delivered = ack_body(conversation, entry)
    assert sf.post_json("/acknowledgement", delivered).json() == {"success": True}
    assert sf.post_json("/acknowledgement", delivered).status_code == 200  # a replay is not stored twice
    read = ack_body(conversation, entry, "Read")
    read["acknowledgements"][0]["acknowledgementTimestamp"] = str(now_ms())  # the YAML's string form
    response = sf.post_json("/acknowledgement", read)
    assert response.status_code == 200 and response.json() == {"success": True}
    acks = sim.get(sf.api("/acknowledgements")).json()
    assert [(a["type"], a["acknowledgedEntryIdentifier"]) for a in acks] == [
        ("Delivered", entry),
        ("Read", entry),
    ]
    entries = sim.get(sf.api(f"/sessions/{session_id}/entries")).json()
    [message] = [e for e in entries if e["identifier"] == entry]
    assert [a["type"] for a in message["acknowledgements"]] == ["Delivered", "Read"]


def test_acknowledgement_errors(sf, sim):
    conversation, _, entry = agent_message(sf, sim)
    cases = [
        (ack_body("no-such-conversation", entry), 10018),
        (
            ack_body(
                conversation, entry, sender={"appType": "agent", "subject": CUSTOMER, "role": "EndUser"}
            ),
            10037,
        ),
        (
            ack_body(conversation, entry, sender={"appType": "custom", "subject": CUSTOMER, "role": "Agent"}),
            10038,
        ),
        (
            ack_body(
                conversation, entry, sender={"appType": "custom", "subject": "+1999", "role": "EndUser"}
            ),
            10036,
        ),
        (ack_body(conversation, str(uuid.uuid4())), 10089),
        (ack_body(conversation, entry, "Seen"), 10089),
        (
            ack_body(
                conversation, entry, acknowledgements=ack_body(conversation, entry)["acknowledgements"] * 26
            ),
            10089,
        ),
    ]
    for body, code in cases:
        assert_error(sf.post_json("/acknowledgement", body), code, success=False)
    assert sim.get(sf.api("/acknowledgements")).json() == []


# --- POST /messagingSession ------------------------------------------------------------------------------


def session_body(conversation: str, **override) -> dict:
    body = {
        "channelAddressIdentifier": WHATSAPP,
        "endUserClientId": CUSTOMER,
        "conversationIdentifier": conversation,
        "operation": "End",
        "operationBy": "EndUser",
    }
    body.update(override)
    return body


def test_end_user_ends_the_session(sf, sim):
    conversation, session_id, _ = agent_message(sf, sim)
    response = sf.post_json("/messagingSession", session_body(conversation))
    assert response.status_code == 200 and response.json() == {"success": True}
    assert sim.get(sf.api(f"/sessions/{session_id}")).json()["status"] == "Ended"
    [ended] = [
        e
        for e in sf.wait_published("SessionStatusChanged", 2)
        if e["payload"]["entryPayload"]["sessionStatus"] == "Ended"
    ]
    payload = ended["payload"]["entryPayload"]
    assert payload["sessionEndedByRole"] == "EndUser" and payload["sessionStatusPrev"] == "Active"
    assert payload["sessionId"] == sf.org.records.get("MessagingSession", session_id)["Id"]
    assert_valid_event(ended)
    removed = sf.wait_published("ParticipantChanged", 2)[-1]["payload"]["entryPayload"]["entries"][0]
    assert removed["operation"] == "remove" and removed["participant"]["role"] == "Agent"
    again = sf.post_json("/messagingSession", session_body(conversation))
    assert again.json() == {"success": False, "errorReason": "ACTIVE_CONVERSATION_NOT_FOUND"}


def test_inactivate_needs_the_session_id(sf, sim):
    conversation = sf.send_text("hi")["conversationIdentifier"]
    assert_error(sf.post_json("/messagingSession", session_body(conversation, operation="Inactivate")), 10106)
    session_id = sim.get(sf.api("/sessions")).json()[0]["id"]
    response = sf.post_json(
        "/messagingSession", session_body(conversation, operation="Inactivate", sessionId=session_id)
    )
    assert response.json() == {"success": True}
    assert sim.get(sf.api(f"/sessions/{session_id}")).json()["status"] == "Inactive"


@pytest.mark.parametrize(
    "override, reason",
    [
        ({"conversationIdentifier": "unknown"}, "ACTIVE_CONVERSATION_NOT_FOUND"),
        ({"channelAddressIdentifier": "unknown"}, "CHANNEL_ADDRESS_NOT_FOUND"),
        ({"endUserClientId": "+1999"}, "END_USER_NOT_FOUND"),
        ({"sessionId": "0Mw8d0000009999"}, "SESSION_NOT_FOUND"),
    ],
)
def test_messaging_session_failure_reasons(sf, override, reason):
    conversation = sf.send_text("hi")["conversationIdentifier"]
    response = sf.post_json("/messagingSession", session_body(conversation, **override))
    assert response.status_code == 200 and response.json() == {"success": False, "errorReason": reason}


@pytest.mark.parametrize(
    "override, code", [({"operation": "Close"}, 10102), ({"operationBy": "Agent"}, 10103)]
)
def test_messaging_session_errors(sf, override, code):
    conversation = sf.send_text("hi")["conversationIdentifier"]
    assert_error(sf.post_json("/messagingSession", session_body(conversation, **override)), code)


# --- PATCH /capabilities ----------------------------------------------------------------------------------


def capabilities_body(dev_name: str = CCD) -> dict:
    return {"capabilities": {"appType": "custom", "channelCapabilities": [{
        "channelType": "custom",
        "customIntegration": {"customIntegrationType": "CustomChannelIntegration",
                              "integrationNamespace": "00D8d000000ScRT",
                              "conversationChannelDefinitionDevName": dev_name},
        "messageTypeCapabilities": [
            {"messageType": "StaticContentMessage", "formatTypeCapabilities": [{"formatType": "Text"}]},
            {"messageType": "ChoicesMessage", "formatTypeCapabilities": [{"formatType": "Buttons"}]},
        ]}]}}  # fmt: skip


def test_capabilities_are_stored(sf, sim):
    response = sf.post_json("/capabilities", capabilities_body(), method="PATCH")
    assert response.status_code == 200 and response.json() == {"success": True}
    assert sim.get(sf.api("/capabilities")).json() == {CCD: capabilities_body()["capabilities"]}


def test_capabilities_errors(sf):
    body = {"success": False, "errorDetail": {"message": MESSAGES[10050], "code": 10050}}
    assert_error(sf.post_json("/capabilities", capabilities_body("Other"), method="PATCH"), 10050, **body)
    bad = {"capabilities": {"appType": "custom", "channelCapabilities": []}}
    body = {"success": False, "errorDetail": {"message": MESSAGES[10089], "code": 10089}}
    assert_error(sf.post_json("/capabilities", bad, method="PATCH"), 10089, **body)


# --- optional routing API ----------------------------------------------------------------------------------


def test_partner_routing_requests_are_recorded(sf, sim):
    conversation = sf.send_text("hi")["conversationIdentifier"]
    route = sf.post_json("/route", {"conversationIdentifier": conversation, "routingType": "Initial",
                                    "routingInfo": {"queueId": "00G8d0000000001"}})  # fmt: skip
    assert route.status_code == 202 and route.json()["success"] is True
    result = {"workItemId": route.json()["workItemId"], "conversationIdentifier": conversation,
              "success": True, "externallyRouted": False}  # fmt: skip
    assert sf.post_json("/routingResult", result).status_code == 202
    assert (
        sf.post_json("/route", {"conversationIdentifier": conversation}, method="DELETE").status_code == 202
    )
    assert [r["path"] for r in sim.get(sf.api("/routes")).json()] == ["/route", "/routingResult", "/route"]
    assert_error(sf.post_json("/route", {"conversationIdentifier": "nope", "routingType": "Initial"}), 10018)
