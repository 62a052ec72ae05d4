"""Hostile content in a platform event must not stall a tenant's agent replies.

The listener hands each decoded platform event to ``record_agent_event``; when that raises, the batch is
offered again from the stored cursor (right for a database hiccup). So an event whose *content* cannot be
stored (a NUL byte or half a surrogate pair in the agent's text - PostgreSQL refuses both -, an identifier
or status longer than our column, a value of the wrong JSON type) would be offered again forever, and every
agent reply of the tenant behind it would wait forever. Such content is repaired (and noted on the row) or
the event is skipped with a log line, like any malformed event, and the good event after it is stored.

Run on SQLite and on PostgreSQL (DATABASE_URL): lengths and NUL bytes fail only on PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from relay.models import Conversation, Message
from relay.outbound.record import record_agent_event
from tenants.models import SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db

CONVERSATION = "9f6e3c1a-1b2c-4d5e-8f90-0a1b2c3d4e5f"
AGENT = "005Hs00000AbCdEIAZ"


@pytest.fixture
def conversation():
    tenant = make_tenant(closing_text="")
    SalesforceConnection.objects.create(tenant=tenant, instance_url="https://acme.my.salesforce.com")
    sender = make_sender(make_account(tenant), "+41793026731")
    return Conversation.objects.create(
        tenant=tenant,
        sender=sender,
        customer="+385919998888",
        salesforce_conversation_id=CONVERSATION,
        last_inbound_at=timezone.now(),
    )


def message_entry(identifier: str, text="Hello from the agent", **changes) -> dict:
    """The InteractionEvent of an agent's text message (outbound-custom-event-payload.yaml)."""
    document = {
        "conversationIdentifier": CONVERSATION,
        "channelAddressIdentifier": "cai-1",
        "recipient": {"subject": "+385919998888", "role": "EndUser"},
        "payload": {
            "identifier": identifier,
            "senderDisplayName": "Ada",
            "sender": {"subject": AGENT, "role": "Agent"},
            "entryType": "Message",
            "entryPayload": {
                "entryType": "Message",
                "id": identifier,
                "abstractMessage": {
                    "messageType": "StaticContentMessage",
                    "id": identifier,
                    "staticContent": {"formatType": "Text", "text": text},
                },
            },
        },
    }
    for (
        path,
        value,
    ) in changes.items():  # "payload.senderDisplayName" → document["payload"]["senderDisplayName"]
        *parents, leaf = path.split(".")
        target = document
        for part in parents:
            target = target[part]
        target[leaf] = value
    return document


def status_entry(identifier: str, entry_payload) -> dict:
    return {
        "conversationIdentifier": CONVERSATION,
        "payload": {
            "identifier": identifier,
            "sender": {"subject": AGENT, "role": "System"},
            "entryType": entry_payload.get("entryType", "SessionStatusChanged")
            if isinstance(entry_payload, dict)
            else "SessionStatusChanged",
            "entryPayload": entry_payload,
        },
    }


def fields(document: dict | str) -> dict:
    payload = document if isinstance(document, str) else json.dumps(document)
    return {"EventType__c": "Interaction", "Payload__c": payload}


LONG = "x" * 300

HOSTILE = {
    "NUL in the agent's text": message_entry("e-1", text="Hel\x00lo"),
    "lone surrogate in the agent's text": message_entry("e-1", text="a\ud800b"),
    "NUL in a payload key": message_entry("e-1", **{"payload.entryPayload.x\x00y": "v\x00"}),
    "NUL in the display name": message_entry("e-1", **{"payload.senderDisplayName": "A\x00da"}),
    "identifier of 300 characters": message_entry(LONG),
    "identifier with a NUL": message_entry("e-\x001"),
    "identifier as an object": message_entry("e-1", **{"payload.identifier": {"a": 1}}),
    "session status of 300 characters": status_entry(
        "s-1", {"entryType": "SessionStatusChanged", "sessionStatus": LONG}
    ),
    "session status with a NUL": status_entry(
        "s-1", {"entryType": "SessionStatusChanged", "sessionStatus": "End\x00ed"}
    ),
    "session status as an object": status_entry(
        "s-1", {"entryType": "SessionStatusChanged", "sessionStatus": {"a": 1}}
    ),
    "session id as a list": status_entry(
        "s-1", {"entryType": "SessionStatusChanged", "sessionStatus": "Active", "sessionId": ["0Mw"]}
    ),
    "participant entries as strings": status_entry(
        "p-1", {"entryType": "ParticipantChanged", "entries": ["add", "agent"]}
    ),
    "participant subject as a number": status_entry(
        "p-1",
        {
            "entryType": "ParticipantChanged",
            "entries": [{"operation": "add", "participant": {"role": "Agent", "subject": 5}}],
        },
    ),
    "nested 10,000 levels deep": '{"payload": ' + "[" * 10_000 + "]" * 10_000 + "}",
    "NaN in the payload": '{"payload": {"identifier": "e-1", "entryType": "Message", "x": NaN}}',
    "participant entries as an object": status_entry(
        "p-1", {"entryType": "ParticipantChanged", "entries": {"operation": "add"}}
    ),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_platform_event_never_raises_and_the_next_reply_is_stored(conversation, case):
    record_agent_event(
        conversation.tenant, fields(HOSTILE[case])
    )  # must not raise: it would be replayed forever

    record_agent_event(conversation.tenant, fields(message_entry("good-1", text="The next reply")))
    good = Message.objects.get(direction="out", salesforce_entry_id="good-1")
    assert good.text == "The next reply" and good.status == Message.Status.PENDING
    conversation.refresh_from_db()
    assert len(conversation.session_status) <= 20 and "\x00" not in conversation.session_status


REPAIRED_TEXT = {
    "NUL in the agent's text": ("Hel\x00lo", "Hello", "NUL bytes removed"),
    "lone surrogate in the agent's text": ("a\ud800b", "a\ufffdb", "unpaired surrogates"),
}


@pytest.mark.parametrize("case", REPAIRED_TEXT, ids=list(REPAIRED_TEXT))
def test_the_agent_s_text_is_repaired_sent_and_the_repair_noted(conversation, case):
    sent, stored, note = REPAIRED_TEXT[case]
    record_agent_event(conversation.tenant, fields(message_entry("e-1", text=sent)))
    message = Message.objects.get(direction="out", salesforce_entry_id="e-1")
    assert message.text == stored and message.content["text"] == stored
    assert any(note in line for line in message.content["sanitized"]), message.content


def test_a_long_entry_identifier_is_stored_once_and_recognised_when_redelivered(conversation):
    record_agent_event(conversation.tenant, fields(message_entry(LONG)))
    record_agent_event(conversation.tenant, fields(message_entry(LONG)))  # Pub/Sub delivers at least once
    message = Message.objects.get(direction="out")
    assert len(message.salesforce_entry_id) <= Message._meta.get_field("salesforce_entry_id").max_length
