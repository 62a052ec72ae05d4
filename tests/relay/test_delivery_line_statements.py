"""A delivery line's bookkeeping (issue 16): the attempt row rides on the statement that marks the message, and
the lease claim reads the line's first batch, so a message costs one statement of its own, yet every try stays
a row (shown in the admin and the API), in order, once.

Against the sandbox: inbound messages to the Interaction Service, outbound ones to Infobip, through the real
pipeline; and a step that fails after its call still leaves that call's row.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relay.inbound import deliver as inbound
from relay.lines import attempts, leases, pipeline, wake
from relay.models import Conversation, DeliveryAttempt, Message
from relay.outbound import send as outbound

from .test_internal_errors import add_message, agent_entry
from .test_internal_errors import demo as wired_demo  # noqa: F401 - a fixture, used by its name

pytestmark = pytest.mark.django_db(transaction=True)


def tries(message) -> list[tuple[str, str, str]]:
    return list(
        DeliveryAttempt.objects.filter(message=message)
        .order_by("id")
        .values_list("target", "action", "outcome")
    )


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]


def test_inbound_messages_are_delivered_in_order_with_one_attempt_row_each(wired_demo):  # noqa: F811 - the fixture imported above
    demo = wired_demo
    texts = ["first", "second", "third"]
    rows = [add_message(demo, "in", kind="text", text=text) for text in texts]
    with CaptureQueriesContext(connection) as queries:
        due = pipeline.run(
            demo.conversation.pk, Message.Direction.INBOUND, inbound.deliver, inbound.on_failed
        )
    assert due is None
    assert Conversation.objects.get(pk=demo.conversation.pk).inbound_lease_until is None  # given up
    for row in rows:
        stored = Message.objects.get(pk=row.pk)
        assert (stored.status, stored.attempts, stored.last_error) == (Message.Status.DELIVERED, 1, "")
        assert tries(row) == [("salesforce", "interaction", DeliveryAttempt.Outcome.OK)]
    # Delivered in the line's order: the attempt rows were written in that order.
    first_tries = [DeliveryAttempt.objects.get(message=row).pk for row in rows]
    assert first_tries == sorted(first_tries)
    if connection.vendor == "postgresql":
        # Claim and read, one statement per message (mark + attempt; the last one releases the lease too),
        # the last look.
        assert len(queries.captured_queries) <= len(rows) + 2, [
            q["sql"][:80] for q in queries.captured_queries
        ]
        assert not [sql for sql in writes(queries) if sql.startswith(("BEGIN", "COMMIT"))]


def test_outbound_messages_are_sent_with_one_attempt_row_each(wired_demo):  # noqa: F811 - the fixture imported above
    demo = wired_demo
    rows = [
        add_message(demo, "out", kind="text", text=text, salesforce_entry_id=agent_entry(demo, text))
        for text in ("one", "two")
    ]
    with CaptureQueriesContext(connection) as queries:
        pipeline.run(demo.conversation.pk, Message.Direction.OUTBOUND, outbound.send, outbound.on_send_failed)
    for row in rows:
        stored = Message.objects.get(pk=row.pk)
        assert (stored.status, stored.attempts, stored.last_error) == (Message.Status.SENT, 1, "")
        assert stored.provider_message_id  # Infobip's id, written by the same statement
        assert tries(row) == [("infobip", "send", DeliveryAttempt.Outcome.OK)]
    assert Conversation.objects.get(pk=demo.conversation.pk).outbound_lease_until is None  # given up
    if connection.vendor == "postgresql":
        assert len(queries.captured_queries) <= len(rows) + 2, [
            q["sql"][:80] for q in queries.captured_queries
        ]


def test_a_held_try_is_written_when_the_step_fails_after_its_call(wired_demo):  # noqa: F811 - the fixture imported above
    demo = wired_demo
    """The row a step held for the statement marking its message is not lost when that statement never runs:
    the call was made. The internal error that followed is its own row, and the line backs off."""
    message = add_message(demo, "in", kind="text", text="called, then broken")

    def deliver(row):
        with attempts.attempt(row, target="salesforce", action="interaction", held=True):
            pass  # the call succeeded
        raise RuntimeError("broken after the call")

    due = pipeline.run(demo.conversation.pk, Message.Direction.INBOUND, deliver, inbound.on_failed)
    assert due is not None
    assert [outcome for _, _, outcome in tries(message)] == [
        DeliveryAttempt.Outcome.OK,
        DeliveryAttempt.Outcome.INTERNAL,
    ]
    stored = Message.objects.get(pk=message.pk)
    assert stored.status == Message.Status.PENDING and stored.internal_errors == 1


def test_mark_tried_writes_the_attempt_even_when_the_message_moved_on(wired_demo):  # noqa: F811 - the fixture imported above
    demo = wired_demo
    """``only_pending``: a message failed meanwhile keeps its status, but the call that was made is a row."""
    message = add_message(demo, "out", kind="text", text="late", status=Message.Status.FAILED)
    with attempts.attempt(message, target="infobip", action="send", held=True):
        pass
    assert tries(message) == []  # held for the marking statement
    changed = attempts.mark_tried(message, {"status": Message.Status.SENT}, only_pending=True)
    assert changed is False
    stored = Message.objects.get(pk=message.pk)
    assert (stored.status, stored.attempts) == (Message.Status.FAILED, 0)
    assert tries(message) == [("infobip", "send", DeliveryAttempt.Outcome.OK)]
    # The held row is gone with it: writing what is held again adds nothing.
    attempts.write_held(message)
    assert len(tries(message)) == 1


def test_a_line_held_by_another_worker_is_neither_claimed_nor_read(wired_demo):  # noqa: F811 - the fixture imported above
    demo = wired_demo
    message = add_message(demo, "in", kind="text", text="waits for the holder")
    holder = leases.claim(demo.conversation.pk, Message.Direction.INBOUND)
    assert holder is not None
    assert pipeline.run(demo.conversation.pk, "in", inbound.deliver, inbound.on_failed) is None
    assert Message.objects.get(pk=message.pk).status == Message.Status.PENDING
    assert tries(message) == []
    holder.release()
    pipeline.run(demo.conversation.pk, "in", inbound.deliver, inbound.on_failed)
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED


def test_a_message_stored_while_the_last_one_is_delivered_brings_the_task_back(wired_demo):  # noqa: F811 - the fixture imported above
    """The statement marking the line's last message gives the lease up; a message committed meanwhile (its
    wake skipped, as the line's task was still working) is found by the run's last look: come back at once."""
    demo = wired_demo
    first = add_message(demo, "in", kind="text", text="the last one read")
    late = []

    def deliver(row):
        if not late:
            late.append(add_message(demo, "in", kind="text", text="stored meanwhile"))
        inbound.deliver(row)

    due = pipeline.run(demo.conversation.pk, Message.Direction.INBOUND, deliver, inbound.on_failed)
    assert Message.objects.get(pk=first.pk).status == Message.Status.DELIVERED
    assert Message.objects.get(pk=late[0].pk).status == Message.Status.PENDING
    assert due is not None  # at once: the task comes back for it
    pipeline.run(demo.conversation.pk, Message.Direction.INBOUND, inbound.deliver, inbound.on_failed)
    assert Message.objects.get(pk=late[0].pk).status == Message.Status.DELIVERED


def test_the_line_is_free_once_its_queued_mark_is_cleared(wired_demo, monkeypatch):  # noqa: F811 - the fixture imported above
    """The order the wakes rely on (relay/lines/wake.py): a run gives its lease up before it clears the line's
    queued mark. A message stored after the mark is gone wakes a task of its own, and that task must be able to
    claim the line: one that found the lease still taken would end, and its message wait for the sweeper. (A run
    that cleared the mark first, then looked and released in one statement, left such messages behind: the
    look's snapshot predates them, the task's claim the release.)"""
    demo = wired_demo
    add_message(demo, "in", kind="text", text="the line's last message")
    claims: list = []
    finished = wake.finished

    def mark_cleared(kind, conversation_id):
        finished(kind, conversation_id)
        claims.append(leases.claim(conversation_id, kind))  # the task a wake now queues

    monkeypatch.setattr(wake, "finished", mark_cleared)
    pipeline.run(demo.conversation.pk, Message.Direction.INBOUND, inbound.deliver, inbound.on_failed)

    assert len(claims) == 1 and claims[0] is not None
    claims[0].release()
