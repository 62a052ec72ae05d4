"""The Enhanced Chat event router (``/eventrouter/v1/sse``) and the agent's side through the console.

Documented: the headers (Accept, Authorization, X-Org-Id, Last-Event-Id), the event types and their
``conversationEntry`` with a JSON-string ``entryPayload``. Resume with Last-Event-Id replays exactly what
was missed; pings carry no id; a dropped stream ends and a new one resumes.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import pytest

from sandbox import epoch
from sandbox.enhancedchat.streams import EventLog

from .test_enhanced_chat_api import API, DEPLOYMENT, ORG_ID15, PNG, Chat, assert_error

SSE = "/sim/scrt/eventrouter/v1/sse"


class Events:
    """An open event stream read event by event; every read gives up after a few seconds."""

    def __init__(self, sim: httpx.Client, token: str, last_event_id: str | None = None, **headers) -> None:
        sent = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}", "X-Org-Id": ORG_ID15}
        if last_event_id is not None:
            sent["Last-Event-Id"] = last_event_id
        self._context = sim.stream("GET", SSE, headers={**sent, **headers}, timeout=httpx.Timeout(10, read=5))
        self.response = self._context.__enter__()
        self._lines = self.response.iter_lines()

    def next(self, *, pings: bool = False) -> dict | None:
        """The next event ({"id", "event", "data"}), or None when the server ended the stream."""
        while True:
            event: dict = {}
            for line in self._lines:
                if not line:
                    break
                field, _, value = line.partition(": ")
                event[field] = value
            else:
                return None
            if event.get("event") == "ping" and not pings:
                continue
            if "data" in event:
                event["data"] = json.loads(event["data"])
            return event

    def take(self, count: int) -> list[dict]:
        events = [self.next() for _ in range(count)]
        assert None not in events, events
        return events

    def close(self) -> None:
        self._context.__exit__(None, None, None)


@pytest.fixture
def chat(sandbox, sim) -> Chat:
    return Chat(sandbox, sim)


def payload(event: dict) -> dict:
    entry = event["data"]["conversationEntry"]
    assert isinstance(entry["entryPayload"], str)  # a JSON string, as Salesforce sends it
    return json.loads(entry["entryPayload"])


def test_stream_refusals(chat, sim):
    token = chat.token()["accessToken"]
    ok = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}", "X-Org-Id": ORG_ID15}
    assert_error(sim.get(SSE, headers={**ok, "Authorization": "Bearer nope"}), 401, "Invalid access token")
    assert_error(sim.get(SSE, headers={**ok, "X-Org-Id": ""}), 400, "X-Org-Id is required")
    assert_error(sim.get(SSE, headers={**ok, "X-Org-Id": "00D8d000000OthR"}), 401, "does not match")
    assert_error(sim.get(SSE, headers={**ok, "Accept": "application/json"}), 406, "text/event-stream")
    assert_error(sim.get(SSE, headers={**ok, "Last-Event-Id": "abc"}), 400, "Last-Event-Id")
    rule = sim.post("/__sim/faults", json={"service": "scrt", "path": "^/eventrouter/", "status": 503,
                                           "outage": True}).json()  # fmt: skip
    assert sim.get(SSE, headers=ok).status_code == 503
    sim.delete(f"/__sim/faults/{rule['id']}")


def test_an_agent_accepts_answers_and_ends_a_conversation(chat, sim):
    token = chat.token()["accessToken"]
    events = Events(sim, token)
    try:
        conversation_id = chat.create(token, {"Phone": "+447700900123"})
        message_id = str(uuid.uuid4())
        assert chat.send(token, conversation_id, "Where is my parcel?", message_id).status_code == 202
        routed, echo = events.take(2)
        assert routed["event"] == "CONVERSATION_ROUTING_RESULT"
        assert payload(routed)["routingType"] == "Initial"
        assert routed["data"]["conversationId"] == conversation_id
        assert routed["data"]["channelType"] == "embedded_messaging"
        assert echo["event"] == "CONVERSATION_MESSAGE"
        assert echo["data"]["conversationEntry"]["sender"]["role"] == "EndUser"
        assert payload(echo)["abstractMessage"]["staticContent"]["text"] == "Where is my parcel?"

        session = chat.accept(conversation_id)
        joined, delivered, active = events.take(3)
        assert joined["event"] == "CONVERSATION_PARTICIPANT_CHANGED"
        assert payload(joined)["entries"][0]["operation"] == "add"
        assert payload(joined)["entries"][0]["displayName"] == "Ada Agent"
        assert delivered["event"] == "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT"
        assert delivered["data"]["conversationEntry"]["relatedRecords"] == [message_id]
        assert active["event"] == "CONVERSATION_SESSION_STATUS_CHANGED"
        assert payload(active)["sessionStatus"] == "Active"

        console = chat.console(f"/sessions/{session}")
        assert sim.post(f"{console}/typing", json={"agent": chat.ada, "typing": True}).status_code == 201
        (typing,) = events.take(1)
        assert typing["event"] == "CONVERSATION_TYPING_STARTED_INDICATOR"

        assert (
            sim.post(f"{console}/reply", json={"agent": chat.ada, "text": "On its way!"}).status_code == 201
        )
        read, answer = events.take(2)
        assert read["event"] == "CONVERSATION_READ_ACKNOWLEDGEMENT"
        assert read["data"]["conversationEntry"]["relatedRecords"] == [message_id]
        assert answer["event"] == "CONVERSATION_MESSAGE"
        assert answer["data"]["conversationEntry"]["sender"]["role"] == "Agent"
        assert payload(answer)["abstractMessage"]["staticContent"]["text"] == "On its way!"

        attachment = {
            "name": "label.png",
            "mimeType": "image/png",
            "contentBase64": base64.b64encode(PNG).decode(),
        }
        assert (
            sim.post(f"{console}/reply", json={"agent": chat.ada, "attachment": attachment}).status_code
            == 201
        )
        (file_event,) = events.take(1)
        sent = payload(file_event)["abstractMessage"]["staticContent"]["attachments"][0]
        assert sent["name"] == "label.png"
        assert sim.get(sent["url"].replace(str(sim.base_url).rstrip("/"), "")).content == PNG

        choices = {"formatType": "Buttons", "text": "Anything else?", "options": ["Yes", "No"]}
        assert sim.post(f"{console}/reply", json={"agent": chat.ada, "choices": choices}).status_code == 201
        (choice_event,) = events.take(1)
        offered = payload(choice_event)["abstractMessage"]
        assert offered["messageType"] == "ChoicesMessage"
        assert [o["titleItem"]["title"] for o in offered["choices"]["optionItems"]] == ["Yes", "No"]

        # S4: an agent's End is a session status change, never CONVERSATION_CLOSE_CONVERSATION; with
        # Session-Based Chat (the deployment's default) the conversation ends with the session.
        assert sim.post(f"{console}/end", json={"agent": chat.ada}).status_code == 200
        ended, left = events.take(2)
        assert ended["event"] == "CONVERSATION_SESSION_STATUS_CHANGED"
        assert ended["data"]["conversationId"] == conversation_id
        assert ended["data"]["conversationEntry"]["entryType"] == "SessionStatusChanged"
        ended_payload = payload(ended)
        assert ended_payload["entryType"] == "SessionStatusChanged"
        assert ended_payload["sessionStatus"] == "Ended" and ended_payload["sessionEndedByRole"] == "Agent"
        assert left["event"] == "CONVERSATION_PARTICIPANT_CHANGED"
        assert payload(left)["entries"][0]["operation"] == "remove"
        assert_error(chat.send(token, conversation_id, "hello?"), 400, "closed")
        listed = chat.conversations()
        assert [c["status"] for c in listed if c["conversationId"] == conversation_id] == ["Closed"]
    finally:
        events.close()
    ids = [
        int(e["id"])
        for e in (routed, echo, joined, delivered, active, typing, read, answer, file_event, ended, left)
    ]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    everything = [e["type"] for c in chat.conversations() for e in c["events"]]
    assert "CONVERSATION_CLOSE_CONVERSATION" not in everything


def test_without_session_based_chat_an_agent_end_leaves_the_conversation_open(chat, sim):
    """S9: only Session-Based Chat ends the conversation with the session; without it the end user's next
    message opens a new session (routed again) in the same conversation."""
    name = "No_Session_Chat"
    made = sim.post(
        f"/__sim/enhancedchat/orgs/{chat.org.org_id}/deployments",
        json={"developer_name": name, "queue": "Support", "session_based_chat": False},
    )
    assert made.status_code == 201 and made.json()["sessionBasedChat"] is False
    token = chat.token(esDeveloperName=name)["accessToken"]
    events = Events(sim, token)
    try:
        conversation_id = chat.create(token, deployment=name)
        session = chat.accept(conversation_id)
        events.take(3)  # routing result, the agent joining, the session Active
        assert sim.post(chat.console(f"/sessions/{session}/end"), json={"agent": chat.ada}).status_code == 200
        ended, _left = events.take(2)
        assert ended["event"] == "CONVERSATION_SESSION_STATUS_CHANGED"
        assert payload(ended)["sessionStatus"] == "Ended"
        message = {
            "message": {
                "id": str(uuid.uuid4()),
                "messageType": "StaticContentMessage",
                "staticContent": {"formatType": "Text", "text": "one more thing"},
            },
            "esDeveloperName": name,
        }
        url = f"{API}/conversation/{conversation_id}/message"
        assert sim.post(url, json=message, headers=chat.auth(token)).status_code == 202
        routed, echo = events.take(2)
        assert routed["event"] == "CONVERSATION_ROUTING_RESULT" and echo["event"] == "CONVERSATION_MESSAGE"
        assert routed["data"]["conversationId"] == conversation_id
    finally:
        events.close()


def test_a_flow_that_routes_nothing_says_so_in_the_routing_result(chat, sim):
    """S10: an Omni-Channel flow path without Route Work returns reasonForNotRouting to the Enhanced Chat client:
    the RoutingResult's failureType is not None and failureReason carries the text; no queue or rep is offered
    the session. A routed conversation says failureType None and no failureReason."""
    url = f"/__sim/enhancedchat/orgs/{chat.org.org_id}/deployments"
    name = "Closed_Chat"
    made = sim.post(url, json={"developer_name": name, "reason_for_not_routing": "We're closed."})
    assert made.status_code == 201 and made.json()["reasonForNotRouting"] == "We're closed."
    for bad in ({"reason_for_not_routing": 7}, {"routing_failure_type": "Nope"}):
        refused = sim.post(url, json={"developer_name": "Bad_Chat", **bad})
        assert refused.status_code == 400
    token = chat.token(esDeveloperName=name)["accessToken"]
    events = Events(sim, token)
    try:
        conversation_id = chat.create(token, deployment=name)
        (routed,) = events.take(1)
        assert routed["event"] == "CONVERSATION_ROUTING_RESULT"
        assert routed["data"]["conversationId"] == conversation_id
        result = payload(routed)
        assert result["routingType"] == "Initial" and result["failureType"] == "RoutingError"
        assert result["failureReason"] == "We're closed."
        assert result["workOwnerId"] is None
    finally:
        events.close()
    token = chat.token()["accessToken"]
    events = Events(sim, token)
    try:
        chat.create(token)
        (routed,) = events.take(1)
        assert payload(routed)["failureType"] == "None" and payload(routed)["failureReason"] is None
    finally:
        events.close()


def test_verified_users_cannot_have_session_based_chat(chat, sim):
    url = f"/__sim/enhancedchat/orgs/{chat.org.org_id}/deployments"
    spec = {"developer_name": "Verified_Sessions", "user_verification": True, "verification_secret": "s"}
    refused = sim.post(url, json={**spec, "session_based_chat": True})
    assert refused.status_code == 400 and "verified users" in refused.json()["error"]
    assert sim.post(url, json=spec).json()["sessionBasedChat"] is False


def test_resume_with_last_event_id_replays_exactly_what_was_missed(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    session = chat.accept(conversation_id)
    events = Events(sim, token, last_event_id="0")  # from the start: routing result and the agent joining
    seen = events.take(3)
    assert [e["event"] for e in seen] == [
        "CONVERSATION_ROUTING_RESULT",
        "CONVERSATION_PARTICIPANT_CHANGED",
        "CONVERSATION_SESSION_STATUS_CHANGED",
    ]
    events.close()
    console = chat.console(f"/sessions/{session}")
    for text in ("first", "second", "third"):
        assert sim.post(f"{console}/reply", json={"agent": chat.ada, "text": text}).status_code == 201
    resumed = Events(sim, token, last_event_id=seen[-1]["id"])
    try:
        missed = resumed.take(3)
        assert [payload(e)["abstractMessage"]["staticContent"]["text"] for e in missed] == [
            "first",
            "second",
            "third",
        ]
        assert sim.post(f"{console}/reply", json={"agent": chat.ada, "text": "live"}).status_code == 201
        (live,) = resumed.take(1)
        assert payload(live)["abstractMessage"]["staticContent"]["text"] == "live"
        assert int(live["id"]) > int(missed[-1]["id"]) > int(seen[-1]["id"])
    finally:
        resumed.close()
    # A new token of the same subject (continuation) resumes too, from the lastEventId it is given.
    renewed = sim.get(f"{API}/authorization/continuation-access-token", headers=chat.auth(token)).json()
    assert renewed["lastEventId"] == live["id"]


def test_opaque_event_ids_resume_by_name_and_an_unknown_one_replays_what_is_retained(chat, sim):
    """S3 calls event ids strings: in the opaque format they are random numbers in no order, and Last-Event-Id
    names the event to resume after."""
    url = "/__sim/enhancedchat/event-ids"
    assert sim.put(url, json={"format": "sorted"}).status_code == 400
    assert sim.put(url, json={"format": "opaque"}).json() == {"format": "opaque"}
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    session = chat.accept(conversation_id)
    console = chat.console(f"/sessions/{session}")
    for text in ("first", "second", "third"):
        assert sim.post(f"{console}/reply", json={"agent": chat.ada, "text": text}).status_code == 201
    everything = Events(sim, token, last_event_id="unknown-to-the-sandbox")
    try:
        retained = everything.take(6)  # routing result, joined, Active, three replies
    finally:
        everything.close()
    assert retained[0]["event"] == "CONVERSATION_ROUTING_RESULT"
    second = next(e for e in retained if e["event"] == "CONVERSATION_MESSAGE"
                  and payload(e)["abstractMessage"]["staticContent"]["text"] == "second")  # fmt: skip
    resumed = Events(sim, token, last_event_id=second["id"])
    try:
        (third,) = resumed.take(1)
        assert payload(third)["abstractMessage"]["staticContent"]["text"] == "third"
    finally:
        resumed.close()
    assert chat.token()["lastEventId"] != retained[-1]["id"]  # another subject: its own stream
    renewed = sim.get(f"{API}/authorization/continuation-access-token", headers=chat.auth(token)).json()
    assert renewed["lastEventId"] == retained[-1]["id"]
    assert sim.get(SSE, headers={"Accept": "text/event-stream", "Authorization": f"Bearer {token}",
                                 "X-Org-Id": ORG_ID15, "Last-Event-Id": "x" * 300}).status_code == 400  # fmt: skip


def test_pings_have_no_id_and_a_dropped_stream_ends(chat, sim):
    assert sim.put("/__sim/enhancedchat/limits", json={"keepalive_seconds": 0.1}).status_code == 200
    token = chat.token()["accessToken"]
    events = Events(sim, token)
    try:
        ping = events.next(pings=True)
        assert ping == {"event": "ping", "data": {}}
        assert sim.get("/__sim/enhancedchat/streams").json() == {chat.org.org_id: 1}
        assert sim.post("/__sim/enhancedchat/streams/drop", json={}).json() == {"dropped": 1}
        assert events.next() is None  # the server ended the stream
    finally:
        events.close()
    assert sim.get("/__sim/enhancedchat/streams").json() == {}


def test_streams_are_per_subject_and_a_client_leaving_closes_its_stream(chat, sim):
    mine, theirs = chat.token()["accessToken"], chat.token()["accessToken"]
    events = Events(sim, mine)
    try:
        chat.create(theirs)  # another guest's conversation: not on my stream
        chat.create(mine)
        (routed,) = events.take(1)
        assert routed["data"]["channelPlatformKey"] != chat.conversations()[0]["subject"]
    finally:
        events.close()
    deadline = time.monotonic() + 5
    while sim.get("/__sim/enhancedchat/streams").json() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the server to notice the disconnect, up to the deadline
    assert sim.get("/__sim/enhancedchat/streams").json() == {}


def test_client_close_sends_close_conversation(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    events = Events(sim, token, last_event_id="0")
    try:
        events.take(1)  # routing result
        url = f"{API}/conversation/{conversation_id}?esDeveloperName={DEPLOYMENT}"
        assert sim.delete(url, headers=chat.auth(token)).status_code == 204
        ended, closed = events.take(2)  # the open session ends, then the conversation closes
        assert ended["event"] == "CONVERSATION_SESSION_STATUS_CHANGED"
        assert payload(ended)["sessionEndedByRole"] == "EndUser"
        assert closed["event"] == "CONVERSATION_CLOSE_CONVERSATION"
        assert closed["data"]["conversationId"] == conversation_id
    finally:
        events.close()


def test_event_ids_start_from_the_boot_block(monkeypatch):
    """A restarted sandbox never hands out an event id an old client may still hold as its Last-Event-Id."""
    monkeypatch.setattr(epoch, "EPOCH", 3)
    log = EventLog()
    first = log.emit("00D8d000000EnChEAK", "subject", "CONVERSATION_MESSAGE", {})
    assert first.id == 3 * epoch.ID_BLOCK + 1
    log.reset()
    assert log.emit("00D8d000000EnChEAK", "subject", "CONVERSATION_MESSAGE", {}).id == first.id + 1
