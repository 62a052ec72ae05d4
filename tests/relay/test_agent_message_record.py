"""An agent's message becomes an outbound row in one statement (relay/outbound/record.py, issue 16).

On PostgreSQL the listener's handler finds and locks the conversation, inserts the row at the end of the
outbound line and touches the conversation in one statement, outside any transaction. What must hold: the
same conversation as before is chosen (the Salesforce conversation id, else the channel address and the
customer), a redelivered event stores nothing, the line is woken only for a new row, and a message another
transaction adds to the same line while the statement waits for the row lock never shares its position.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from relay.lines import wake
from relay.models import Conversation, Message, insert_at_end_of_line
from relay.outbound import record
from relay.outbound.record import queue_outbound, record_agent_event
from tenants.models import SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant

CONVERSATION = "5d0c2f7e-0000-4000-8000-00000000a9e1"


@pytest.fixture
def conversation():
    tenant = make_tenant(closing_text="", delivery_window=timedelta(hours=5))
    SalesforceConnection.objects.create(tenant=tenant, instance_url="https://acme.my.salesforce.com")
    sender = make_sender(make_account(tenant), "+41793026731")
    sender.channel_address_identifier = "cai-7"
    sender.save()
    return Conversation.objects.create(
        tenant=tenant,
        sender=sender,
        customer="+385919998888",
        salesforce_conversation_id=CONVERSATION,
        last_inbound_at=timezone.now(),
    )


def event(identifier: str, text: str = "Hi", *, conversation: str = CONVERSATION, address="cai-7") -> dict:
    document = {
        "conversationIdentifier": conversation,
        "channelAddressIdentifier": address,
        "recipient": {"subject": "+385919998888", "role": "EndUser"},
        "payload": {
            "identifier": identifier,
            "senderDisplayName": "Ada",
            "sender": {"subject": "005Hs00000AbCdEIAZ", "role": "Agent"},
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
    return {"EventType__c": "Interaction", "Payload__c": json.dumps(document)}


@pytest.fixture
def woken(monkeypatch):
    lines: list[int] = []
    monkeypatch.setattr(wake, "outbound_line", lambda conversation_id, **_: lines.append(conversation_id))
    return lines


@pytest.mark.django_db(transaction=True)
def test_the_row_is_complete_at_the_end_of_the_line_and_a_redelivery_stores_nothing(conversation, woken):
    before = Conversation.objects.get(pk=conversation.pk).updated_at
    record_agent_event(conversation.tenant, event("0XF-1", "First"))
    record_agent_event(conversation.tenant, event("0XF-2", "Second"))
    record_agent_event(conversation.tenant, event("0XF-1", "First"))  # redelivered

    rows = list(Message.objects.filter(conversation=conversation).order_by("sequence"))
    assert [(m.sequence, m.text, m.salesforce_entry_id) for m in rows] == [
        (1, "First", "0XF-1"),
        (2, "Second", "0XF-2"),
    ]
    first = rows[0]
    assert first.direction == "out" and first.status == "pending" and first.kind == "text"
    assert first.provider == conversation.sender.account.provider and first.provider_message_id
    assert first.content["entry_identifier"] == "0XF-1"
    assert first.content["agent"] == {"id": "005Hs00000AbCdEIAZ", "name": "Ada"}
    assert first.expires_at - first.next_attempt_at == timedelta(hours=5)  # the tenant's delivery window
    assert woken == [conversation.pk, conversation.pk]  # not for the redelivery
    assert Conversation.objects.get(pk=conversation.pk).updated_at > before


@pytest.mark.django_db(transaction=True)
def test_without_a_known_conversation_id_the_channel_address_and_customer_find_it(conversation, woken):
    record_agent_event(conversation.tenant, event("0XF-3", conversation="unknown"))
    record_agent_event(conversation.tenant, event("0XF-4", conversation=""))
    record_agent_event(conversation.tenant, event("0XF-5", conversation="unknown", address="cai-other"))

    entries = Message.objects.filter(conversation=conversation).values_list("salesforce_entry_id", flat=True)
    assert sorted(entries) == ["0XF-3", "0XF-4"]
    assert Message.objects.count() == 2  # the third names no conversation of ours: logged, not stored


@pytest.mark.parametrize("long_way", [False, True], ids=["one-statement", "locked"])
@pytest.mark.django_db(transaction=True)
def test_a_conversation_without_a_salesforce_id_learns_it_from_the_agent_s_message(
    conversation, woken, monkeypatch, long_way
):
    """Found by its channel address and customer, a conversation with no Salesforce conversation id (one
    Salesforce started, one opened with a template) takes the event's: the acknowledgements of its messages must
    name it (the Interaction Service requires it and answers an empty one with 10018, which is final). One it
    already has is kept, and a value too long to be Salesforce's changes nothing and stores the message."""
    if long_way:
        monkeypatch.setattr(record, "_insert_outbound", lambda **_: record._RACE)
    Conversation.objects.filter(pk=conversation.pk).update(salesforce_conversation_id="")
    record_agent_event(conversation.tenant, event("0XF-L1", conversation="x" * 65))
    conversation.refresh_from_db()
    assert conversation.salesforce_conversation_id == ""
    learned = "7a1c2f7e-0000-4000-8000-00000000b001"
    record_agent_event(conversation.tenant, event("0XF-L2", conversation=learned))
    conversation.refresh_from_db()
    assert conversation.salesforce_conversation_id == learned
    record_agent_event(
        conversation.tenant, event("0XF-L3", conversation="7a1c2f7e-0000-4000-8000-00000000b002")
    )
    conversation.refresh_from_db()
    assert conversation.salesforce_conversation_id == learned  # by address and customer again: kept
    entries = Message.objects.filter(conversation=conversation).values_list("salesforce_entry_id", flat=True)
    assert sorted(entries) == ["0XF-L1", "0XF-L2", "0XF-L3"]


