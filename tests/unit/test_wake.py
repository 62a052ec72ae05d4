"""One task per line at a time (relay/lines/wake.py): a wake while a task for the same line is queued or working
adds nothing (that task looks for pending work before it ends); once it is done, the next wake queues another;
the sweeper forces; without the shared cache every wake queues a task. The end-to-end check that nothing waits
is tests/relay/test_notices_once.py and the line tests (tasks run in this process)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from relay import tasks
from relay.lines import wake

GATHER = 0.25  # RELAY_NOTICES_GATHER_SECONDS


@pytest.fixture
def queued(monkeypatch, settings):
    settings.RELAY_NOTICES_GATHER_SECONDS = GATHER
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.deliver_inbound, "delay", lambda pk: calls.append(("in", pk)))
    monkeypatch.setattr(tasks.deliver_outbound, "delay", lambda pk: calls.append(("out", pk)))
    monkeypatch.setattr(tasks.notify_salesforce, "delay", lambda pk: calls.append(("notices", pk)))
    monkeypatch.setattr(
        tasks.notify_salesforce,
        "apply_async",
        lambda args, countdown: calls.append(
            ("notices", args[0]) if countdown == GATHER else ("?", countdown)
        ),
    )
    for kind in ("in", "out", "notices"):
        for pk in (1, 2):
            wake.finished(kind, pk)
    return calls


def test_a_wake_while_a_task_is_queued_adds_nothing(queued):
    for _ in range(3):
        wake.inbound_line(1)
    wake.inbound_line(2)  # another line
    wake.outbound_line(1)  # the other direction
    wake.notices(10, 1)
    wake.notices(11, 1)  # another message of the same conversation: the queued task sends both
    assert queued == [("in", 1), ("in", 2), ("out", 1), ("notices", 10)]


def test_once_the_task_is_done_the_next_wake_queues_another(queued):
    wake.inbound_line(1)
    wake.finished("in", 1)  # what the line does before its last look
    wake.inbound_line(1)
    assert queued == [("in", 1), ("in", 1)]


def test_the_sweeper_forces_and_a_wake_without_a_conversation_always_queues(queued):
    wake.inbound_line(1)
    wake.line(1, "in", force=True)
    wake.notices(12)
    wake.notices(12)
    assert queued == [("in", 1), ("in", 1), ("notices", 12), ("notices", 12)]


def test_without_the_shared_cache_every_wake_queues(queued, monkeypatch):
    def unavailable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "add", unavailable)
    wake.outbound_line(2)
    wake.outbound_line(2)
    assert queued == [("out", 2), ("out", 2)]


def test_a_notices_task_waits_for_the_next_reports_unless_the_sweeper_or_the_setting_says_not_to(
    queued, monkeypatch, settings
):
    at_once: list[int] = []
    monkeypatch.setattr(tasks.notify_salesforce, "delay", lambda pk: at_once.append(pk))
    wake.notices(20, 2)  # a report: the task starts GATHER later (counted by the fixture)
    wake.notices(21, 2)  # the next report of that conversation joins it
    wake.notices(22, 2, force=True)  # the sweeper: at once
    settings.RELAY_NOTICES_GATHER_SECONDS = 0
    wake.finished("notices", 2)
    wake.notices(23, 2)
    assert queued == [("notices", 20)]
    assert at_once == [22, 23]
