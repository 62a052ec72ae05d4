"""``python -m bench floor``: the floor of the mandated stack (issue 16), before any Switchboard code runs.

Issue 16 asks for ≤ 6 CPU ms per customer message and ≤ 12 per agent message, summed over every process
(web, workers, listener, PostgreSQL, Redis), while keeping Django, Celery, Redis and PostgreSQL. This command
measures what the pieces of that stack cost on their own, doing nothing, on this machine:

1. a gunicorn worker (sync, as the product's web runs) answering a POST with a small JSON body: to a no-op
   Django view behind the product's whole MIDDLEWARE (``bench.floor_settings`` routes it; the product gets no
   route), and to a bare WSGI app (the server's own share);
2. a Celery task: the publish (in this process, as the web or a worker publishes) and the consume and late
   ack of a no-op task by a worker of the product's Celery app, over a Redis of our own (prefork, and the
   thread pool the benchmark runs);
3. PostgreSQL: one transaction with one INSERT and one UPDATE, and one with one SELECT (the backend's CPU
   and this client's psycopg), with the statements prepared (psycopg's default) and bound on the client
   (what Django's backend sends);
4. one HTTP POST of a small JSON body to a local server: the client's CPU with httpx (the client
   ``relay/http.py`` builds, and httpx's defaults), aiohttp and ``http.client``.

CPU is read from ``/proc/<pid>/task/*/schedstat`` (nanoseconds, every thread) for the servers and with
``time.process_time`` for what runs here; the load generator's side of a request (1.) and the far end of an
HTTP call (4.) are not counted. Then it adds the pieces up into the floor of a customer and of an agent
message (:data:`MESSAGES`) beside the issue's targets. Results: ``var/bench/<name>/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from .stack import PYTHON, ROOT, Proc, fernet_key, free_port, wait_until

TARGETS = {"customer": 6.0, "agent": 12.0}
PACE = 0.005  # seconds between tasks published one at a time: the worker idles between them
TODAY = {"customer": 34.5, "agent": 96.5}  # docs/benchmarks.md, "Issue 16", the last run

# What one message needs at the least, in pieces measured here (component, how many).
CUSTOMER = (
    ("webhook", 1),  # the provider's webhook reaches Django
    ("pg_write", 2),  # a transaction per side: the webhook stores the message, the worker marks it delivered
    ("task", 1),  # the webhook hands the message to a worker
    ("http", 1),  # the worker's call to Salesforce
)
AGENT = (
    ("pg_write", 1),  # the listener stores the agent's event as a row
    ("task", 1),  # a worker gets it
    ("http", 2),  # the provider send, and Salesforce's acknowledgement of the receipts
    ("webhook", 2),  # the provider's delivery and read reports
)
# The same with what the guarantees make each step do on its own (rows before work, exactly once): the worker
# reads the customer's message before the call; the worker's send, each report and the acknowledgement are
# rows; the acknowledgement is sent by a task of its own.
CUSTOMER_ROWS = (*CUSTOMER, ("pg_read", 1))
AGENT_ROWS = (*AGENT, ("pg_write", 3), ("task", 1))
MESSAGES = (
    # (row of the table, whose target, recipe)
    ("customer", "customer", CUSTOMER),
    ("customer, the worker reading its row", "customer", CUSTOMER_ROWS),
    ("agent", "agent", AGENT),
    ("agent, each step its own row, the ack its own task", "agent", AGENT_ROWS),
)
# The readings the product's own choices give: httpx as relay/http.py builds it, statements bound on the client
# as Django's PostgreSQL backend sends them.
PRODUCT_CHOICE = {"http": "http_httpx_relay", "pg_write": "pg_write_client", "pg_read": "pg_read_client"}

BODY = {
    "results": [
        {
            "from": "447700900001",
            "to": "447700900000",
            "integrationType": "WHATSAPP",
            "receivedAt": "2026-12-04T10:00:00.000+0000",
            "messageId": "floor-0000000000000000000000000000",
            "message": {"text": "Hello, I would like to change my delivery address.", "type": "TEXT"},
            "contact": {"name": "Floor"},
        }
    ],
    "messageCount": 1,
    "pendingMessageCount": 0,
}


# --- CPU readings ---------------------------------------------------------------------------------------


def process_cpu_ns(pid: int) -> int:
    """CPU time one live process has used, every thread, in nanoseconds (0 when it is gone)."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def cpu_ms(groups: dict[str, list[int]]) -> dict[str, float]:
    return {role: sum(process_cpu_ns(pid) for pid in pids) / 1e6 for role, pids in groups.items()}


