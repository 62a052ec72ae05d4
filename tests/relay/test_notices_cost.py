"""What sending Salesforce notices costs in SQL statements (issue 16), on PostgreSQL.

A notice task claims a batch and reads it with its messages and conversation in one statement, and marks the
batch done in the statement that looks for more: two statements of its own whatever the batch's size (the
attempt rows are written by relay/lines/attempts.py). Before: seven for one notice (the message's
conversation, the claim, the read, the attempt, the mark, two empty claims), nine for twenty.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relay import tasks
from relay.events import ReportStatus
from relay.models import SalesforceNotice

from .test_internal_errors import demo as wired_demo  # noqa: F401 - a fixture, used by its name
from .test_notices_once import acknowledgement_calls, receipts, report, sent_agent_messages

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(wired_demo):  # noqa: F811 - the wired demo tenant, conversation and accepting agent
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement claim is PostgreSQL's; elsewhere the ORM's")
    return wired_demo


def notice_statements(run) -> list[str]:
    """The statements ``run`` made, less the attempt rows (and the transaction around several of them)."""
    with CaptureQueriesContext(connection) as queries:
        run()
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"] not in ("BEGIN", "COMMIT") and "relay_deliveryattempt" not in q["sql"]
    ]


def test_one_report_s_notice_costs_two_statements(demo):
    (message,) = sent_agent_messages(demo, 1)
    queued = report(demo, [message], ReportStatus.DELIVERED)

    assert len(notice_statements(lambda: tasks.notify_salesforce(queued[0]))) == 2
    assert receipts(demo) == {(message.salesforce_entry_id, "Delivered"): 1}
    assert set(SalesforceNotice.objects.values_list("status", "attempts", "claim")) == {("done", 1, None)}


def test_twenty_notices_in_one_task_cost_two_statements_and_one_call(demo):
    messages = sent_agent_messages(demo, 10)
    queued = report(demo, messages, ReportStatus.READ)  # Delivered and Read for each

    assert len(notice_statements(lambda: tasks.notify_salesforce(queued[0]))) == 2
    assert set(receipts(demo).values()) == {1} and len(receipts(demo)) == 20
    assert acknowledgement_calls(demo) == 1
    assert set(SalesforceNotice.objects.values_list("status", flat=True)) == {"done"}


def test_a_full_batch_is_marked_done_while_the_next_is_claimed(demo):
    messages = sent_agent_messages(demo, 15)  # 30 notices: a batch of 25, then 5
    queued = report(demo, messages, ReportStatus.READ)

    assert len(notice_statements(lambda: tasks.notify_salesforce(queued[0]))) == 3
    assert set(receipts(demo).values()) == {1} and len(receipts(demo)) == 30
    assert acknowledgement_calls(demo) == 2
    assert set(SalesforceNotice.objects.values_list("status", "claim")) == {("done", None)}
