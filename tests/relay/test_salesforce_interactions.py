"""The Interaction Service client against the sandbox's SCRT host, checked through its console API."""

from __future__ import annotations

import pytest

from relay.errors import ExternalError
from relay.salesforce.interactions import (
    MAX_ATTACHMENT_BYTES,
    AttachmentNotAccepted,
    InteractionClient,
    attachment_problem,
    now_ms,
)
from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    CUSTOMER,
    ORG_ID,
    PNG,
    WHATSAPP,
    console,
    create_sandbox_org,
    make_connected_tenant,
    new_id,
    salesforce_urls,
    tokens,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(sim, salesforce_urls):  # noqa: F811
    create_sandbox_org(sim)
    return InteractionClient(make_connected_tenant(salesforce_urls).salesforce)


def entries(sim, conversation_identifier: str) -> list[dict]:
    return console(sim, ORG_ID, f"/conversations/{conversation_identifier}")["entries"]


def agent_reply(sim, session_id: str, text: str) -> dict:
    """Ada accepts the session (if waiting) and answers: an agent entry to acknowledge or fail."""
    ada = next(a for a in console(sim, ORG_ID, "/agents") if a["username"] == "ada@acme.test")["id"]
    sim.post(f"/__sim/console/api/orgs/{ORG_ID}/sessions/{session_id}/accept", json={"agent": ada})
    response = sim.post(
        f"/__sim/console/api/orgs/{ORG_ID}/sessions/{session_id}/reply", json={"agent": ada, "text": text}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_text_reaches_the_agent_console_once_even_when_retried(client, sim):
    entry_id = new_id()
    sent = client.send_text(
        WHATSAPP, CUSTOMER, "Hello from WhatsApp", entry_id=entry_id, timestamp_ms=now_ms()
    )
    again = client.send_text(
        WHATSAPP, CUSTOMER, "Hello from WhatsApp", entry_id=entry_id, timestamp_ms=now_ms()
    )
    assert sent["success"] is True and again["conversationIdentifier"] == sent["conversationIdentifier"]
    assert sent["workItemIds"][0].startswith("0Mw")
    texts = [e["text"] for e in entries(sim, sent["conversationIdentifier"]) if e["entryType"] == "Message"]
    assert texts == ["Hello from WhatsApp"]
    requests = console(sim, ORG_ID, "/requests")
    assert [r["status"] for r in requests] == [202, 202]
    assert len({r["requestId"] for r in requests}) == 2  # a fresh RequestId per request


def test_routing_attributes_reach_the_session(client, sim):
    sent = client.send_text(
        WHATSAPP,
        CUSTOMER,
        "Route me",
        entry_id=new_id(),
        timestamp_ms=now_ms(),
        routing_attributes={"lang": "de"},
    )
    session = console(sim, ORG_ID, f"/sessions/{sent['workItemIds'][0]}")
    assert session["routingAttributes"] == {"lang": "de"}


def test_typing_indicators(client, sim):
    client.send_text(WHATSAPP, CUSTOMER, "Hi", entry_id=new_id(), timestamp_ms=now_ms())
    started = client.send_typing(WHATSAPP, CUSTOMER, True)
    session = console(sim, ORG_ID, f"/sessions/{started['workItemIds'][0]}")
    assert session["endUserTyping"] is True
    client.send_typing(WHATSAPP, CUSTOMER, False)
    session = console(sim, ORG_ID, f"/sessions/{started['workItemIds'][0]}")
    assert session["endUserTyping"] is False


def test_attachment_is_uploaded_with_its_caption(client, sim):
    sent = client.send_attachment(
        WHATSAPP,
        CUSTOMER,
        content=PNG,
        filename="photo.png",
        mime="image/png; charset=binary",
        caption="my receipt",
        entry_id=new_id(),
        timestamp_ms=now_ms(),
    )
    [entry] = [e for e in entries(sim, sent["conversationIdentifier"]) if e["files"]]
    assert entry["text"] == "my receipt"
    assert entry["files"][0] == {
        **entry["files"][0],
        "name": "photo.png",
        "mimeType": "image/png",
        "size": len(PNG),
    }


@pytest.mark.parametrize(
    ("mime", "size", "code"),
    [
        ("text/plain", 10, "10095"),
        ("image/webp", 10, "10095"),
        ("image/png", MAX_ATTACHMENT_BYTES + 1, "10008"),
        ("image/png", 0, "10009"),
    ],
)
def test_attachments_salesforce_would_refuse_are_not_sent(client, sim, mime, size, code):
    with pytest.raises(AttachmentNotAccepted) as caught:
        client.send_attachment(
            WHATSAPP,
            CUSTOMER,
            content=b"x" * size,
            filename="f",
            mime=mime,
            entry_id=new_id(),
            timestamp_ms=now_ms(),
        )
    assert caught.value.permanent and caught.value.code == code
    assert console(sim, ORG_ID, "/requests") == []  # refused before anything was sent


def test_attachment_limits_match_the_documented_ones():
    assert attachment_problem("application/pdf", 25 * 1024 * 1024) is None
    assert attachment_problem("AUDIO/MP4", 1) is None
    assert attachment_problem("application/zip", 1).code == "10095"


def test_delivery_failure_and_receipts_of_an_agent_message(client, sim):
    sent = client.send_text(WHATSAPP, CUSTOMER, "Hi", entry_id=new_id(), timestamp_ms=now_ms())
    conversation, session = sent["conversationIdentifier"], sent["workItemIds"][0]
    first = agent_reply(sim, session, "First answer")["identifier"]
    second = agent_reply(sim, session, "Second answer")["identifier"]

    stamp = now_ms()
    client.acknowledge(conversation, CUSTOMER, [(first, "Delivered", stamp), (first, "Read", stamp + 5)])
    client.acknowledge(conversation, CUSTOMER, [(first, "Delivered", stamp)])  # a replayed receipt
    acks = console(sim, ORG_ID, "/acknowledgements")
    assert sorted((a["acknowledgedEntryIdentifier"], a["type"]) for a in acks) == [
        (first, "Delivered"),
        (first, "Read"),
    ]

    failure_id = new_id()
    client.send_delivery_failed(
        WHATSAPP,
        CUSTOMER,
        second,
        "131047",
        "Outside WhatsApp's 24-hour window: use a template",
        entry_id=failure_id,
    )
    [failure] = console(sim, ORG_ID, "/delivery-failures")
    assert failure["failedEntryIdentifier"] == second
    assert failure["errorCode"] == "131047" and "24-hour" in failure["errorMessage"]


def test_establish_then_end_session(client, sim):
    established = client.establish_conversation(WHATSAPP, CUSTOMER, routing_attributes={"topic": "billing"})
    assert established["messagingSessionId"].startswith("0Mw")
    sent = client.send_text(WHATSAPP, CUSTOMER, "Hi", entry_id=new_id(), timestamp_ms=now_ms())
    assert sent["conversationIdentifier"] == established["conversationIdentifier"]

    assert client.end_session(WHATSAPP, CUSTOMER, established["conversationIdentifier"])["success"] is True
    session = console(sim, ORG_ID, f"/sessions/{established['messagingSessionId']}")
    assert session["status"] == "Ended"
    with pytest.raises(ExternalError) as caught:
        client.end_session(WHATSAPP, CUSTOMER, established["conversationIdentifier"])
    assert caught.value.code == "ACTIVE_CONVERSATION_NOT_FOUND" and caught.value.permanent


def test_history_is_refused_for_a_messaging_org(client):
    start = now_ms() - 60_000
    participants = [
        {"displayName": "Customer", "participant": {"subject": CUSTOMER, "role": "EndUser", "appType": "custom"},
         "joinedTime": start},
    ]  # fmt: skip
    entry_id = new_id()
    history = [
        {
            "clientTimestamp": start + 1000,
            "sender": {"subject": CUSTOMER, "role": "EndUser", "appType": "custom"},
            "entryPayload": {
                "entryType": "Message",
                "id": entry_id,
                "abstractMessage": {
                    "messageType": "StaticContentMessage",
                    "id": entry_id,
                    "staticContent": {"formatType": "Text", "text": "earlier"},
                },
            },
        }
    ]
    with pytest.raises(ExternalError) as caught:
        client.send_history(WHATSAPP, participants=participants, entries=history)
    assert caught.value.permanent and caught.value.code == "10057"
    assert "CCaaS" in caught.value.message
    with pytest.raises(ValueError):
        client.send_history(WHATSAPP, participants=participants, entries=history * 6)


def test_expired_token_is_refreshed_once(client, sim):
    client.send_text(WHATSAPP, CUSTOMER, "one", entry_id=new_id(), timestamp_ms=now_ms())
    sim.post(f"/__sim/orgs/{ORG_ID}/tokens/expire", json={})
    client.send_text(WHATSAPP, CUSTOMER, "two", entry_id=new_id(), timestamp_ms=now_ms())
    assert len(tokens(sim)) == 2
    statuses = [(r["status"], r["code"]) for r in console(sim, ORG_ID, "/requests")]
    assert statuses == [(202, None), (401, 10004), (202, None)]


def test_revoked_token_is_refreshed_once(client, sim):
    client.send_typing(WHATSAPP, CUSTOMER, True)
    sim.post(f"/__sim/orgs/{ORG_ID}/tokens/revoke", json={})
    client.send_typing(WHATSAPP, CUSTOMER, False)
    assert [t["revoked"] for t in tokens(sim)] == [True, False]


def test_missing_interaction_api_scope_says_how_to_fix_it(client, sim):
    client.send_typing(WHATSAPP, CUSTOMER, True)
    sim.post(f"/__sim/orgs/{ORG_ID}/tokens/scopes", json={"scopes": ["api"]})
    with pytest.raises(ExternalError) as caught:
        client.send_typing(WHATSAPP, CUSTOMER, False)
    assert caught.value.permanent and caught.value.code == "10003"
    assert "interaction_api" in caught.value.message and "Connected App" in caught.value.message
    # The token without the scope is forgotten: once the admin fixed the app, the next call works.
    client.send_typing(WHATSAPP, CUSTOMER, False)
    assert len(tokens(sim)) == 2


def test_unknown_channel_is_permanent_with_salesforces_code(client):
    with pytest.raises(ExternalError) as caught:
        client.send_text(
            "00000000-0000-4000-8000-000000000000", CUSTOMER, "Hi", entry_id=new_id(), timestamp_ms=now_ms()
        )
    assert caught.value.permanent and caught.value.code == "10017"
    assert "channelAddressIdentifier provided does not exist" in caught.value.message


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (429, 30)])
def test_overload_and_outage_are_transient(client, sim, status, retry_after):
    fault = {"service": "scrt", "status": status}
    if retry_after:
        fault["retry_after"] = retry_after
    sim.post("/__sim/faults", json=fault)
    with pytest.raises(ExternalError) as caught:
        client.send_text(WHATSAPP, CUSTOMER, "Hi", entry_id=new_id(), timestamp_ms=now_ms())
    assert not caught.value.permanent
    assert caught.value.status == status and caught.value.retry_after == retry_after
