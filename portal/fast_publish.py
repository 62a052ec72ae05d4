"""Publish the relay's wake tasks to Celery's Redis broker for a fraction of Celery's own CPU (issue 16).

A wake (relay/lines/wake.py) publishes a task for almost every message: the webhook for a customer's message,
the listener for an agent's, a report's webhook for its notices. Celery's ``apply_async`` spent about 1.1 ms
of CPU on each (``python -m bench.web_parts``: the largest part of a webhook after the statement), building
the message through Celery's and kombu's layers (the task's options, routing, the producer, serializers,
``saferepr`` of the arguments) before its one ``LPUSH``. The broker sees the same ``LPUSH`` here: the same
message (Celery's protocol 2 in kombu's Redis envelope, as ``apply_async`` writes it, which the test
``tests/unit/test_fast_publish.py`` compares field by field), built from a template, on one redis client per
process. A worker cannot tell the two apart; Celery still consumes, acknowledges late and retries.

It is used only where it writes exactly what Celery would: one ``redis://`` or ``rediss://`` broker (no failover list) through
portal/broker.py's transport, protocol 2, JSON without compression, no task routes, no key prefix, no
priority. Anything else, tasks run eagerly (the tests on embedded defaults), and a publish that fails (Redis
unreachable: Celery's own publish retries as configured) go through ``apply_async``. Celery's
``before_task_publish`` and ``after_task_publish`` signals are sent as Celery sends them, when connected (the
benchmark's counter, tracing that adds headers).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from celery import signals
from celery.utils.nodenames import anon_nodename

from portal import broker

log = logging.getLogger(__name__)

# The third element of a protocol 2 body: no callbacks, errbacks, chain or chord (Celery's own encoding).
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}

# A wake's mark and its task in one round trip: the task is pushed only when the mark was free (SET NX), and
# the mark expires on its own (ARGV[1] seconds) should the task never clear it.
_MARK_AND_PUSH = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('LPUSH', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


class Publisher:
    """Writes a task message to the default queue's Redis list, as Celery's ``apply_async`` would."""

    def __init__(self, app: Any) -> None:
        conf = app.conf
        self.queue = conf.task_default_queue
        self.client = redis.Redis.from_url(conf.broker_url, socket_connect_timeout=5, socket_timeout=10)
        self.origin = anon_nodename()
        self.reply_to = app.thread_oid
        self._mark_and_push = self.client.register_script(_MARK_AND_PUSH)

    def publish(
        self, task: Any, args: tuple, countdown: float = 0, *, unless_marked: Mark | None = None
    ) -> bool:
        """Push ``task(*args)`` (in ``countdown`` seconds); with ``unless_marked``, only when that mark is free,
        taking it in the same round trip. True when pushed."""
        if unless_marked is not None and signals.before_task_publish.receivers:
            # The signal says a task is about to be published (and may add headers): take the mark first.
            if not self.take(unless_marked):
                return False
            unless_marked = None
        task_name = task.name
        task_id = str(uuid.uuid4())
        eta = (datetime.now(UTC) + timedelta(seconds=countdown)).isoformat() if countdown > 0 else None
        body = json.dumps([list(args), {}, _EMBED])
        headers = {
            "lang": "py",
            "task": task_name,
            "id": task_id,
            "shadow": None,
            "eta": eta,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(args),  # ids only: Celery's saferepr gives the same text
            "kwargsrepr": "{}",
            "origin": self.origin,
            "ignore_result": bool(task.ignore_result),
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        }
        properties = {
            "correlation_id": task_id,
            "reply_to": self.reply_to,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": self.queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        }
        if signals.before_task_publish.receivers:
            signals.before_task_publish.send(
                sender=task_name,
                body=(list(args), {}, _EMBED),
                exchange="",
                routing_key=self.queue,
                headers=headers,
                properties=properties,
                declare=[],
                retry_policy=None,
            )
        envelope = {
            "body": base64.b64encode(body.encode()).decode("ascii"),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": properties,
        }
        message = json.dumps(envelope)
        if unless_marked is None:
            self.client.lpush(self.queue, message)
        elif not self._mark_and_push(
            keys=[unless_marked.key, self.queue], args=[unless_marked.seconds, message]
        ):
            return False
        if signals.after_task_publish.receivers:
            signals.after_task_publish.send(
                sender=task_name,
                body=(list(args), {}, _EMBED),
                headers=headers,
                exchange="",
                routing_key=self.queue,
            )
        return True

    def take(self, mark: Mark) -> bool:
        """Take ``mark`` unless it is taken (SET NX); True when taken."""
        return bool(self.client.set(mark.key, 1, nx=True, ex=mark.seconds))

    def clear(self, mark: Mark) -> None:
        self.client.delete(mark.key)


@dataclass(frozen=True)
class Mark:
    """A key in the broker's Redis that says a task is queued or working (relay/lines/wake.py), and how long it
    lives if nothing clears it."""

    key: str
    seconds: int


_UNRESOLVED: Any = object()
_publisher: Any = _UNRESOLVED
_lock = threading.Lock()


def publisher(app: Any) -> Publisher | None:
    """The process's publisher for ``app``'s broker, or None where Celery's own publish must be used."""
    global _publisher
    if _publisher is _UNRESOLVED:
        with _lock:
            if _publisher is _UNRESOLVED:
                _publisher = Publisher(app) if writes_what_celery_writes(app.conf) else None
    return _publisher


def writes_what_celery_writes(conf: Any) -> bool:
    """True when the broker and the settings leave a task message exactly as this module builds it."""
    options = conf.broker_transport_options or {}
    url = conf.broker_url
    return (
        isinstance(url, str)
        and url.startswith(("redis://", "rediss://"))
        and ";" not in url  # failover brokers ("redis://a;redis://b"): kombu tries each, one client cannot
        and "?" not in url  # options in the URL are kombu's to read; a redis client would take them otherwise
        and not conf.broker_use_ssl  # TLS options kombu applies and a client from the URL alone would not
        and conf.broker_transport == broker.TRANSPORT
        and conf.task_protocol == 2
        and conf.task_serializer == "json"
        and not conf.task_compression
        and not conf.task_routes
        and conf.task_default_priority is None
        and conf.task_default_exchange in (None, "", conf.task_default_queue)
        and conf.task_default_routing_key in (None, conf.task_default_queue)
        and conf.enable_utc
        and not options.get("global_keyprefix")
    )


def forget() -> None:
    """Tests that change the broker's settings get a publisher for the new ones."""
    global _publisher
    with _lock:
        _publisher = _UNRESOLVED


def active(app: Any) -> Publisher | None:
    """The publisher to use now: None when tasks run eagerly or Celery's own publish is needed."""
    return None if app.conf.task_always_eager else publisher(app)
