"""The Enhanced Chat simulator's REST API, as Salesforce documents it (sandbox/README.md, Enhanced Chat).

Tokens, conversations, messages, files, typing, acknowledgements, close, the errors and the rate limits.
The event stream and the agent's side are in test_enhanced_chat_stream.py.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from sandbox.enhancedchat import tokens

ORG_ID15 = "00D8d000000EnCh"
DEPLOYMENT = "Switchboard_Chat"
VERIFIED = "Verified_Chat"
SECRET = "shared-verification-secret"
API = "/sim/scrt/iamessage/api/v2"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def org_spec() -> dict:
    return {
        "org_id": ORG_ID15,
        "name": "Acme Chat",
        "my_domain": "acmechat",
        "users": [
            {"username": "ada@acme.test", "name": "Ada Agent", "agent": True, "online": True},
            {"username": "grace@acme.test", "name": "Grace Agent", "agent": True, "online": True},
        ],
        "queues": [{"name": "Support", "developer_name": "Support"}, {"name": "Sales", "developer_name": "Sales"}],
        "enhanced_chat": {
            "deployments": [
                {"developer_name": DEPLOYMENT, "queue": "Support", "prechat_fields": ["Phone", "Queue", "Agent"]},
                {"developer_name": VERIFIED, "user_verification": True, "verification_secret": SECRET},
            ]
        },
    }  # fmt: skip


class Chat:
    """An org with Enhanced Chat deployments and a client speaking the API to the sandbox."""

    def __init__(self, sandbox, sim) -> None:
        self.sandbox = sandbox
        self.sim = sim
        response = sim.post("/__sim/orgs", json=org_spec())
        assert response.status_code == 201, response.text
        self.org = sandbox.world.orgs.get(response.json()["org_id"])
        users = {u["Username"]: u for u in self.org.records.all("User")}
        self.ada = users["ada@acme.test"]["Id"]
        self.grace = users["grace@acme.test"]["Id"]

    def token_body(self, **override) -> dict:
        body = {
            "orgId": ORG_ID15,
            "esDeveloperName": DEPLOYMENT,
            "capabilitiesVersion": "1",
            "platform": "Web",
            "context": {"appName": "Switchboard", "clientVersion": "1.0.0"},
        }
        return {k: v for k, v in {**body, **override}.items() if v is not None}

    def token(self, **override) -> dict:
        response = self.sim.post(
            f"{API}/authorization/unauthenticated/access-token", json=self.token_body(**override)
        )
        assert response.status_code == 200, response.text
        return response.json()

    @staticmethod
    def auth(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def create(
        self,
        token: str,
        routing: dict | None = None,
        conversation_id: str | None = None,
        deployment=DEPLOYMENT,
    ) -> str:
        conversation_id = conversation_id or str(uuid.uuid4())
        body = {"conversationId": conversation_id, "esDeveloperName": deployment}
        if routing is not None:
            body["routingAttributes"] = routing
        response = self.sim.post(f"{API}/conversation", json=body, headers=self.auth(token))
        assert response.status_code == 201, response.text
        return conversation_id

    def send(
        self, token: str, conversation_id: str, text: str, message_id: str | None = None
    ) -> httpx.Response:
        body = {
            "message": {
                "id": message_id or str(uuid.uuid4()),
                "messageType": "StaticContentMessage",
                "staticContent": {"formatType": "Text", "text": text},
            },
            "esDeveloperName": DEPLOYMENT,
            "isNewMessagingSession": False,
        }
        return self.sim.post(
            f"{API}/conversation/{conversation_id}/message", json=body, headers=self.auth(token)
        )

    def upload(
        self, token: str, conversation_id: str, data: bytes, name="photo.png", mime="image/png", text=""
    ):
        entry = {
            "message": {"id": str(uuid.uuid4()), "fileId": str(uuid.uuid4()), "text": text},
            "esDeveloperName": DEPLOYMENT,
        }
        files = {
            "messageEntry": (None, json.dumps(entry), "application/json"),
            "fileData": (name, data, mime),
        }
        return self.sim.post(
            f"{API}/conversation/{conversation_id}/file", files=files, headers=self.auth(token)
        )

    def console(self, path: str) -> str:
        return f"/__sim/console/api/orgs/{self.org.org_id}{path}"

    def conversations(self) -> list[dict]:
        return self.sim.get(f"/__sim/enhancedchat/orgs/{self.org.org_id}/conversations").json()

    def conversation(self, conversation_id: str) -> dict:
        return next(c for c in self.conversations() if c["conversationId"] == conversation_id)

    def session_of(self, conversation_id: str) -> str:
        return self.conversation(conversation_id)["sessions"][-1]["id"]

    def accept(self, conversation_id: str, agent: str | None = None) -> str:
        session = self.session_of(conversation_id)
        response = self.sim.post(
            self.console(f"/sessions/{session}/accept"), json={"agent": agent or self.ada}
        )
        assert response.status_code == 200, response.text
        return session


@pytest.fixture
def chat(sandbox, sim) -> Chat:
    return Chat(sandbox, sim)


def assert_error(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and words.lower() in body["message"].lower(), body


# --- access tokens ---------------------------------------------------------------------------------


def test_guest_token_answer_has_the_documented_fields(chat):
    answer = chat.token()
    assert answer["accessToken"].count(".") == 2  # JWT-shaped
    assert answer["lastEventId"] == "0"
    config = answer["context"]["configuration"]["embeddedServiceConfig"]
    assert config["deploymentType"] == "api" and config["name"] == DEPLOYMENT


@pytest.mark.parametrize(
    ("override", "status", "words"),
    [
        ({"orgId": None}, 400, "orgId is required"),
        ({"orgId": "00D8d000000EnChAAA"}, 400, "orgId is invalid"),  # the 18-character form
        ({"orgId": "00D8d000000Nope"}, 400, "Invalid orgId"),
        ({"esDeveloperName": "Nope_Chat"}, 400, "Invalid esDeveloperName"),
        ({"esDeveloperName": "1bad name"}, 400, "esDeveloperName is invalid"),
        ({"capabilitiesVersion": 1}, 400, "capabilitiesVersion"),
        ({"platform": "Fax"}, 400, "platform"),
        ({"context": "x"}, 400, "context"),
        ({"esDeveloperName": VERIFIED}, 403, "User Verification"),
    ],
)
def test_token_request_refusals(chat, sim, override, status, words):
    response = sim.post(f"{API}/authorization/unauthenticated/access-token", json=chat.token_body(**override))
    assert_error(response, status, words)


def test_malformed_and_oversized_bodies_are_refused(chat, sim):
    url = f"{API}/authorization/unauthenticated/access-token"
    assert_error(sim.post(url, content=b"{nope"), 400, "not valid JSON")
    assert_error(sim.post(url, content=b"[1]"), 400, "JSON object")
    assert_error(sim.post(url, content=b"{" + b" " * (1024 * 1024 + 1) + b"}"), 413, "too large")


def test_verified_user_token_checks_the_identity_token(chat, sim):
    url = f"{API}/authorization/authenticated/access-token"

    def body(identity: str) -> dict:
        return chat.token_body(
            esDeveloperName=VERIFIED, authorizationType="JWT", customerIdentityToken=identity
        )

    good = tokens.sign_jwt({"sub": "customer-42", "exp": time.time() + 60}, SECRET.encode())
    first = sim.post(url, json=body(good))
    assert first.status_code == 200, first.text
    forged = tokens.sign_jwt({"sub": "customer-42", "exp": time.time() + 60}, b"wrong key")
    assert_error(sim.post(url, json=body(forged)), 401, "could not be verified")
    stale = tokens.sign_jwt({"sub": "customer-42", "exp": time.time() - 1}, SECRET.encode())
    assert_error(sim.post(url, json=body(stale)), 401, "expired")
    guest_deployment = chat.token_body(authorizationType="JWT", customerIdentityToken=good)
    assert_error(sim.post(url, json=guest_deployment), 403, "not enabled")
    # The same verified user gets the same subject: a new token sees the conversation of the first.
    conversation_id = chat.create(first.json()["accessToken"], deployment=VERIFIED)
    second = sim.post(url, json=body(good)).json()["accessToken"]
    listed = sim.get(f"{API}/conversation/list", headers=chat.auth(second)).json()
    assert [c["conversationId"] for c in listed["conversations"]] == [conversation_id]


def test_continuation_token_keeps_the_subject_and_expired_tokens_are_refused(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    renewed = sim.get(f"{API}/authorization/continuation-access-token", headers=chat.auth(token))
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()["accessToken"]
    assert fresh != token and int(renewed.json()["lastEventId"]) > 0  # the routing result happened
    assert chat.send(fresh, conversation_id, "still me").status_code == 202
    sim.post(f"/__sim/enhancedchat/orgs/{chat.org.org_id}/tokens/expire")
    assert_error(chat.send(fresh, conversation_id, "too late"), 401, "expired")
    assert_error(
        sim.get(f"{API}/authorization/continuation-access-token", headers=chat.auth(fresh)), 401, "expired"
    )
    tampered = fresh[:-4] + ("AAAA" if not fresh.endswith("AAAA") else "BBBB")
    assert_error(chat.send(tampered, conversation_id, "forged"), 401, "Invalid access token")
    assert_error(sim.post(f"{API}/conversation", json={}), 401, "Invalid access token")


def test_revoked_token_is_refused(chat, sim):
    token = chat.token()["accessToken"]
    assert sim.delete(f"{API}/authorization/token", headers=chat.auth(token)).status_code == 204
    assert_error(sim.get(f"{API}/conversation/list", headers=chat.auth(token)), 401, "revoked")


# --- conversations -----------------------------------------------------------------------------------


def test_conversation_lands_in_the_console_with_its_routing_attributes(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token, {"Phone": "+447700900123", "Queue": "Sales", "Colour": "blue"})
    stored = chat.conversation(conversation_id)
    assert stored["routingAttributes"] == {"Phone": "+447700900123", "Queue": "Sales"}
    assert stored["ignoredRoutingAttributes"] == {"Colour": "blue"}  # not a pre-chat field of the deployment
    assert stored["sessions"][0]["requestedRouting"]["name"] == "Sales"
    session = sim.get(chat.console(f"/sessions/{stored['sessions'][0]['id']}")).json()
    assert session["status"] == "Waiting" and session["record"]["ChannelType"] == "EmbeddedMessaging"
    assert session["routingAttributes"]["Phone"] == "+447700900123"


def test_conversation_without_queue_attribute_goes_to_the_deployment_queue(chat):
    conversation_id = chat.create(chat.token()["accessToken"], {"Phone": "+447700900123"})
    assert chat.conversation(conversation_id)["sessions"][0]["requestedRouting"]["name"] == "Support"


def test_conversation_create_refusals(chat, sim):
    token = chat.token()["accessToken"]
    url, headers = f"{API}/conversation", chat.auth(token)
    upper = str(uuid.uuid4()).upper()
    assert_error(sim.post(url, json={"conversationId": upper, "esDeveloperName": DEPLOYMENT}, headers=headers),
                 400, "lowercase")  # fmt: skip
    good = str(uuid.uuid4())
    assert_error(sim.post(url, json={"conversationId": good, "esDeveloperName": VERIFIED}, headers=headers),
                 403, "does not match")  # fmt: skip
    bad_attributes = {
        "conversationId": good,
        "esDeveloperName": DEPLOYMENT,
        "routingAttributes": {"Phone": [1]},
    }
    assert_error(sim.post(url, json=bad_attributes, headers=headers), 400, "routingAttributes.Phone")
    assert chat.conversations() == []  # nothing was half-made
    chat.create(token, conversation_id=good)
    again = sim.post(url, json={"conversationId": good, "esDeveloperName": DEPLOYMENT}, headers=headers)
    assert_error(again, 409, "already exists")
    other = chat.token()["accessToken"]  # another guest cannot see or take the id
    assert_error(chat.send(other, good, "hi"), 404, "not found")


def test_list_conversations_and_entries(chat, sim):
    token = chat.token()["accessToken"]
    first = chat.create(token)
    second = chat.create(token)
    for text in ("one", "two", "three"):
        assert chat.send(token, first, text).status_code == 202
    assert sim.delete(f"{API}/conversation/{second}?esDeveloperName={DEPLOYMENT}", headers=chat.auth(token)).status_code == 204  # fmt: skip
    listed = sim.get(
        f"{API}/conversation/list?inclClosedConvs=false&limit=20", headers=chat.auth(token)
    ).json()
    assert (listed["openConversationsFound"], listed["closedConversationsFound"]) == (1, 1)
    assert [c["conversationId"] for c in listed["conversations"]] == [first]
    both = sim.get(f"{API}/conversation/list?inclClosedConvs=true", headers=chat.auth(token)).json()
    assert {c["conversationId"] for c in both["conversations"]} == {first, second}
    assert_error(sim.get(f"{API}/conversation/list?limit=51", headers=chat.auth(token)), 400, "limit")
    url = f"{API}/conversation/{first}/entries"
    oldest = sim.get(
        f"{url}?direction=FromStart&limit=2&entryTypeFilter=Message", headers=chat.auth(token)
    ).json()
    texts = [
        e["entryPayload"]["abstractMessage"]["staticContent"]["text"] for e in oldest["conversationEntries"]
    ]
    assert texts == ["one", "two"]
    newest = sim.get(url, headers=chat.auth(token)).json()["conversationEntries"]
    assert newest[0]["entryType"] == "Message" and newest[-1]["entryType"] == "RoutingResult"
    assert_error(sim.get(f"{url}?direction=Sideways", headers=chat.auth(token)), 400, "direction")


# --- messages -----------------------------------------------------------------------------------------


def test_message_answer_and_replay_of_the_same_id(chat):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    message_id = str(uuid.uuid4())
    first = chat.send(token, conversation_id, "hello", message_id)
    assert first.status_code == 202, first.text
    assert first.json()["conversationEntries"][0]["id"] == message_id
    again = chat.send(token, conversation_id, "hello", message_id)
    assert again.status_code == 202 and again.json() == first.json()
    messages = [e for e in chat.conversation(conversation_id)["entries"] if e["entryType"] == "Message"]
    assert [m["text"] for m in messages] == ["hello"]  # stored once


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"id": "nope", "messageType": "StaticContentMessage", "staticContent": {"formatType": "Text", "text": "x"}},
         "message.id"),
        ({"id": str(uuid.uuid4()), "messageType": "StaticContentMessage",
          "staticContent": {"formatType": "Text", "text": "  "}}, "text is required"),
        ({"id": str(uuid.uuid4()), "messageType": "StaticContentMessage",
          "staticContent": {"formatType": "Text", "text": "x" * 32_001}}, "longer than"),
        ({"id": str(uuid.uuid4()), "messageType": "StaticContentMessage",
          "staticContent": {"formatType": "Attachments"}}, "formatType must be Text"),
        ({"id": str(uuid.uuid4()), "messageType": "FormMessage"}, "messageType"),
        ({"id": str(uuid.uuid4()), "messageType": "ChoicesResponseMessage", "choicesResponse": {}}, "selectedOptions"),
    ],
)  # fmt: skip
def test_message_refusals_change_nothing(chat, sim, message, words):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    url = f"{API}/conversation/{conversation_id}/message"
    response = sim.post(
        url, json={"message": message, "esDeveloperName": DEPLOYMENT}, headers=chat.auth(token)
    )
    assert_error(response, 400, words)
    assert not [e for e in chat.conversation(conversation_id)["entries"] if e["entryType"] == "Message"]


def test_closed_conversation_takes_no_messages(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    assert sim.delete(f"{API}/conversation/{conversation_id}", headers=chat.auth(token)).status_code == 204
    assert_error(chat.send(token, conversation_id, "hello?"), 400, "closed")
    assert chat.conversation(conversation_id)["status"] == "Closed"
    session = sim.get(chat.console(f"/sessions/{chat.session_of(conversation_id)}")).json()
    assert session["status"] == "Ended" and session["endedByType"] == "EndUser"


def test_ending_the_session_ends_the_conversation_only_with_session_based_chat(chat, sim):
    """Salesforce Help, "Set Up Session-Based Chat": a session ended by the end user also ends the
    conversation when the deployment's channel has Session-Based Chat; without it the next message opens a
    new session in the same conversation."""
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    url = f"{API}/conversation/{conversation_id}/session?esDeveloperName={DEPLOYMENT}"
    assert sim.delete(url, headers=chat.auth(token)).status_code == 204
    assert chat.conversation(conversation_id)["status"] == "Closed"
    assert_error(chat.send(token, conversation_id, "back again"), 400, "closed")

    name = "Lasting_Chat"
    made = sim.post(
        f"/__sim/enhancedchat/orgs/{chat.org.org_id}/deployments",
        json={"developer_name": name, "queue": "Support", "session_based_chat": False},
    )
    assert made.status_code == 201, made.text
    token = chat.token(esDeveloperName=name)["accessToken"]
    conversation_id = chat.create(token, deployment=name)
    url = f"{API}/conversation/{conversation_id}/session?esDeveloperName={name}"
    assert sim.delete(url, headers=chat.auth(token)).status_code == 204
    assert chat.conversation(conversation_id)["status"] == "Open"
    body = {
        "message": {
            "id": str(uuid.uuid4()),
            "messageType": "StaticContentMessage",
            "staticContent": {"formatType": "Text", "text": "back again"},
        },
        "esDeveloperName": name,
    }
    sent = sim.post(f"{API}/conversation/{conversation_id}/message", json=body, headers=chat.auth(token))
    assert sent.status_code == 202, sent.text
    sessions = chat.conversation(conversation_id)["sessions"]
    assert [s["status"] for s in sessions] == ["Ended", "Waiting"]


def test_choices_response_message_is_stored(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    body = {
        "message": {
            "id": str(uuid.uuid4()),
            "messageType": "ChoicesResponseMessage",
            "choicesResponse": {"selectedOptions": [{"optionIdentifier": "opt-1", "title": "Billing"}]},
        },
        "esDeveloperName": DEPLOYMENT,
    }
    response = sim.post(f"{API}/conversation/{conversation_id}/message", json=body, headers=chat.auth(token))
    assert response.status_code == 202, response.text
    assert [
        e["text"] for e in chat.conversation(conversation_id)["entries"] if e["entryType"] == "Message"
    ] == ["Billing"]


# --- files ------------------------------------------------------------------------------------------


def test_file_upload_is_stored_and_downloadable(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    response = chat.upload(token, conversation_id, PNG, text="my receipt")
    assert response.status_code == 202, response.text
    entry = next(e for e in chat.conversation(conversation_id)["entries"] if e["entryType"] == "Message")
    static = entry["entryPayload"]["abstractMessage"]["staticContent"]
    assert static["formatType"] == "Attachments" and static["text"] == "my receipt"
    attachment = static["attachments"][0]
    assert (attachment["name"], attachment["mimeType"]) == ("photo.png", "image/png")
    assert sim.get(attachment["url"].replace(str(sim.base_url).rstrip("/"), "")).content == PNG


def test_file_upload_refusals(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    too_big = b"\x00" * (5 * 1024 * 1024 + 1)
    assert_error(chat.upload(token, conversation_id, too_big), 413, "larger than")
    assert_error(chat.upload(token, conversation_id, b"MZ\x90\x00", "tool.exe", "application/x-msdownload"), 415,
                 "not supported")  # fmt: skip
    assert_error(chat.upload(token, conversation_id, b""), 400, "empty")
    no_entry = sim.post(f"{API}/conversation/{conversation_id}/file", files={"fileData": ("a.png", PNG, "image/png")},
                        headers=chat.auth(token))  # fmt: skip
    assert_error(no_entry, 400, "messageEntry is required")
    not_multipart = sim.post(
        f"{API}/conversation/{conversation_id}/file", content=PNG, headers=chat.auth(token)
    )
    assert_error(not_multipart, 415, "multipart")
    assert not [e for e in chat.conversation(conversation_id)["entries"] if e["entryType"] == "Message"]
    assert not chat.org.records.all("ContentVersion")  # no file kept from a refused upload


# --- typing and acknowledgements -------------------------------------------------------------------------


def test_typing_shows_in_the_console(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    url = f"{API}/conversation/{conversation_id}/entry"
    started = {"entryType": "TypingStartedIndicator", "id": str(uuid.uuid4())}
    assert sim.post(url, json=started, headers=chat.auth(token)).status_code == 202
    session = chat.session_of(conversation_id)
    assert sim.get(chat.console(f"/sessions/{session}")).json()["endUserTyping"] is True
    stopped = {"entryType": "TypingStoppedIndicator", "id": str(uuid.uuid4())}
    assert sim.post(url, json=stopped, headers=chat.auth(token)).status_code == 202
    assert sim.get(chat.console(f"/sessions/{session}")).json()["endUserTyping"] is False
    assert_error(sim.post(url, json={"entryType": "Nudge", "id": str(uuid.uuid4())}, headers=chat.auth(token)), 400,
                 "entryType")  # fmt: skip


def test_acknowledgements_mark_agent_messages(chat, sim):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    session = chat.accept(conversation_id)
    reply = sim.post(
        chat.console(f"/sessions/{session}/reply"), json={"agent": chat.ada, "text": "Hi!"}
    ).json()
    url = f"{API}/conversation/{conversation_id}/acknowledge-entries"
    acks = [
        {"id": str(uuid.uuid4()), "entryType": "Delivery", "conversationEntryId": reply["identifier"]},
        {"id": str(uuid.uuid4()), "entryType": "Read", "conversationEntryId": reply["identifier"]},
    ]
    assert sim.post(url, json={"acks": acks}, headers=chat.auth(token)).status_code == 202
    assert (
        sim.post(url, json={"acks": acks}, headers=chat.auth(token)).status_code == 202
    )  # replayed: kept once
    agent_entry = next(
        e for e in chat.conversation(conversation_id)["entries"] if e["identifier"] == reply["identifier"]
    )
    assert [a["type"] for a in agent_entry["acknowledgements"]] == ["Delivered", "Read"]
    unknown = [{"id": str(uuid.uuid4()), "entryType": "Read", "conversationEntryId": "nope"}]
    assert_error(sim.post(url, json={"acks": unknown}, headers=chat.auth(token)), 400, "No agent message")
    assert_error(sim.post(url, json={"acks": acks * 13}, headers=chat.auth(token)), 400, "1 to 25")


# --- rate limits and faults ---------------------------------------------------------------------------------


def test_message_rate_limit_answers_429_with_retry_after_and_changes_nothing(chat, sim):
    assert (
        sim.put("/__sim/enhancedchat/limits", json={"messages_per_conversation_per_minute": 2}).status_code
        == 200
    )
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    assert chat.send(token, conversation_id, "one").status_code == 202
    assert chat.send(token, conversation_id, "two").status_code == 202
    refused = chat.send(token, conversation_id, "three")
    assert_error(refused, 429, "Too many messages")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    texts = [e["text"] for e in chat.conversation(conversation_id)["entries"] if e["entryType"] == "Message"]
    assert texts == ["one", "two"]
    other = chat.create(token)  # the limit is per conversation
    assert chat.send(token, other, "elsewhere").status_code == 202


def test_token_rate_limit_is_per_org(chat, sim):
    assert sim.put("/__sim/enhancedchat/limits", json={"tokens_per_org_per_minute": 1}).status_code == 200
    chat.token()
    url = f"{API}/authorization/unauthenticated/access-token"
    refused = sim.post(url, json=chat.token_body())
    assert_error(refused, 429, "Too many access token requests")
    assert int(refused.headers["Retry-After"]) >= 1


def test_default_limits_are_salesforces_published_ones(sim):
    # "Rate Limits for Enhanced Chat", https://help.salesforce.com/apex/HTViewHelpDoc?id=service.miaw_rate_limits.htm:
    # access token requests 200 per minute per org, Renew Token 200 per minute per org, and 22 messages from the
    # end user per minute per conversation.
    limits = sim.get("/__sim/enhancedchat/limits").json()
    assert limits["tokens_per_org_per_minute"] == 200
    assert limits["renewals_per_org_per_minute"] == 200
    assert limits["messages_per_conversation_per_minute"] == 22
    assert limits["window_seconds"] == 60


def test_the_22nd_message_a_minute_is_the_last_one_a_conversation_takes(chat):
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    for n in range(22):
        assert chat.send(token, conversation_id, f"m{n}").status_code == 202
    assert_error(chat.send(token, conversation_id, "one too many"), 429, "Too many messages")


def test_token_renewals_have_their_own_per_org_budget(chat, sim):
    """Renewing (the continuation token) is limited apart from new access tokens, as Salesforce lists them."""
    token = chat.token()["accessToken"]
    renew = f"{API}/authorization/continuation-access-token"
    assert sim.put("/__sim/enhancedchat/limits", json={"tokens_per_org_per_minute": 1}).status_code == 200
    assert_error(
        sim.post(f"{API}/authorization/unauthenticated/access-token", json=chat.token_body()),
        429,
        "access token",
    )
    renewed = sim.get(renew, headers=chat.auth(token))  # new tokens are used up; renewals are not
    assert renewed.status_code == 200, renewed.text
    assert sim.put("/__sim/enhancedchat/limits", json={"renewals_per_org_per_minute": 1}).status_code == 200
    refused = sim.get(renew, headers=chat.auth(renewed.json()["accessToken"]))
    assert_error(refused, 429, "Too many token renewal requests")
    assert int(refused.headers["Retry-After"]) >= 1


def test_limits_reject_nonsense(sim):
    for body in (
        {"tokens_per_org_per_minute": 0},
        {"nope": 1},
        {"window_seconds": "60"},
        {"keepalive_seconds": True},
    ):
        assert sim.put("/__sim/enhancedchat/limits", json=body).status_code == 400
    assert sim.get("/__sim/enhancedchat/limits").json()["tokens_per_org_per_minute"] == 200


def test_scrt_fault_switch_answers_503_on_the_api(chat, sim):
    rule = sim.post("/__sim/faults", json={"service": "scrt", "path": "^/iamessage/", "status": 503,
                                           "outage": True, "retry_after": 3}).json()  # fmt: skip
    response = sim.post(f"{API}/authorization/unauthenticated/access-token", json=chat.token_body())
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    sim.delete(f"/__sim/faults/{rule['id']}")
    chat.token()


# --- hostile input: always a clear 4xx, never a 500 ---------------------------------------------------------

GARBAGE = [
    b"null",
    b"[]",
    b'"text"',
    b"1e999",
    b'{"message": []}',
    b'{"message": {"id": 5, "messageType": ["StaticContentMessage"]}}',
    b'{"conversationId": 7, "esDeveloperName": {"a": 1}, "routingAttributes": [1]}',
    b'{"acks": [{"id": [], "entryType": {}, "conversationEntryId": 1}]}',
    b'{"entryType": null, "id": {"x": 1}}',
    b'{"orgId": 15, "esDeveloperName": null, "capabilitiesVersion": [], "platform": {}}',
    b'{"routingAttributes": {"' + b"k" * 300 + b'": 1}}',
    b"\xff\xfe\x00",
    b"[" * 5000 + b"]" * 5000,  # deeper than the JSON parser's recursion
]


def test_garbage_gets_a_clear_refusal_everywhere(chat, sim):
    """Every endpoint, every kind of broken body: a 4xx naming the problem in {"message", "code"}."""
    token = chat.token()["accessToken"]
    conversation_id = chat.create(token)
    headers = {**chat.auth(token), "Content-Type": "application/json"}
    paths = (
        "/authorization/unauthenticated/access-token",
        "/authorization/authenticated/access-token",
        "/conversation",
        f"/conversation/{conversation_id}/message",
        f"/conversation/{conversation_id}/entry",
        f"/conversation/{conversation_id}/acknowledge-entries",
        f"/conversation/{conversation_id}/file",
    )
    for body in GARBAGE:
        for path in paths:
            response = sim.post(f"{API}{path}", content=body, headers=headers)
            assert 400 <= response.status_code < 500, (path, body[:40], response.status_code, response.text)
            assert response.json()["code"] == response.status_code, (path, response.text)
    for query in (
        "limit=%C2%B2",
        "limit=-1",
        "limit=1e3",
        "startTimestamp=%D9%A3%C2%B2",
        "direction=",
        "entryTypeFilter=,,,",
    ):
        for path in ("/conversation/list", f"/conversation/{conversation_id}/entries"):
            response = sim.get(f"{API}{path}?{query}", headers=chat.auth(token))
            assert response.status_code in (200, 400), (path, query, response.text)
    stream = sim.get(
        "/sim/scrt/eventrouter/v1/sse",
        headers={
            "Accept": "text/event-stream",
            **chat.auth(token),
            "X-Org-Id": ORG_ID15,
            "Last-Event-Id": "²".encode(),
        },
    )
    assert_error(stream, 400, "Last-Event-Id")
    assert [e["entryType"] for e in chat.conversation(conversation_id)["entries"]] == []  # nothing got in


def test_bad_deployment_is_refused_whole(chat, sim):
    url = f"/__sim/enhancedchat/orgs/{chat.org.org_id}/deployments"
    channels = len(chat.org.records.all("MessagingChannel"))
    for spec in (
        {"developer_name": "New_Chat", "token_lifetime_seconds": 0},
        {"developer_name": "New_Chat", "queue": "Nope"},
        {"developer_name": "New_Chat", "prechat_fields": "Phone"},
        {"developer_name": "1st"},
        {"developer_name": DEPLOYMENT},
        [],
    ):
        assert sim.post(url, json=spec).status_code == 400, spec
    assert len(chat.org.records.all("MessagingChannel")) == channels  # no half-made deployment
    made = sim.post(url, json={"developer_name": "New_Chat", "token_lifetime_seconds": 60})
    assert made.status_code == 201 and made.json()["tokenLifetimeSeconds"] == 60
    assert (
        chat.token(esDeveloperName="New_Chat")["context"]["configuration"]["embeddedServiceConfig"]["name"]
        == "New_Chat"
    )
