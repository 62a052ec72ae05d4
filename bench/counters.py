"""Work counters inside the product's processes, for the benchmark: SQL statements, Celery tasks run and
published, HTTP calls made.

The benchmark starts gunicorn, the workers, beat and the listener with
``DJANGO_SETTINGS_MODULE=bench.counting_settings`` (the product's settings, plus :func:`install`) and
``BENCH_COUNTERS_DIR``. Each process counts in memory and writes its totals to ``<dir>/<pid>.json`` every
half second from a thread of its own (started lazily, so gunicorn's forked workers get one each); the
benchmark sums the files before and after a burst (:func:`totals`). Counting costs a few microseconds per
statement; nothing is sent anywhere while the product runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import Counter
from pathlib import Path

KINDS = ("sql", "tasks", "published", "http")

_counts: Counter = Counter()
_lock = threading.Lock()
_writer_pid: int | None = None


def count(kind: str, n: int = 1) -> None:
    with _lock:
        _counts[kind] += n
    if _writer_pid != os.getpid():
        _start_writer()


def _start_writer() -> None:
    global _writer_pid, _counts
    with _lock:
        if _writer_pid == os.getpid():
            return
        if _writer_pid is not None:  # a forked child: the parent's counts are the parent's
            _counts = Counter()
        _writer_pid = os.getpid()
    folder = Path(os.environ.get("BENCH_COUNTERS_DIR", "."))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"

    def write() -> None:
        stop = threading.Event()
        while not stop.wait(0.5):
            with _lock:
                data = json.dumps(dict(_counts))
            with contextlib.suppress(OSError):
                tmp = path.with_suffix(".tmp")
                tmp.write_text(data)
                tmp.replace(path)

    threading.Thread(target=write, name="bench-counters", daemon=True).start()


def install() -> None:
    """Hook the counters into Django's connections, Celery (its task signal, both publishes) and httpx."""
    from django.db.backends.signals import connection_created

    def counted(execute, sql, params, many, context):
        count("sql")
        return execute(sql, params, many, context)

    def on_connection(sender, connection, **kwargs) -> None:
        # Sent on every (re)connection of the same wrapper, whose list of wrappers stays: once only.
        if counted not in connection.execute_wrappers:
            connection.execute_wrappers.append(counted)

    connection_created.connect(on_connection, weak=False)

    from celery import signals

    signals.task_prerun.connect(lambda **kwargs: count("tasks"), weak=False)

    # Publishes are counted where they happen, not through Celery's before_task_publish signal: with a receiver
    # connected, the wakes' own publish takes its mark in a round trip of its own (portal/fast_publish.py), and
    # the benchmark would measure a path production does not take.
    from celery import Celery

    from portal import fast_publish

    celery_publish = Celery.send_task

    def send_task(self, *args, **kwargs):
        count("published")
        return celery_publish(self, *args, **kwargs)

    Celery.send_task = send_task  # type: ignore[method-assign]
    fast = fast_publish.Publisher.publish

    def publish(self, *args, **kwargs) -> bool:
        pushed = fast(self, *args, **kwargs)
        if pushed:
            count("published")
        return pushed

    fast_publish.Publisher.publish = publish  # type: ignore[method-assign]

    import httpx

    original = httpx.Client.send

    def send(self, request, *args, **kwargs):
        count("http")
        return original(self, request, *args, **kwargs)

    httpx.Client.send = send  # type: ignore[method-assign]


def totals(folder: Path) -> dict[str, int]:
    """The sums over every process's last written counts."""
    summed: Counter = Counter()
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            summed.update(json.loads(path.read_text()))
    return {kind: summed.get(kind, 0) for kind in KINDS}
