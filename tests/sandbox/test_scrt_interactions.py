"""Contract tests of the Interaction Service: header checks and POST /api/v1/interactions."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest

from sandbox.salesforce.ids import to15
from sandbox.salesforce.scrt import MESSAGES

from .scrt_support import (
    CUSTOMER,
    FOREIGN,
    INACTIVE,
    PNG,
    WHATSAPP,
    Salesforce,
    attachment_interaction,
    entry_interaction,
    text_interaction,
)

ERRORCODES = Path(__file__).resolve().parents[2] / "sandbox" / "specs" / "salesforce" / "ERRORCODES.md"


@pytest.fixture
def sf(sandbox, sim) -> Salesforce:
    return Salesforce(sandbox, sim)


def assert_error(response: httpx.Response, code: int, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"message": MESSAGES[code], "code": code}


def test_error_texts_are_salesforce_s():
    table = dict(re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|$", ERRORCODES.read_text(), re.M))
    for code, message in MESSAGES.items():
        assert table[str(code)].replace("\\<", "<").replace("\\>", ">") == message, code


# --- headers, in Salesforce's order -------------------------------------------------------------------


def test_valid_text_message_is_accepted(sf):
    response = sf.post_interaction(text_interaction("Hi there"))
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert uuid.UUID(body["conversationIdentifier"])
    [work_item] = body["workItemIds"]
    assert work_item.startswith("0Mw") and len(work_item) == 15


@pytest.mark.parametrize(
    "headers, code, status",
    [
        ({"Authorization": None}, 10004, 401),
        ({"Authorization": "Bearer 00D8d000000ScRT!nope"}, 10004, 401),
        ({"Authorization": "Basic abc"}, 10004, 401),
        ({"OrgId": None}, 10016, 400),
        ({"OrgId": "00D8d000000ScRTEA0"}, 10016, 400),  # the 18-character id
        ({"OrgId": "00D8d000000OthR"}, 10016, 400),  # another org's
        ({"AuthorizationContext": None}, 10016, 400),
        ({"AuthorizationContext": "No_Such_Definition"}, 10005, 400),
        ({"RequestId": None}, 10016, 400),
        ({"RequestId": "request-1"}, 10016, 400),
    ],
)
def test_header_errors(sf, headers, code, status):
    assert_error(sf.post_interaction(text_interaction("x"), **headers), code, status)


def test_token_without_interaction_api_scope_is_refused_before_the_org_id(sf):
    token = sf.issue_token(scopes=("api",))
    response = sf.post_interaction(text_interaction("x"), Authorization=f"Bearer {token}", OrgId="bad")
    assert_error(response, 10003)


def test_revoked_token_is_refused(sf, sandbox):
    def revoke():
        sf.org.tokens[sf.token].revoked = True

    sandbox.call(revoke)
    assert_error(sf.post_interaction(text_interaction("x")), 10004, 401)


def test_org_id_is_checked_before_the_authorization_context(sf):
    assert_error(
        sf.post_interaction(text_interaction("x"), OrgId="00D8d000000OthR", AuthorizationContext="Nope"),
        10016,
    )


def test_authorization_context_is_checked_before_the_request_id(sf):
    assert_error(
        sf.post_interaction(text_interaction("x"), AuthorizationContext="Nope", RequestId="x"), 10005
    )


def test_error_http_status_is_configurable(sf, sim):
    response = sim.put("/__sim/console/api/scrt/error-status", json={"10003": 403})
    assert response.json() == {"10003": 403}
    token = sf.issue_token(scopes=("api",))
    assert_error(sf.post_interaction(text_interaction("x"), Authorization=f"Bearer {token}"), 10003, 403)


@pytest.mark.parametrize("body", [{"errorType": "Nope"}, {"errorType": 1}, [], {}])
def test_upload_result_takes_only_a_documented_error_type(sim, body):
    response = sim.put("/__sim/console/api/scrt/upload-result", json=body)
    assert response.status_code == 400 and "StorageLimitExceeded" in response.text
    assert sim.get("/__sim/console/api/scrt/upload-result").json() == {"errorType": None}


def test_upload_result_can_be_set_and_cleared(sim):
    failing = sim.put(
        "/__sim/console/api/scrt/upload-result", json={"errorType": "AttachmentUploadNotEnabled"}
    )
    assert failing.json() == {"errorType": "AttachmentUploadNotEnabled"}
    assert sim.put("/__sim/console/api/scrt/upload-result", json={"errorType": None}).json() == {
        "errorType": None
    }


# --- sessions, end users and conversations -------------------------------------------------------------


def test_first_message_creates_end_user_and_waiting_session(sf, sim):
    body = sf.send_text("Hello")
    [session] = sim.get(sf.api("/sessions")).json()
    record = session["record"]
    assert to15(record["Id"]) == body["workItemIds"][0]
    assert record["Status"] == "Waiting" and record["Origin"] == "InboundInitiated"
    channel = sf.org.records.first("MessagingChannel", ChannelAddressIdentifier=WHATSAPP)
    assert record["MessagingChannelId"] == channel["Id"]
    end_user = sf.org.records.get("MessagingEndUser", record["MessagingEndUserId"])
    assert end_user["MessagingPlatformKey"] == CUSTOMER and end_user["Name"] == CUSTOMER
    assert end_user["MessagingChannelId"] == channel["Id"] and end_user["MessageType"] == "Custom"
    conversation = sf.org.records.get("Conversation", record["ConversationId"])
    assert conversation["ConversationIdentifier"] == body["conversationIdentifier"]
    [entry] = sim.get(sf.api(f"/sessions/{session['id']}/entries")).json()
    assert entry["text"] == "Hello" and entry["sender"] == {
        "appType": "custom",
        "subject": CUSTOMER,
        "role": "EndUser",
    }


def test_conversation_and_session_are_reused_per_end_user(sf, sim):
    first = sf.send_text("one")
    second = sf.send_text("two")
    other = sf.send_text("hi", sender="+447700900999")
    assert first == second
    assert other["conversationIdentifier"] != first["conversationIdentifier"]
    assert len(sf.org.records.all("MessagingEndUser")) == 2
    session_id = first["workItemIds"][0]
    assert [e["text"] for e in sim.get(sf.api(f"/sessions/{session_id}/entries")).json()] == ["one", "two"]


def test_message_after_an_ended_session_opens_a_new_one(sf, sim):
    first = sf.send_text("one")
    session_id = first["workItemIds"][0]
    assert sim.post(sf.api(f"/sessions/{session_id}/accept"), json={"agent": sf.ada}).status_code == 200
    assert sim.post(sf.api(f"/sessions/{session_id}/end"), json={"agent": sf.ada}).status_code == 200
    second = sf.send_text("again")
    assert second["conversationIdentifier"] == first["conversationIdentifier"]
    assert second["workItemIds"] != first["workItemIds"]
    statuses = sorted(s["status"] for s in sim.get(sf.api("/sessions")).json())
    assert statuses == ["Ended", "Waiting"]


def test_retried_message_is_stored_once(sf, sim):
    data = text_interaction("once")
    assert sf.post_interaction(data).status_code == 202
    assert sf.post_interaction(data).status_code == 202
    [session] = sim.get(sf.api("/sessions")).json()
    assert len(sim.get(sf.api(f"/sessions/{session['id']}/entries")).json()) == 1


def test_routing_attributes_are_stored_and_route_the_session(sf, sim):
    sf.send_text("to sales", routing={"queue": "Sales", "customerTier": "gold"})
    [session] = sim.get(sf.api("/sessions")).json()
    assert session["routingAttributes"] == {"queue": "Sales", "customerTier": "gold"}
    assert session["requestedRouting"]["kind"] == "queue" and session["requestedRouting"]["name"] == "Sales"
    sales = sf.org.records.first("Group", DeveloperName="Sales")
    assert session["record"]["OwnerId"] == sales["Id"]


def test_routing_attribute_naming_an_agent(sf, sim):
    sf.send_text("to ada", routing={"preferredAgent": "ada@acme.test"})
    [session] = sim.get(sf.api("/sessions")).json()
    assert session["requestedRouting"] == {
        "kind": "agent", "id": sf.ada, "name": "Ada Agent", "source": "routingAttributes.preferredAgent"
    }  # fmt: skip


def test_without_routing_attributes_the_channel_queue_is_used(sf, sim):
    sf.send_text("hi")
    [session] = sim.get(sf.api("/sessions")).json()
    assert (
        session["requestedRouting"]["name"] == "Support"
        and session["requestedRouting"]["source"] == "channel"
    )


# --- body errors ------------------------------------------------------------------------------------


def test_empty_body_is_10100(sf, sim):
    response = sim.post("/sim/scrt/api/v1/interactions", headers=sf.headers())
    assert_error(response, 10100)


def test_json_body_instead_of_multipart_is_refused(sf):
    assert_error(sf.post_json("/interactions", text_interaction("x")), 10100)


def test_multipart_without_json_part_is_refused(sf, sim):
    response = sim.post(
        "/sim/scrt/api/v1/interactions",
        files=[("other", (None, "{}", "application/json"))],
        headers=sf.headers(),
    )
    assert_error(response, 10100)


def test_malformed_json_part_is_refused(sf, sim):
    response = sim.post(
        "/sim/scrt/api/v1/interactions",
        files=[("json", (None, "{nope", "application/json"))],
        headers=sf.headers(),
    )
    assert_error(response, 10100)


def _message(**message) -> dict:
    entry_id = str(uuid.uuid4())
    body = {
        "messageType": "StaticContentMessage",
        "id": entry_id,
        "staticContent": {"formatType": "Text", "text": "x"},
    }
    body.update(message)
    return {"id": entry_id, "entryType": "Message", "abstractMessage": body}


@pytest.mark.parametrize(
    "mutate, code",
    [
        (lambda d: d.update(to="no-such-address"), 10017),
        (lambda d: d.update(to=INACTIVE), 10031),
        (lambda d: d.update(to=FOREIGN), 10001),
        (lambda d: d.pop("to"), 10027),
        (lambda d: d.update(to="x" * 241), 10027),
        (lambda d: d.pop("from"), 10028),
        (lambda d: d.update({"from": ""}), 10028),
        (lambda d: d.update(interactions=[]), 10029),
        (lambda d: d.update(interactions=d["interactions"] * 2), 10029),
        (lambda d: d["interactions"][0].update(interactionType="Nope"), 10029),
        (lambda d: d["interactions"][0].pop("timestamp"), 10029),
        (lambda d: d.update(routingAttributes={"queue": 5}), 10089),
        (lambda d: d["interactions"][0].update(payload=_message(id="other")), 10060),
        (lambda d: d["interactions"][0].update(payload={**_message(), "id": ""}), 10059),
        (lambda d: d["interactions"][0].update(payload=_message(messageType="Bogus")), 10047),
        (lambda d: d["interactions"][0].update(payload=_message(messageType="ChoicesMessage")), 10062),
        (
            lambda d: d["interactions"][0].update(payload=_message(staticContent={"formatType": "Nope"})),
            10048,
        ),
        (
            lambda d: d["interactions"][0].update(payload=_message(staticContent={"formatType": "Buttons"})),
            10049,
        ),
        (
            lambda d: d["interactions"][0].update(payload=_message(staticContent={"formatType": "Text"})),
            10045,
        ),
        (lambda d: d["interactions"][0]["payload"].update(entryType="Note"), 10045),
    ],
)
def test_interaction_body_errors(sf, sim, mutate, code):
    data = text_interaction("x")
    mutate(data)
    assert_error(sf.post_interaction(data), code)
    assert sim.get(sf.api("/sessions")).json() == []


def test_choices_response_from_the_end_user_is_accepted(sf, sim):
    entry_id = str(uuid.uuid4())
    payload = {
        "id": entry_id,
        "entryType": "Message",
        "abstractMessage": {
            "messageType": "ChoicesResponseMessage",
            "id": entry_id,
            "choicesResponse": {
                "formatType": "Selections",
                "selectedOptions": [{"optionIdentifier": "yes-1", "optionTitle": {"itemType": "TitleItem", "title": "Yes"}}],
            },
        },
    }  # fmt: skip
    assert sf.post_interaction(entry_interaction(payload)).status_code == 202
    [session] = sim.get(sf.api("/sessions")).json()
    [entry] = sim.get(sf.api(f"/sessions/{session['id']}/entries")).json()
    assert entry["text"] == "Yes"


def test_typing_indicators_show_in_the_session(sf, sim):
    started = {"id": str(uuid.uuid4()), "entryType": "TypingStartedIndicator", "timestamp": 1_700_000_000_000}
    assert sf.post_interaction(entry_interaction(started)).status_code == 202
    [session] = sim.get(sf.api("/sessions")).json()
    assert session["endUserTyping"] is True
    stopped = {**started, "id": str(uuid.uuid4()), "entryType": "TypingStoppedIndicator"}
    assert sf.post_interaction(entry_interaction(stopped)).status_code == 202
    assert sim.get(sf.api(f"/sessions/{session['id']}")).json()["endUserTyping"] is False


def test_typing_indicator_needs_its_timestamp(sf):
    started = {"id": str(uuid.uuid4()), "entryType": "TypingStartedIndicator"}
    assert_error(sf.post_interaction(entry_interaction(started)), 10045)


def _failure(**recipient) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "entryType": "MessageDeliveryFailed",
        "failedConversationEntryIdentifier": str(uuid.uuid4()),
        "recipient": {"appType": "custom", "subject": CUSTOMER, "role": "EndUser", **recipient},
        "errorCode": "470",
    }


@pytest.mark.parametrize("recipient, code", [({"appType": "iamessage"}, 10037), ({"role": "Agent"}, 10038)])
def test_delivery_failure_recipient_must_be_the_custom_end_user(sf, recipient, code):
    assert_error(sf.post_interaction(entry_interaction(_failure(**recipient))), code)


def test_delivery_failure_must_reference_an_agent_entry(sf):
    sf.send_text("hello")
    assert_error(sf.post_interaction(entry_interaction(_failure())), 10045)


# --- attachments -------------------------------------------------------------------------------------


def test_attachment_is_stored_and_its_upload_result_published(sf, sim):
    data = attachment_interaction(len(PNG), text="my receipt")
    response = sf.post_interaction(data, files=[("receipt.png", PNG, "image/png")])
    assert response.status_code == 202, response.text
    [session] = sim.get(sf.api("/sessions")).json()
    entries = sim.get(sf.api(f"/sessions/{session['id']}/entries")).json()
    [entry] = [e for e in entries if e["entryType"] == "Message"]
    assert entry["identifier"] == data["interactions"][0]["id"]
    static = entry["entryPayload"]["abstractMessage"]["staticContent"]
    assert static["formatType"] == "Attachments" and static["text"] == "my receipt"
    [attachment] = static["attachments"]
    assert attachment["name"] == "receipt.png" and attachment["mimeType"] == "image/png"
    download = sim.get(attachment["url"])
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert sim.get(attachment["url"].replace("&d=", "&d=x")).status_code == 404
    assert sim.get(attachment["url"].split("&d=")[0]).status_code == 404

    [updated] = sf.wait_published("MessageUpdated")
    assert updated["recipient"] == {"appType": "custom", "subject": CUSTOMER, "role": "EndUser"}
    message = updated["payload"]["entryPayload"]["updatedMessage"]
    assert message["id"] == entry["identifier"]
    result = message["staticContent"]["attachments"][0]["attachmentUploadResult"]
    assert result == {"resultType": "CompletedAttachmentUploadResult"}


@pytest.mark.parametrize(
    "data, files, code",
    [
        (attachment_interaction(len(PNG)), [], 10011),
        (text_interaction("x"), [("a.png", PNG, "image/png")], 10011),
        (attachment_interaction(len(PNG), index=1), [("a.png", PNG, "image/png")], 10011),
        (attachment_interaction(len(PNG), id=""), [("a.png", PNG, "image/png")], 10007),
        (attachment_interaction(len(PNG), contentLength=None), [("a.png", PNG, "image/png")], 10010),
        (attachment_interaction(0), [("a.png", b"", "image/png")], 10009),
        (attachment_interaction(len(PNG) + 1), [("a.png", PNG, "image/png")], 10051),
        (attachment_interaction(4), [("a.exe", b"MZ\x00\x00", "application/x-msdownload")], 10095),
        (attachment_interaction(4), [("a.txt", b"text", "text/plain")], 10095),
    ],
)
def test_attachment_errors(sf, data, files, code):
    if data["interactions"][0].get("contentLength", 0) is None:
        del data["interactions"][0]["contentLength"]
    assert_error(sf.post_interaction(data, files=files), code)


def test_attachment_over_25_mb_is_refused(sf):
    size = 25 * 1024 * 1024 + 1
    response = sf.post_interaction(
        attachment_interaction(size), files=[("big.pdf", b"%" * size, "application/pdf")]
    )
    assert_error(response, 10008)


def test_refused_requests_are_logged_for_the_console(sf, sim):
    sf.post_interaction(text_interaction("x", to="unknown"))
    sf.send_text("fine")
    log = sim.get(sf.api("/requests")).json()
    assert [(r["path"], r["status"], r["code"]) for r in log] == [
        ("/api/v1/interactions", 400, 10017),
        ("/api/v1/interactions", 202, None),
    ]
    assert "unknown" in log[0]["detail"]
