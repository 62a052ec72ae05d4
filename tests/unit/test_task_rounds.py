"""A line due again right after its task's last look (its next message stored while the task worked) runs again
in the same task, up to ``LINE_ROUNDS`` times, instead of a task through the broker; when a wake since has
queued a task for the line, that task reads the work and nothing more is queued; a retry that is due already
is queued without an eta (relay/tasks.py ``_run``; the marks are relay/lines/wake.py's, in the test cache)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal import fast_publish
from relay import tasks
from relay.lines import wake

LINE = 7


@pytest.fixture
def published(monkeypatch):
    """What the tasks queue through the broker: (task name, args, eta)."""
    calls: list[tuple[str, tuple, object]] = []
    for task in (tasks.deliver_inbound, tasks.deliver_outbound, tasks.notify_salesforce):
        monkeypatch.setattr(
            task,
            "apply_async",
            lambda args, eta=None, _name=task.name: calls.append((_name, tuple(args), eta)),
        )
        monkeypatch.setattr(task, "delay", lambda *args, _name=task.name: calls.append((_name, args, None)))
    monkeypatch.setitem(tasks.deliver_inbound.app.conf, "task_always_eager", False)
    monkeypatch.setattr(fast_publish, "_publisher", None)  # Celery's own publish, intercepted above
    wake.finished("in", LINE)
    yield calls
    wake.finished("in", LINE)


def line_run(dues: list, on_run=None):
    """A stand-in for the pipeline's run: like it, clears the line's mark before its last look, then answers the
    next due time of ``dues``."""
    runs: list[int] = []

    def work():
        runs.append(len(runs))
        if on_run is not None:
            on_run(len(runs))
        wake.finished("in", LINE)
        return dues[len(runs) - 1]

    return work, runs


def test_a_line_due_again_runs_again_in_the_same_task(published):
    now = timezone.now()
    work, runs = line_run([now, now, None])
    tasks._run(tasks.deliver_inbound, (LINE,), work, ("in", LINE))
    assert len(runs) == 3
    assert published == []
    assert wake.again("in", LINE), "the mark the task took for its rounds was cleared by the last run"


def test_a_wake_after_the_last_look_leaves_the_work_to_the_woken_task(published):
    def work():
        # The run's last look found a message; its wake came after the mark was cleared and queued a task.
        wake.finished("in", LINE)
        wake.inbound_line(LINE)
        return timezone.now()

    tasks._run(tasks.deliver_inbound, (LINE,), work, ("in", LINE))
    assert published == [("relay.tasks.deliver_inbound", (LINE,), None)]  # the wake's task, and no other


def test_a_line_always_due_goes_to_the_back_of_the_queue_after_its_rounds(published):
    work, runs = line_run([timezone.now()] * (tasks.LINE_ROUNDS + 5))
    tasks._run(tasks.deliver_inbound, (LINE,), work, ("in", LINE))
    assert len(runs) == tasks.LINE_ROUNDS
    assert published == [("relay.tasks.deliver_inbound", (LINE,), None)]


def test_a_retry_due_later_is_queued_with_its_eta(published):
    later = timezone.now() + timedelta(seconds=30)
    work, runs = line_run([later])
    tasks._run(tasks.deliver_inbound, (LINE,), work, ("in", LINE))
    assert len(runs) == 1
    assert published == [("relay.tasks.deliver_inbound", (LINE,), later)]


def test_work_without_a_line_due_now_is_queued_without_an_eta(published):
    calls = []

    def notices():
        calls.append(1)
        return timezone.now()

    tasks._run(tasks.notify_salesforce, (3,), notices)
    assert calls == [1]
    assert published == [("relay.tasks.notify_salesforce", (3,), None)]


def test_a_round_that_raises_ends_the_task_cleanly(published):
    def work():
        wake.finished("in", LINE)
        if work.runs:
            raise RuntimeError("the database went away")
        work.runs += 1
        return timezone.now()

    work.runs = 0
    tasks._run(tasks.deliver_inbound, (LINE,), work, ("in", LINE))
    assert published == []  # the sweeper re-queues the line
