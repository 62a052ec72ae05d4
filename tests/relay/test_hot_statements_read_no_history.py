"""The hot statements read what they work on, not the history behind it (issue 16), on PostgreSQL.

They run prepared (portal/sql.py), and PostgreSQL soon plans a prepared statement once, generically, for any
parameters. Such a plan can use a partial index only when the statement states the index's condition in its own
text: with ``status = $3`` bound, the line's read walked every delivered message of the conversation instead
of the index of its pending ones; with provider ids bound, a delivery report scanned every outbound message of
the tenant; the notice claim walked every notice ever sent (all of them "due" once). Each cost grew with the
history, until a long-lived tenant's every message paid for all its earlier ones.

Here each hot statement runs as a generic plan (``plan_cache_mode = force_generic_plan``, prepared from the
first run) on a conversation with a long history, and PostgreSQL's own counters for the transaction
(``pg_stat_xact_user_tables``: rows read by sequential scans, heap rows fetched through indexes) must stay
small, whatever the history's length.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from relay.events import InboundMessage, ReportStatus, StatusReport
from relay.inbound import ingest
from relay.lines import pipeline
from relay.models import Conversation, Message, SalesforceNotice
from relay.outbound import notices, reports
from relay.outbound.record import record_agent_event
from tenants.models import SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans and counters"),
]

HISTORY = 1500  # messages each way, each outbound one with its Delivered and Read notices sent
BOUND = 60  # rows a statement may read: its own work and an index page's neighbours, never the history
CONVERSATION = "5d0c2f7e-0000-4000-8000-00000000c0de"
TABLES = ("relay_message", "relay_salesforcenotice", "relay_conversation")


@pytest.fixture
def history(settings):
    settings.DATABASE_PREPARED_STATEMENTS = True
    tenant = make_tenant(welcome_text="", closing_text="")
    SalesforceConnection.objects.create(tenant=tenant, instance_url="https://acme.my.salesforce.com")
    account = make_account(tenant)
    sender = make_sender(account, "+41793026731", channel_address_identifier="cai-7")
    past = timezone.now() - timedelta(days=30)
    conversation = Conversation.objects.create(
        tenant=tenant,
        sender=sender,
        customer="+385919998888",
        salesforce_conversation_id=CONVERSATION,
        last_inbound_at=timezone.now(),
    )
    common = {"tenant": tenant, "conversation": conversation, "kind": "text", "expires_at": past}
    Message.objects.bulk_create(
        [
            Message(
                **common,
                direction="in",
                sequence=n,
                provider="infobip",
                provider_message_id=f"in-{n}",
                status="delivered",
            )
            for n in range(1, HISTORY + 1)
        ]
        + [
            Message(
                **common,
                direction="out",
                sequence=n,
                provider="infobip",
                provider_message_id=f"out-{n}",
                salesforce_entry_id=f"entry-{n}",
                content={"entry_identifier": f"entry-{n}"},
                status="read",
            )
            for n in range(1, HISTORY + 1)
        ]
    )
    sent = Message.objects.filter(direction="out").values_list("pk", flat=True)
    SalesforceNotice.objects.bulk_create(
        SalesforceNotice(tenant=tenant, message_id=pk, kind=kind, status="done", next_attempt_at=past)
        for pk in sent
        for kind in ("delivered", "read")
    )
    # The message the next report is about, and the customer's message waiting to be delivered.
    Message.objects.create(
        **common,
        direction="out",
        sequence=HISTORY + 1,
        provider="infobip",
        provider_message_id="out-new",
        salesforce_entry_id="entry-new",
        content={"entry_identifier": "entry-new"},
        status="sent",
    )
    Message.objects.create(
        **common, direction="in", sequence=HISTORY + 1, provider="infobip", provider_message_id="in-new"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"ANALYZE {', '.join(TABLES)}"
        )  # as autovacuum would have: the planner knows the history
        cursor.execute("SET plan_cache_mode = force_generic_plan")
    raw = connection.connection
    threshold, raw.prepare_threshold = raw.prepare_threshold, 0  # prepared, so planned generically, at once
    yield account, sender, conversation
    raw.prepare_threshold = threshold
    with connection.cursor() as cursor:
        cursor.execute("RESET plan_cache_mode")


def rows_read(run) -> int:
    """Rows ``run`` made PostgreSQL read from the relay's tables: by sequential scans, and fetched from the heap
    through an index (a row an index led to and a filter then dropped counts: that is the walk)."""

    def counters() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(SUM(seq_tup_read + COALESCE(idx_tup_fetch, 0)), 0) FROM pg_stat_xact_user_tables "
                "WHERE relname = ANY(%s)",
                [list(TABLES)],
            )
            return cursor.fetchone()[0]

    before = counters()
    run()
    return counters() - before


def test_a_delivery_report_finds_its_message_by_index(history):
    account, _, _ = history
    report = StatusReport(provider_message_id="out-new", status=ReportStatus.READ)

    read = rows_read(lambda: reports.record_report(account.tenant_id, "infobip", ["out-new", "0"], report))

    assert read < BOUND
    assert Message.objects.get(provider_message_id="out-new").status == "read"


def test_the_notice_claim_reads_the_due_notices_only(history):
    account, _, conversation = history
    report = StatusReport(provider_message_id="out-new", status=ReportStatus.READ)
    reports.record_report(account.tenant_id, "infobip", ["out-new"], report)

    claimed: list = []
    read = rows_read(lambda: claimed.extend(notices._claim(conversation.pk)))

    assert read < BOUND
    assert [n.kind for n in claimed] == ["delivered", "read"]


def test_the_line_reads_its_pending_messages_only(history):
    _, _, conversation = history

    held: list = []
    read = rows_read(lambda: held.append(pipeline._claim_and_read(conversation.pk, "in", 20)))
    due = []
    read += rows_read(lambda: due.append(pipeline._due_now(conversation.pk, "in")))

    lease, batch = held[0]
    assert [m.provider_message_id for m in batch] == ["in-new"] and due == [True]
    lease.release()
    assert read < BOUND


def test_a_customer_message_and_an_agent_message_are_stored_without_reading_the_line(history):
    account, sender, conversation = history
    event = InboundMessage(
        provider_message_id="in-next",
        channel="whatsapp",
        sender_address=sender.address,
        customer=conversation.customer,
        kind="text",
        text="One more",
    )
    document = {
        "conversationIdentifier": CONVERSATION,
        "channelAddressIdentifier": "cai-7",
        "recipient": {"subject": conversation.customer, "role": "EndUser"},
        "payload": {
            "identifier": "entry-next",
            "entryType": "Message",
            "entryPayload": {
                "entryType": "Message",
                "id": "entry-next",
                "abstractMessage": {
                    "messageType": "StaticContentMessage",
                    "id": "entry-next",
                    "staticContent": {"formatType": "Text", "text": "Hello"},
                },
            },
            "sender": {"subject": "005Hs00000AbCdEIAZ", "role": "Agent"},
        },
    }

    stored: list = []
    read = rows_read(
        lambda: stored.append(
            ingest._store_inbound_at_once(account, sender, event, ingest.IngestResult(), [])
        )
    )
    read += rows_read(
        lambda: record_agent_event(
            account.tenant, {"EventType__c": "Interaction", "Payload__c": json.dumps(document)}
        )
    )

    assert stored == [True]
    assert read < BOUND
    assert {m.direction: m.sequence for m in Message.objects.filter(sequence=HISTORY + 2)} == {
        "in": HISTORY + 2,
        "out": HISTORY + 2,
    }