@pytest.mark.django_db
def test_inside_a_caller_s_transaction_the_row_is_stored_and_woken_on_commit(conversation, woken):
    record_agent_event(conversation.tenant, event("0XF-6"))
    assert Message.objects.filter(salesforce_entry_id="0XF-6").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_added_while_the_statement_waits_for_the_lock_keeps_its_own_position(
    conversation, woken, monkeypatch
):
    """Another transaction holds the conversation and adds a message; the agent's message waits for the lock,
    and its statement's MAX(sequence) cannot see that row: it is stored after it all the same (the long way)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    long_way = []
    locked = record._record_agent_message_locked
    monkeypatch.setattr(
        record,
        "_record_agent_message_locked",
        lambda *args: long_way.append(args[2]["text"]) or locked(*args),
    )
    holding, release, errors = threading.Event(), threading.Event(), []

    def other_writer() -> None:
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
                now = timezone.now()
                insert_at_end_of_line(
                    Message(
                        tenant=conversation.tenant,
                        conversation=conversation,
                        direction="out",
                        kind="text",
                        text="Welcome",
                        provider="infobip",
                        provider_message_id="welcome-1",
                        expires_at=now + timedelta(days=1),
                    ),
                    unless="one_message_per_provider_message_id",
                )
                holding.set()
                release.wait(timeout=30)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    def agent() -> None:
        try:
            record_agent_event(conversation.tenant, event("0XF-7", "After the welcome"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert holding.wait(timeout=30)
    listener = threading.Thread(target=agent)
    listener.start()
    _wait_until_a_backend_waits_for_a_lock()
    release.set()
    writer.join(timeout=30)
    listener.join(timeout=30)

    assert not errors, errors
    rows = Message.objects.filter(conversation=conversation).order_by("sequence")
    assert [(m.sequence, m.text) for m in rows] == [(1, "Welcome"), (2, "After the welcome")]
    assert long_way == ["After the welcome"]


def _wait_until_a_backend_waits_for_a_lock() -> None:
    """Until PostgreSQL shows a session waiting for a row lock (polled with a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the agent's statement never waited for the conversation's lock")


@pytest.mark.django_db
def test_the_echo_of_the_customer_s_own_message_costs_no_query(
    conversation, woken, django_assert_num_queries
):
    tenant = conversation.tenant
    echo = json.loads(event("0XF-8")["Payload__c"])
    echo["payload"]["sender"]["role"] = "EndUser"
    tenant.salesforce  # noqa: B018 - loaded as the listener has it
    with django_assert_num_queries(0):
        record_agent_event(tenant, {"EventType__c": "Interaction", "Payload__c": json.dumps(echo)})
    assert not Message.objects.exists() and woken == []


@pytest.mark.django_db(transaction=True)
def test_queue_outbound_returns_the_stored_row_and_none_for_an_entry_seen_before(conversation, woken):
    """The other desks' path (Enhanced Chat, Legacy Chat, Cases) and Switchboard's own texts."""
    first = queue_outbound(conversation, {"kind": "text", "text": "Welcome", "system": "welcome"})
    reply = queue_outbound(conversation, {"kind": "text", "text": "Reply"}, salesforce_entry_id="lc-1")
    again = queue_outbound(conversation, {"kind": "text", "text": "Reply"}, salesforce_entry_id="lc-1")

    assert again is None
    assert first is not None and reply is not None
    stored = {m.pk: m for m in Message.objects.filter(conversation=conversation)}
    assert sorted(stored) == sorted([first.pk, reply.pk])
    for returned in (first, reply):
        row = stored[returned.pk]
        assert (row.sequence, row.text, row.provider_message_id, row.content, row.expires_at) == (
            returned.sequence,
            returned.text,
            returned.provider_message_id,
            returned.content,
            returned.expires_at,
        )
    assert [first.sequence, reply.sequence] == [1, 2]
    assert woken == [conversation.pk, conversation.pk]
