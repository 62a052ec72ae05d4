"""A task queued for work whose rows are committed (portal/queueing.py): a broker that refuses it is logged, not
raised, so the request that stored the rows does not answer 500; its sweeper queues the work."""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import OperationalError

from portal import queueing


class Task:
    name = "relay.tasks.example"

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.sent: list[tuple] = []

    def delay(self, *args, **kwargs):
        self._send(args, kwargs, None)

    def apply_async(self, args, kwargs=None, countdown=None):
        self._send(tuple(args), kwargs or {}, countdown)

    def _send(self, args, kwargs, countdown):
        if self.refuse:
            raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")
        self.sent.append((args, kwargs, countdown))


def test_a_task_is_published_as_asked():
    task = Task()
    assert queueing.publish(task, (1,))
    assert queueing.publish(task, (2,), 0.25)
    assert queueing.publish(task, (3,), 0.5, kwargs={"tenant_part": "a"})
    assert queueing.publish(task, (4,), kwargs={"tenant_part": "b"})
    assert task.sent == [
        ((1,), {}, None),
        ((2,), {}, 0.25),
        ((3,), {"tenant_part": "a"}, 0.5),
        ((4,), {"tenant_part": "b"}, None),
    ]


def test_a_broker_that_refuses_it_is_logged_not_raised(caplog):
    task = Task(refuse=True)
    with caplog.at_level(logging.WARNING, logger="portal.queueing"):
        assert not queueing.publish(task, (7,))
    assert "could not queue relay.tasks.example(7,); its sweeper queues the work" in caplog.text


@pytest.mark.django_db
def test_after_commit_publishes_once_committed_and_never_raises(django_capture_on_commit_callbacks):
    task, refused = Task(), Task(refuse=True)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queueing.after_commit(task, 1, tenant_part="x")
        queueing.after_commit(refused, 2)
        assert task.sent == []  # not before the commit
    assert len(callbacks) == 2
    assert task.sent == [((1,), {"tenant_part": "x"}, None)]
