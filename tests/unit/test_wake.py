"""One task per line at a time (relay/lines/wake.py): a wake while a task for the same line is queued or working
adds nothing (that task looks for pending work before it ends); once it is done, the next wake queues another;
the sweeper forces; without the shared cache every wake queues a task. The end-to-end check that nothing waits
is tests/relay/test_notices_once.py and the line tests (tasks run in this process)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from relay import tasks
from relay.lines import wake


@pytest.fixture
def queued(monkeypatch):
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.deliver_inbound, "delay", lambda pk: calls.append(("in", pk)))
    monkeypatch.setattr(tasks.deliver_outbound, "delay", lambda pk: calls.append(("out", pk)))
    monkeypatch.setattr(tasks.notify_salesforce, "delay", lambda pk: calls.append(("notices", pk)))
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