def per_op(before: dict[str, float], after: dict[str, float], ops: int) -> dict[str, float]:
    return {role: (after[role] - before.get(role, 0.0)) / ops for role in after}


# --- the sums (pure) ------------------------------------------------------------------------------------


def cheapest(readings: dict[str, dict], component: str) -> dict:
    """The reading of ``component`` that costs least per operation (every reading names its component)."""
    matching = [r for r in readings.values() if r["component"] == component]
    if not matching:
        raise KeyError(f"no reading of {component}")
    return min(matching, key=lambda r: r["total_ms"])


def floor_of(recipe: tuple[tuple[str, int], ...], chosen: dict[str, dict]) -> dict:
    """A message's floor: each component's chosen reading times how often the message needs it (a component
    named twice in the recipe is one part)."""
    times: dict[str, int] = {}
    for component, n in recipe:
        times[component] = times.get(component, 0) + n
    parts = [
        {"component": c, "times": n, "reading": chosen[c]["key"], "ms": n * chosen[c]["total_ms"]}
        for c, n in times.items()
    ]
    return {"parts": parts, "total_ms": sum(p["ms"] for p in parts)}


def floors(readings: dict[str, dict], product_choice: dict[str, str]) -> dict:
    """The floor with the cheapest reading of each component, and with the readings the product's choices
    give (``product_choice``: component -> reading key, such as httpx for the HTTP call)."""
    components = {component for _, _, recipe in MESSAGES for component, _ in recipe}
    lowest = {c: cheapest(readings, c) for c in components}
    as_built = {c: readings[product_choice[c]] if c in product_choice else lowest[c] for c in components}
    result = {}
    for message, kind, recipe in MESSAGES:
        result[message] = {
            "floor": floor_of(recipe, lowest),
            "as_built": floor_of(recipe, as_built),
            "target_ms": TARGETS[kind],
            "today_ms": TODAY[kind],
        }
    return result


