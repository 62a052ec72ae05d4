"""One statement stores a message at the end of its line (relay/models.py: insert_at_end_of_line, insert_once).

The INSERT computes the sequence and turns a duplicate into a no-op through ``ON CONFLICT``, whose target
must name the unique constraint exactly as Meta declares it (a partial index included): checked here on
the database the suite runs on (SQLite by default, PostgreSQL in CI), with the rows that come of it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from relay.events import InboundMessage, Kind
from relay.inbound.ingest import ingest
from relay.models import Conversation, Message, conflict_target, insert_at_end_of_line
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    tenant = make_tenant()
    sender = make_sender(make_account(tenant))
    return Conversation.objects.create(tenant=tenant, sender=sender, customer="+385911111111")


def new_message(conversation, provider_message_id: str, direction: str = "in", **extra) -> Message:
    now = timezone.now()
    extra.setdefault("text", provider_message_id)
    return Message(
        tenant=conversation.tenant,
        conversation=conversation,
        direction=direction,
        kind="text",
        provider="infobip",
        provider_message_id=provider_message_id,
        expires_at=now + timedelta(days=1),
        **extra,
    )


def test_conflict_targets_name_the_constraints_as_meta_declares_them():
    assert conflict_target(Message, "one_message_per_provider_message_id") == (
        '("tenant_id", "provider", "provider_message_id") WHERE NOT ("provider_message_id" = \'\')'
    )
    assert conflict_target(Message, "one_message_per_salesforce_entry") == (
        '("tenant_id", "salesforce_entry_id") WHERE NOT ("salesforce_entry_id" = \'\')'
    )
    assert (
        conflict_target(Conversation, "one_conversation_per_sender_and_customer")
        == '("sender_id", "customer")'
    )
    with pytest.raises(StopIteration):
        conflict_target(Message, "no_such_constraint")


def test_each_message_goes_to_the_end_of_its_own_line_and_a_duplicate_changes_nothing(conversation):
    unless = "one_message_per_provider_message_id"
    first, second = new_message(conversation, "m-1"), new_message(conversation, "m-2")
    assert insert_at_end_of_line(first, unless=unless) and insert_at_end_of_line(second, unless=unless)
    outbound = new_message(conversation, "o-1", direction="out")
    assert insert_at_end_of_line(outbound, unless=unless)
    assert (first.sequence, second.sequence, outbound.sequence) == (1, 2, 1)  # per direction
    assert Message.objects.get(pk=second.pk).sequence == 2

    again = new_message(conversation, "m-1", text="replayed")
    assert insert_at_end_of_line(again, unless=unless) is False
    assert again.pk is None
    assert list(Message.objects.filter(direction="in").values_list("text", "sequence")) == [
        ("m-1", 1),
        ("m-2", 2),
    ]


def test_rows_outside_a_partial_constraint_never_conflict(conversation):
    """Messages without a Salesforce entry id (Switchboard's own texts) are not in that unique index."""
    unless = "one_message_per_salesforce_entry"
    texts = [new_message(conversation, f"s-{n}", direction="out", salesforce_entry_id="") for n in range(2)]
    assert all(insert_at_end_of_line(m, unless=unless) for m in texts)
    agent = new_message(conversation, "a-1", direction="out", salesforce_entry_id="0Xe-entry")
    assert insert_at_end_of_line(agent, unless=unless)
    twice = new_message(conversation, "a-2", direction="out", salesforce_entry_id="0Xe-entry")
    assert not insert_at_end_of_line(twice, unless=unless)
    assert Message.objects.filter(direction="out").count() == 3


def test_a_replayed_webhook_stores_nothing_and_does_not_reopen_the_window(conversation):
    account = conversation.sender.account
    sender = conversation.sender
    event = InboundMessage(
        provider_message_id="wamid-1",
        channel=sender.channel,
        sender_address=sender.address,
        customer="+385922222222",
        customer_name="Ana",
        kind=Kind.TEXT,
        text="Hello",
    )
    first = ingest(account, [event])
    new = Conversation.objects.get(customer="+385922222222")
    assert (first.accepted, first.duplicates, new.customer_name) == (1, 0, "Ana")
    opened = new.last_inbound_at
    Conversation.objects.filter(pk=new.pk).update(last_inbound_at=opened - timedelta(hours=30))

    replay = ingest(account, [event])
    assert (replay.accepted, replay.duplicates) == (0, 1)
    assert Conversation.objects.get(pk=new.pk).last_inbound_at == opened - timedelta(hours=30)
    assert Message.objects.filter(conversation=new).count() == 1
