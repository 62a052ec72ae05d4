"""``python -m bench.web_parts``: where the web process's CPU goes per customer webhook, under gunicorn.

``bench profile`` measures our webhook in-process with Django's test client and no broker (the wakes are
collected); ``bench run`` measures the whole gunicorn process. This sits between them: it starts the real stack
(sandbox, gunicorn with the benchmark's 4 sync workers, 2 Celery workers, a Redis of its own), sends bursts of
signed Infobip webhooks with the benchmark's load generator (10 conversations, 64 in flight), and reports

- the web process's CPU per request, from /proc (all its processes and threads, as ``bench run`` counts it);
- inside each gunicorn worker, the CPU (``time.thread_time``) spent in nested parts of a request: the whole
  connection, gunicorn's request handling, Django's handler, the middleware and view, our view's steps (the
  account lookup, the verified body, the statement, the database health check, the wake mark, the Celery
  publish, the configuration token). Parts nest, so they do not add up; what is left between two is the
  outer one's own work.

No profiler runs (cProfile multiplied the web's CPU by three to five and inflated the call-heavy parts most);
the timers cost about a microsecond per wrapped call. This module is also the gunicorn configuration that
installs them (``-c python:bench.web_parts``, given through ``GUNICORN_CMD_ARGS``) when
``BENCH_WEB_PARTS_DIR`` is set; a worker starts counting at its first request after ``<dir>/start`` exists
(the warm-up before it is left out) and writes ``<dir>/<pid>.json`` every 10 requests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

_DIR = os.environ.get("BENCH_WEB_PARTS_DIR")
_parts: dict[str, list] = {}
_state: dict = {"counting": False, "requests": 0, "cpu0": 0.0}


def _timed(owner, name: str, label: str) -> None:
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            part = _parts.setdefault(label, [0, 0.0])
            part[0] += 1
            part[1] += time.thread_time() - started

    setattr(owner, name, timed)


# --- the gunicorn configuration's hooks -------------------------------------------------------------------


def post_worker_init(worker) -> None:
    if not _DIR:
        return
    import psycopg
    from celery.app.base import Celery
    from django.core.handlers import base, wsgi
    from django.db.backends.postgresql import base as postgresql
    from django.db.backends.utils import CursorWrapper
    from gunicorn import util
    from gunicorn.http import wsgi as gunicorn_wsgi
    from gunicorn.workers import sync

    import relay.inbound.ingest as ingest
    import relay.inbound.webhook as webhook
    import relay.lines.wake as wake
    from portal import fast_publish, shared_cache
    from tenants import config_cache, lookups

    for owner, name, label in (
        (sync.SyncWorker, "accept", "1 gunicorn: the whole connection (accept .. close)"),
        (util, "close_graceful", "1a gunicorn: close the connection"),
        (sync.SyncWorker, "handle_request", "2 gunicorn: handle_request"),
        (gunicorn_wsgi, "create", "2a gunicorn: build the environ"),
        (gunicorn_wsgi.Response, "write", "2b gunicorn: write the response"),
        (wsgi.WSGIHandler, "__call__", "3 Django: WSGIHandler (signals, request, response)"),
        (base.BaseHandler, "get_response", "4 Django: middleware, URL, view"),
        (lookups, "webhook_account", "5a view: the account (config token read)"),
        (webhook, "read_verified_json", "5b view: signature and JSON body"),
        (webhook, "ingest", "6 view: ingest"),
        (ingest, "_store_inbound_at_once", "6a ingest: the one statement (with the health check)"),
        (postgresql.DatabaseWrapper, "is_usable", "6b db: CONN_HEALTH_CHECKS' SELECT 1"),
        (CursorWrapper, "execute", "6c db: Django's execute of the statement"),
        (psycopg.Cursor, "execute", "6d db: psycopg execute (statement + SELECT 1)"),
        (wake, "inbound_line", "7 wake: mark + publish"),
        (wake, "_first", "7a wake: the mark (SET NX)"),
        (Celery, "send_task", "7b wake: Celery publish (send_task)"),
        (fast_publish.Publisher, "publish", "7c wake: the fast publish (portal/fast_publish.py)"),
        (config_cache, "current_version", "8 config token (current_version)"),
        (shared_cache, "get", "8a config token: Redis GET"),
    ):
        _timed(owner, name, label)


def post_request(worker, req, environ, resp) -> None:
    if not _DIR:
        return
    if not _state["counting"]:
        if os.path.exists(os.path.join(_DIR, "start")):
            _parts.clear()
            _state.update(counting=True, requests=0, cpu0=time.process_time())
        return
    _state["requests"] += 1
    if _state["requests"] % 10 == 0:
        data = {
            "requests": _state["requests"],
            "process_cpu": time.process_time() - _state["cpu0"],
            "parts": _parts,
        }
        Path(_DIR, f"{os.getpid()}.json").write_text(json.dumps(data))


# --- the run -----------------------------------------------------------------------------------------------


def summary(folder: Path) -> str:
    parts: dict[str, list] = {}
    requests, cpu = 0, 0.0
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text())
        requests += data["requests"]
        cpu += data["process_cpu"]
        for label, (calls, seconds) in data["parts"].items():
            part = parts.setdefault(label, [0, 0.0])
            part[0] += calls
            part[1] += seconds
    if not requests:
        return "no request counted"
    lines = [
        f"{requests} requests counted in the gunicorn workers; worker CPU (every thread) "
        f"{cpu * 1000 / requests:.3f} ms per request",
        "",
        "| part (nested: 1 holds 2 holds 3 ...) | calls per request | CPU ms per request |",
        "|---|---:|---:|",
    ]
    for label in sorted(parts):
        calls, seconds = parts[label]
        lines.append(f"| {label} | {calls / requests:.2f} | {seconds * 1000 / requests:.3f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_parts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="web-parts")
    parser.add_argument("--database", default="switchboard_web_parts")
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--no-parts", action="store_true", help="only the web's CPU per request, no timers")
    parser.add_argument(
        "--no-counters", action="store_true", help="without bench/counters.py, unlike bench run"
    )
    args = parser.parse_args(argv)

    from .stack import PYTHON, ROOT, Stack, StackConfig, cpu_seconds
    from .tenants import (
        bench_tenant,
        create_in_switchboard,
        customer,
        key_pair,
        load_into_sandbox,
        sandbox_fixture,
    )

    parts_dir = ROOT / "var" / "bench" / f"{args.name}-parts"
    env = {"GUNICORN_CMD_ARGS": "-c python:bench.web_parts"}
    if not args.no_parts:
        import shutil

        shutil.rmtree(parts_dir, ignore_errors=True)
        parts_dir.mkdir(parents=True)
        env["BENCH_WEB_PARTS_DIR"] = str(parts_dir)
    stack = Stack(
        StackConfig(
            name=args.name,
            database=args.database,
            dedicated_redis=True,
            count_work=not args.no_counters,
            beat=False,
            env=env,
        )
    )
    tenant = bench_tenant(0)
    try:
        stack.start_redis()
        stack.prepare_database()
        stack.django()
        stack.start_sandbox()
        private_key, certificate = key_pair()
        load_into_sandbox(stack.sandbox_url, sandbox_fixture([tenant], certificate, stack.web_url))
        create_in_switchboard([tenant], stack.sandbox_url, private_key, certificate)
        stack.start_product()
        stack.wait_workers()
        conversations = [
            {
                "id": f"c{c}",
                "path": f"/webhooks/infobip/{tenant.account_key}/",
                "secret": tenant.webhook_secret,
                "sender": tenant.sender,
                "customer": customer(1, c),
                "tenant": 0,
            }
            for c in range(10)
        ]
        web = next(proc for proc in stack.procs if proc.role == "web")

        def burst(prefix: str, messages: int) -> int:
            spec = {
                "kind": "inbound",
                "target": stack.web_url,
                "conversations": conversations,
                "messages": messages,
                "prefix": prefix,
                "rate": None,
                "concurrency": 64,
                "deadline": 120,
            }
            spec_path, out_path = stack.var / "web-parts-spec.json", stack.var / "web-parts-out.json"
            spec_path.write_text(json.dumps(spec))
            subprocess.run(  # noqa: S603
                [PYTHON, "-m", "bench.load", str(spec_path), str(out_path)], cwd=ROOT, check=True, timeout=300
            )
            return sum(record[4] for record in json.loads(out_path.read_text())["records"])  # tries

        burst("warm", 200)  # every worker imported and connected before anything is counted
        if not args.no_parts:
            (parts_dir / "start").touch()
        burst("warm2", 20)  # each worker sees the start mark
        for n in range(args.bursts):
            before = {pid: cpu_seconds(pid) for pid in web.pids()}
            requests = burst(f"burst{n}", args.burst)
            time.sleep(0.5)
            used = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in web.pids())
            print(
                f"burst {n}: {requests} requests, web CPU {used * 1000 / requests:.2f} ms per request",
                flush=True,
            )
        if not args.no_parts:
            time.sleep(0.5)
            print(summary(parts_dir))
        print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
