"""Every acknowledgement reaches Salesforce exactly once, batched (issue 16).

Counted where it matters, in the sandbox's Salesforce: each receipt it stores counts the times it was sent
(``received``; a replay with the same entry id is stored once and counted), and its request log counts the
acknowledgement calls. Before, a report's notices were queued twice (once when stored, once by the webhook's
ingest) and the two tasks raced: 28% of the receipts went twice. Here the tasks the reports queue are run
together with more copies of them (a sweep's, a retry's) on parallel threads, each with its own database
connection: a notice is claimed by one worker only.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from relay import tasks
from relay.events import ReportStatus, StatusReport
from relay.inbound.ingest import ingest
from relay.models import Message, SalesforceNotice
from relay.outbound import notices
from relay.salesforce.interactions import MAX_ACKNOWLEDGEMENTS

from .test_internal_errors import agent_reply, console_list
from .test_internal_errors import demo as wired_demo  # noqa: F401 - a fixture, used by its name

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(wired_demo):  # noqa: F811 - the wired demo tenant, conversation and accepting agent
    return wired_demo


def sent_agent_messages(demo, count: int) -> list[Message]:
    """``count`` agent replies, each a console entry in Salesforce and a message the provider took."""
    return [agent_reply(demo, f"Reply {number}", status=Message.Status.SENT) for number in range(count)]


def report(demo, messages: list[Message], status: ReportStatus) -> list[int]:
    """The provider's webhook with a report for each message; returns the message ids whose notices the
    ingest queued (the tasks are kept, not run, so the test decides when and how many run at once)."""
    queued: list[int] = []
    account = demo.conversation.sender.account
    task = tasks.notify_salesforce
    original = task.delay, task.apply_async
    task.delay = queued.append
    # A report's task starts RELAY_NOTICES_GATHER_SECONDS later (relay/lines/wake.py): kept all the same.
    task.apply_async = lambda args, **options: queued.append(args[0])
    try:
        ingest(
            account,
            [StatusReport(provider_message_id=m.provider_message_id, status=status) for m in messages],
        )
    finally:
        task.delay, task.apply_async = original
    return queued


def run_at_once(task_args: list[int]) -> None:
    """Each task on its own thread and database connection, released together."""
    start = threading.Barrier(len(task_args))
    errors: list[BaseException] = []

    def work(message_id: int) -> None:
        try:
            start.wait(timeout=10)
            tasks.notify_salesforce(message_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(pk,)) for pk in task_args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def receipts(demo) -> dict[tuple[str, str], int]:
    """(entry, Delivered|Read) -> how many times Salesforce received it."""
    return {
        (row["acknowledgedEntryIdentifier"], row["type"]): row["received"]
        for row in console_list(demo, "acknowledgements")
    }


def acknowledgement_calls(demo) -> int:
    return sum(1 for r in console_list(demo, "requests") if r["path"].endswith("/acknowledgement"))


def test_each_receipt_reaches_salesforce_once_in_one_batch_however_many_tasks_race(demo):
    messages = sent_agent_messages(demo, 4)
    queued = report(demo, messages, ReportStatus.READ)  # Read implies Delivered: two notices a message

    # One task for the conversation, not one per notice (twice).
    assert len(queued) == 1
    assert SalesforceNotice.objects.filter(status="pending").count() == 8
    run_at_once(queued * 3 + [m.pk for m in messages])  # the queued task, its copies, a sweep per message

    expected = {(m.salesforce_entry_id, kind): 1 for m in messages for kind in ("Delivered", "Read")}
    assert receipts(demo) == expected
    assert acknowledgement_calls(demo) == 1  # eight receipts in one call
    assert set(SalesforceNotice.objects.values_list("status", "attempts", "claim")) == {("done", 1, None)}
    attempts = Message.objects.get(pk=messages[0].pk).delivery_attempts.values_list("action", "outcome")
    assert sorted(attempts) == [("acknowledgement_delivered", "ok"), ("acknowledgement_read", "ok")]


def test_a_later_report_is_sent_once_and_the_earlier_receipts_are_not_sent_again(demo):
    messages = sent_agent_messages(demo, 2)
    run_at_once(report(demo, messages, ReportStatus.DELIVERED) * 2)
    run_at_once(report(demo, messages, ReportStatus.READ) * 2)
    run_at_once(report(demo, messages, ReportStatus.READ) * 2)  # a replayed webhook: nothing new

    assert receipts(demo) == {(m.salesforce_entry_id, k): 1 for m in messages for k in ("Delivered", "Read")}
    assert acknowledgement_calls(demo) == 2


def test_more_receipts_than_one_call_carries_go_in_calls_of_at_most_25(demo):
    messages = sent_agent_messages(demo, 15)  # 30 receipts
    queued = report(demo, messages, ReportStatus.READ)
    tasks.notify_salesforce(queued[0])

    assert set(receipts(demo).values()) == {1} and len(receipts(demo)) == 30
    # Salesforce takes 1 to 25 a call (it answers 400 to more): two calls, both taken.
    calls = [r for r in console_list(demo, "requests") if r["path"].endswith("/acknowledgement")]
    assert [r["status"] for r in calls] == [200, 200]
    assert MAX_ACKNOWLEDGEMENTS == 25


def test_a_claimed_notice_is_not_due_for_anyone_else_until_its_lease_runs_out(demo, settings):
    """A worker that dies after claiming leaves the notice to the sweeper once the lease ends, not before."""
    (message,) = sent_agent_messages(demo, 1)
    report(demo, [message], ReportStatus.DELIVERED)
    batch = notices._claim(message.conversation_id)  # a worker claims, then dies
    assert [n.kind for n in batch] == ["delivered"]
    assert notices._claim(message.conversation_id) == []  # nobody else can take it meanwhile
    notice = SalesforceNotice.objects.get(message=message)
    assert notice.next_attempt_at >= timezone.now() + timedelta(seconds=settings.RELAY_LEASE_SECONDS - 1)

    SalesforceNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())  # the lease ran out
    assert notices.notify(message.pk) is None
    assert receipts(demo) == {(message.salesforce_entry_id, "Delivered"): 1}
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == ("done", 2)


def test_a_message_whose_earlier_notice_waits_keeps_its_later_one_back(demo):
    """Order per message: Read is not sent while Delivered of the same entry backs off."""
    first, second = sent_agent_messages(demo, 2)
    report(demo, [first, second], ReportStatus.DELIVERED)
    later = timezone.now() + timedelta(minutes=5)
    SalesforceNotice.objects.filter(message=first).update(next_attempt_at=later)  # backing off
    report(demo, [first, second], ReportStatus.READ)

    notices.notify(first.pk)
    assert set(receipts(demo)) == {
        (second.salesforce_entry_id, "Delivered"),
        (second.salesforce_entry_id, "Read"),
    }
    assert set(SalesforceNotice.objects.filter(message=first).values_list("kind", "status")) == {
        ("delivered", "pending"),
        ("read", "pending"),
    }
