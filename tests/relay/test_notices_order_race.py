"""Order per message when two notices tasks of one conversation claim at the same moment (PostgreSQL).

A claim locks its candidates in order and waits for a notice another claim holds; when that one turns out
taken (leased), PostgreSQL drops it from the waiting claim, but the statement's other conditions were read
before the wait. A message's Read must then not be claimed without its Delivered: Salesforce would hear of the
read before the delivery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from relay.events import ReportStatus, StatusReport
from relay.inbound.ingest import ingest
from relay.models import SalesforceNotice
from relay.outbound import notices
from tests.relay.test_webhook_hot_path import agent_message, while_locked

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: SQLite serializes writers"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def account(db, monkeypatch):
    from relay import tasks
    from tests.factories import make_account, make_sender, make_tenant

    monkeypatch.setattr(tasks.notify_salesforce, "delay", lambda pk: None)  # the test claims by itself
    monkeypatch.setattr(tasks.notify_salesforce, "apply_async", lambda args, **options: None)
    account = make_account(make_tenant(welcome_text=""))
    account.sender = make_sender(account, "+41793026731")
    return account


def test_a_read_is_not_claimed_while_its_delivered_is_in_another_claims_hands(account):
    message = agent_message(account)
    ingest(account, [StatusReport(message.provider_message_id, ReportStatus.READ)])  # Delivered and Read
    delivered = SalesforceNotice.objects.get(message=message, kind="delivered")
    claimed: dict = {}

    def second_claim() -> None:
        claimed["batch"] = notices._claim(message.conversation_id)

    # The first claim, its transaction still open, holds Delivered while the second waits for it.
    with while_locked("relay_salesforcenotice", delivered.pk, second_claim) as cursor:
        cursor.execute(  # the first claim takes Delivered for its lease (and not yet Read)
            "UPDATE relay_salesforcenotice SET next_attempt_at = %s, attempts = 1 WHERE id = %s",
            [timezone.now() + timedelta(minutes=5), delivered.pk],
        )
    assert [n.kind for n in claimed["batch"]] == []  # Read waits for Delivered, in the first claim's hands
    read = SalesforceNotice.objects.get(message=message, kind="read")
    assert (read.status, read.attempts, read.claim) == ("pending", 0, None)