def table(readings: dict[str, dict], summed: dict) -> str:
    """The results as Markdown (printed, and pasted into docs/benchmarks.md)."""
    lines = [
        "| operation | CPU ms per operation, by process | total |",
        "|---|---|---:|",
    ]
    for reading in readings.values():
        roles = ", ".join(f"{role} {ms:.3f}" for role, ms in reading["per_op_ms"].items())
        lines.append(f"| {reading['label']} | {roles} | {reading['total_ms']:.3f} |")
    lines += [
        "",
        "| message | floor: the pieces × times | floor (cheapest pieces) | with the product's httpx and "
        "Django's binding | issue 16 target | today |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for message, figures in summed.items():
        pieces = " + ".join(
            f"{p['times']} × {p['component']} ({p['ms'] / p['times']:.2f})" for p in figures["floor"]["parts"]
        )
        lines.append(
            f"| {message} | {pieces} | **{figures['floor']['total_ms']:.2f}** | "
            f"{figures['as_built']['total_ms']:.2f} | {figures['target_ms']:.0f} | {figures['today_ms']} |"
        )
    return "\n".join(lines)


# --- the measurements -----------------------------------------------------------------------------------


class Floor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = ROOT / "var" / "bench" / args.name
        self.var.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []
        self.readings: dict[str, dict] = {}
        self.redis_port, self.http_port = free_port(), free_port()
        self.database_url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.floor_settings",
            "DEBUG": "false",
            "SECRET_KEY": "floor-" + os.urandom(16).hex(),
            "ENCRYPTION_KEYS": fernet_key(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CACHE_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "EGRESS_ALLOWED_HOSTS": f"127.0.0.1:{self.http_port}",
            "SWITCHBOARD_VAR_DIR": str(self.var),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        for key in ("SWITCHBOARD_TEST_WORKER", "BENCH_COUNTERS_DIR"):
            self.env.pop(key, None)
        self.body = json.dumps(BODY).encode()

    def log(self, message: str) -> None:
        print(f"[floor {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def start(self, role: str, args: list[str]) -> Proc:
        proc = Proc(role, args, self.env, self.var / f"{role}.log").start()
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        self.procs.remove(proc)

    def record(self, key: str, component: str, label: str, ops: int, used: dict[str, float], wall: float):
        reading = {
            "key": key,
            "component": component,
            "label": label,
            "ops": ops,
            "per_op_ms": used,
            "total_ms": sum(used.values()),
            "ops_per_second": ops / wall if wall else 0.0,
        }
        self.readings[key] = reading
        self.log(
            f"{label}: {reading['total_ms']:.3f} ms ({', '.join(f'{k} {v:.3f}' for k, v in used.items())})"
        )

    # 1. the web request ------------------------------------------------------------------------------

    def post_once(self, port: int, path: str) -> int:
        # The provider's side: a new connection each time, as a sync gunicorn worker closes it after the answer.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(
                "POST",
                path,
                body=self.body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
            )
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def measure_web(self, key: str, component: str, label: str, app: str) -> None:
        port = free_port()
        path = "/webhooks/floor/account-key/"
        proc = self.start(
            key,
            [
                PYTHON,
                "-m",
                "gunicorn",
                app,
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
        )
        try:
            status = wait_until(lambda: self.post_once(port, path), timeout=120, what=f"gunicorn ({app})")
            if status != 200:
                raise RuntimeError(f"{app} answered {status}: see {proc.log_path}")
            for _ in range(self.args.warmup):
                self.post_once(port, path)
            groups = {"gunicorn": proc.pids()}
            before, started = cpu_ms(groups), time.monotonic()
            for _ in range(self.args.n):
                status = self.post_once(port, path)
                if status != 200:
                    raise RuntimeError(f"{app} answered {status}: see {proc.log_path}")
            wall = time.monotonic() - started
            self.record(key, component, label, self.args.n, per_op(before, cpu_ms(groups), self.args.n), wall)
        finally:
            self.stop(proc)

    # 2. the Celery task ------------------------------------------------------------------------------

    def broker_idle(self) -> bool:
        return not (self.redis.llen("celery") or self.redis.hlen("unacked"))

    def publish(self, count: int, *, every: float = 0.0) -> float:
        """Publish ``count`` no-op tasks, one each ``every`` seconds (0: at once); the CPU seconds the
        publishing took this process (not the waits)."""
        from bench.floor_app import noop_task

        used, due = 0.0, time.monotonic()
        for i in range(count):
            if every:
                due += every
                time.sleep(max(0.0, due - time.monotonic()))
            started = time.process_time()
            noop_task.delay(i)
            used += time.process_time() - started
        return used

    def measure_task(self, key: str, label: str, pool: str, concurrency: int) -> None:
        proc = self.start(
            key,
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"floor-{pool}@%h",
                "--loglevel",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        try:
            self.publish(self.args.warmup)
            wait_until(self.broker_idle, timeout=180, what=f"the {pool} worker to take the warm-up tasks")
            groups = {"worker": proc.pids(), "redis": self.redis_proc.pids()}
            self.publish_and_drain(key, "task", label, groups, self.args.n, every=0.0)
            # The same one at a time: a worker woken for each task (the floor sums the burst, the lower).
            paced = max(1, self.args.n // 4)
            self.publish_and_drain(
                f"{key}_paced",
                "task_paced",
                label.replace("Celery task:", f"Celery task one every {PACE * 1000:.0f} ms:"),
                groups,
                paced,
                every=PACE,
            )
        finally:
            self.stop(proc)

    def publish_and_drain(
        self, key: str, component: str, label: str, groups: dict[str, list[int]], ops: int, *, every: float
    ) -> None:
        before, started = cpu_ms(groups), time.monotonic()
        published = self.publish(ops, every=every)
        # Polling the broker costs Redis two commands every 0.1 s: counted against the floor, not for it.
        wait_until(self.broker_idle, timeout=300, what=f"the worker to take the tasks ({key})", interval=0.1)
        used = {"publisher": published * 1000 / ops, **per_op(before, cpu_ms(groups), ops)}
        self.record(key, component, label, ops, used, time.monotonic() - started)

    # 3. PostgreSQL -------------------------------------------------------------------------------------

    def prepare_database(self) -> None:
        import psycopg

        admin = "postgres://postgres@127.0.0.1:5432/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.args.database,)
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{self.args.database}"')
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            connection.execute("DROP TABLE IF EXISTS floor_message, floor_conversation")
            connection.execute(
                "CREATE TABLE floor_conversation (id bigserial PRIMARY KEY, customer text NOT NULL,"
                " last_message_at timestamptz)"
            )
            connection.execute(
                "CREATE TABLE floor_message (id bigserial PRIMARY KEY, conversation_id bigint NOT NULL"
                " REFERENCES floor_conversation, provider_message_id text NOT NULL UNIQUE, body text NOT NULL,"
                " status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
            )
            connection.execute(
                "INSERT INTO floor_conversation (customer) SELECT '+4477009' || g FROM generate_series(1, 100) g"
            )

    def measure_pg(self, binding: str) -> None:
        import psycopg

        cursor_factory = psycopg.ClientCursor if binding == "client" else psycopg.Cursor
        label_binding = "bound on the client, as Django" if binding == "client" else "prepared"
        with psycopg.connect(self.database_url, cursor_factory=cursor_factory) as connection:
            backend = connection.info.backend_pid
            ids: list[int] = []
            serial = iter(range(10**9))

            def write() -> None:
                n = next(serial)
                row = connection.execute(
                    "INSERT INTO floor_message (conversation_id, provider_message_id, body, status)"
                    " VALUES (%s, %s, %s, 'pending') RETURNING id",
                    (n % 100 + 1, f"{binding}-{n}", "Hello, I would like to change my delivery address."),
                ).fetchone()
                connection.execute(
                    "UPDATE floor_conversation SET last_message_at = now() WHERE id = %s", (n % 100 + 1,)
                )
                connection.commit()
                assert row is not None
                ids.append(row[0])

            def read() -> None:
                connection.execute(
                    "SELECT id, conversation_id, body, status FROM floor_message WHERE id = %s",
                    (ids[next(serial) % len(ids)],),
                ).fetchone()
                connection.commit()

            for component, operation, what in (
                ("pg_write", write, "INSERT + UPDATE"),
                ("pg_read", read, "SELECT"),
            ):
                self.measure_client_loop(
                    f"{component}_{binding}",
                    component,
                    f"PostgreSQL: one transaction, {what} ({label_binding})",
                    operation,
                    client_role="psycopg",
                    servers={"postgres backend": [backend]},
                )

    def measure_client_loop(
        self,
        key: str,
        component: str,
        label: str,
        operation: Callable[[], object],
        *,
        client_role: str,
        servers: dict[str, list[int]] | None = None,
    ) -> None:
        for _ in range(self.args.warmup):
            operation()
        servers = servers or {}
        before, started, started_cpu = cpu_ms(servers), time.monotonic(), time.process_time()
        for _ in range(self.args.n):
            operation()
        used_client = (time.process_time() - started_cpu) * 1000 / self.args.n
        wall = time.monotonic() - started
        self.record(
            key,
            component,
            label,
            self.args.n,
            {client_role: used_client, **per_op(before, cpu_ms(servers), self.args.n)},
            wall,
        )

    # 4. the HTTP call ----------------------------------------------------------------------------------

    def http_server_up(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=2):
            return True

    def measure_http(self) -> None:
        url = f"http://127.0.0.1:{self.http_port}/whatsapp/1/message/text"
        headers = {"Authorization": "App floor-api-key", "Accept": "application/json"}

        from relay.http import client

        product = client("provider")
        self.measure_client_loop(
            "http_httpx_relay",
            "http",
            "HTTP POST: httpx, the client relay/http.py builds (egress guard)",
            lambda: product.post(url, json=BODY, headers=headers).read(),
            client_role="client",
        )
        import httpx

        with httpx.Client() as plain:
            self.measure_client_loop(
                "http_httpx",
                "http",
                "HTTP POST: httpx.Client() with its defaults",
                lambda: plain.post(url, json=BODY, headers=headers).read(),
                client_role="client",
            )

        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)

        def stdlib() -> None:
            connection.request(
                "POST",
                url,
                body=json.dumps(BODY).encode(),
                headers={**headers, "Content-Type": "application/json"},
            )
            connection.getresponse().read()

        self.measure_client_loop(
            "http_stdlib",
            "http",
            "HTTP POST: http.client, one kept-alive connection",
            stdlib,
            client_role="client",
        )
        connection.close()

        self.measure_aiohttp(url, headers)

    def measure_aiohttp(self, url: str, headers: dict) -> None:
        import aiohttp

        async def run() -> None:
            async with aiohttp.ClientSession() as session:

                async def post() -> None:
                    async with session.post(url, json=BODY, headers=headers) as response:
                        await response.read()

                for _ in range(self.args.warmup):
                    await post()
                started, started_cpu = time.monotonic(), time.process_time()
                for _ in range(self.args.n):
                    await post()
                used = (time.process_time() - started_cpu) * 1000 / self.args.n
                self.record(
                    "http_aiohttp",
                    "http",
                    "HTTP POST: aiohttp ClientSession (sequential awaits)",
                    self.args.n,
                    {"client": used},
                    time.monotonic() - started,
                )

        asyncio.run(run())

    # --- the run ----------------------------------------------------------------------------------------

    def run(self) -> dict:
        load_start = os.getloadavg()
        self.log(f"load average {load_start[0]:.2f}; {self.args.n} operations each")
        self.redis_proc = self.start(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.var),
            ],
        )
        self.start("http-server", [PYTHON, "-m", "bench.floor_app", str(self.http_port)])
        import redis

        self.redis = redis.Redis(host="127.0.0.1", port=self.redis_port)
        wait_until(self.redis.ping, timeout=30, what="Redis")
        os.environ.update(self.env)  # this process publishes the tasks and calls the HTTP server
        import django

        django.setup()

        self.measure_web(
            "web_django",
            "webhook",
            "Web: gunicorn sync worker, no-op Django view, full MIDDLEWARE",
            "portal.wsgi:application",
        )
        self.measure_web(
            "web_bare", "web_bare", "Web: gunicorn sync worker, bare WSGI app", "bench.floor_app:bare"
        )
        self.measure_task(
            "task_prefork", "Celery task: publish + prefork worker (1 process) + Redis", "prefork", 1
        )
        self.measure_task(
            "task_threads", "Celery task: publish + thread-pool worker (8 threads) + Redis", "threads", 8
        )
        self.prepare_database()
        self.measure_pg("server")
        self.measure_pg("client")
        wait_until(self.http_server_up, timeout=30, what="the HTTP server")
        self.measure_http()
        summed = floors(self.readings, PRODUCT_CHOICE)
        from .run import machine

        return {
            "machine": machine(),
            "load_average": {"start": list(load_start), "end": list(os.getloadavg())},
            "operations": self.args.n,
            "readings": self.readings,
            "floors": summed,
        }

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="floor", help="results go to var/bench/<name>/")
    parser.add_argument(
        "--database", default="switchboard_floor", help="created if missing; two scratch tables"
    )
    parser.add_argument("-n", type=int, default=2000, help="operations per measurement")
    parser.add_argument("--warmup", type=int, default=200, help="operations before each measurement")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    floor = Floor(args)
    try:
        results = floor.run()
    finally:
        floor.stop_all()
    text = table(results["readings"], results["floors"])
    print()
    print(
        f"Machine: {results['machine']}; load average {results['load_average']['start'][0]:.2f} at the start, "
        f"{results['load_average']['end'][0]:.2f} at the end; {args.n} operations each."
    )
    print()
    print(text)
    (floor.var / "results.json").write_text(json.dumps(results, indent=2))
    (floor.var / "results.md").write_text(text + "\n")
    print(f"\nwritten to {floor.var}/results.json and results.md")
    return 0
