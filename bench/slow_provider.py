"""``python -m bench slow-provider``: a provider that never answers must stall no page.

The product runs as in production (gunicorn with 4 sync workers, a Celery worker, PostgreSQL, Redis,
``HTTP_TIMEOUT_SECONDS`` at its default of 10 s). Tenant A's Infobip account points at a local server that
accepts connections and never answers; tenant B is healthy. While clients keep firing A's live checks
through the partner API (validate the key, sync the senders), probes measure ``/healthz`` and B's
setup-wizard page. Three phases:

1. idle: the probes alone;
2. in-request: the same checks run inside the web request (the web tier restarted with Celery eager,
   which is how every live check ran before portal/livechecks.py);
3. queued: the checks go to the worker (the product as it is) and the API answers 202 at once.

It prints p50/p99/max of each probe and of the live-check requests themselves, and keeps everything in
``var/bench/<name>/slow-provider.json``. Not a test: figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from pathlib import Path

import httpx

from .stack import Stack, StackConfig, free_port
from .tenants import bench_tenant, create_in_switchboard, key_pair, load_into_sandbox, sandbox_fixture


class BlackHole:
    """Accepts TCP connections and never answers: the provider that hangs."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(512)
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.5)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)  # keep it open, say nothing

    def close(self) -> None:
        self.stopped.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


class Phase:
    """Probes (and, with ``fire``, live-check clients) for ``seconds``; latencies in seconds."""

    def __init__(self, stack: Stack, *, b_token: str, a_key: str, a_account: int, fire: int, seconds: float):
        self.stack, self.b_token, self.a_key, self.a_account = stack, b_token, a_key, a_account
        self.fire, self.seconds = fire, seconds
        self.samples: dict[str, list[float]] = {"healthz": [], "tenant_b_page": [], "live_check_request": []}
        self.errors: dict[str, int] = {"healthz": 0, "tenant_b_page": 0, "live_check_request": 0}
        self.statuses: dict[str, int] = {}
        self.lock = threading.Lock()

    def _record(self, what: str, started: float, ok: bool) -> None:
        with self.lock:
            self.samples[what].append(time.monotonic() - started)
            if not ok:
                self.errors[what] += 1

    def _probe(self, what: str, url: str, headers: dict, deadline: float) -> None:
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    ok = client.get(url, headers=headers).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self._record(what, started, ok)
                time.sleep(0.2)

    def _fire(self, index: int, deadline: float) -> None:
        web = self.stack.web_url
        headers = {"Authorization": f"Bearer {self.a_key}"}
        with httpx.Client(timeout=60, headers=headers) as client:
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    if index % 2:
                        response = client.post(
                            f"{web}/api/v1/senders/sync/", json={"account": self.a_account}
                        )
                    else:
                        response = client.post(f"{web}/api/v1/provider-accounts/{self.a_account}/validate/")
                    ok = response.status_code in (200, 202)
                    with self.lock:
                        self.statuses[str(response.status_code)] = (
                            self.statuses.get(str(response.status_code), 0) + 1
                        )
                except httpx.HTTPError:
                    ok = False
                self._record("live_check_request", started, ok)
                time.sleep(0.5)

    def run(self) -> dict:
        deadline = time.monotonic() + self.seconds
        web = self.stack.web_url
        threads = [
            threading.Thread(target=self._probe, args=("healthz", f"{web}/healthz", {}, deadline)),
            threading.Thread(
                target=self._probe,
                args=("tenant_b_page", f"{web}/console/wizard/", {"X-Console-Token": self.b_token}, deadline),
            ),
            *[threading.Thread(target=self._fire, args=(i, deadline)) for i in range(self.fire)],
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=self.seconds + 120)
        return {
            what: {**percentiles(samples), "errors": self.errors[what]}
            for what, samples in self.samples.items()
            if samples
        } | ({"live_check_statuses": self.statuses} if self.statuses else {})


def restart_web(stack: Stack, **env: str) -> None:
    for proc in [p for p in stack.procs if p.role == "web"]:
        proc.stop()
        stack.procs.remove(proc)
    saved = dict(stack.env)
    stack.env.update(env)
    try:
        stack.start_web()
    finally:
        stack.env.clear()
        stack.env.update(saved)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench slow-provider", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--name", default="slow-provider", help="var/bench/<name>/ holds logs and results")
    p.add_argument("--database", default="sb_h8_bench", help="PostgreSQL database (dropped and created)")
    p.add_argument("--redis-db", type=int, default=8, help="Redis db for the broker and the cache")
    p.add_argument("--seconds", type=float, default=30, help="length of each phase (default 30)")
    p.add_argument("--fire", type=int, default=4, help="clients firing tenant A's live checks (default 4)")
    p.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    config = StackConfig(
        name=args.name, database=args.database, broker_db=args.redis_db, cache_db=args.redis_db,
        workers=1, worker_threads=8, web_workers=args.web_workers, beat=False,
    )  # fmt: skip
    stack = Stack(config)
    hole = BlackHole()
    stack.env["EGRESS_ALLOWED_HOSTS"] += f",127.0.0.1:{hole.port}"
    results: dict = {
        "load_average_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "args": vars(args),
    }
    try:
        stack.start_redis()
        stack.redis_cli("-n", str(args.redis_db), "flushdb")
        stack.prepare_database()
        stack.django()
        stack.start_sandbox()
        tenants = [bench_tenant(1), bench_tenant(2)]
        private_key, certificate = key_pair()
        load_into_sandbox(stack.sandbox_url, sandbox_fixture(tenants, certificate, stack.web_url))
        create_in_switchboard(tenants, stack.sandbox_url, private_key, certificate)

        from portal.console.session import ConsoleSession
        from tenants.models import ApiKey, ProviderAccount, Tenant

        slow, healthy = Tenant.objects.get(slug="bench-1"), Tenant.objects.get(slug="bench-2")
        ProviderAccount.objects.filter(tenant=slow).update(base_url=f"http://127.0.0.1:{hole.port}")
        a_account = ProviderAccount.objects.get(tenant=slow).pk
        _, a_key = ApiKey.issue(name="slow tenant", tenant=slow)
        b_token = ConsoleSession(
            tenant_id=healthy.pk, user_id="web:bench", user_name="bench", via="web", is_admin=True
        ).token()
        stack.start_product()
        phase = {"b_token": b_token, "a_key": a_key, "a_account": a_account, "seconds": args.seconds}

        print(f"phase 1/3: idle, {args.seconds:.0f} s", flush=True)
        results["idle"] = Phase(stack, fire=0, **phase).run()
        print("phase 2/3: live checks inside the web request (web tier with Celery eager)", flush=True)
        restart_web(stack, CELERY_TASK_ALWAYS_EAGER="true")
        results["in_request"] = Phase(stack, fire=args.fire, **phase).run()
        print("phase 3/3: live checks queued to the worker (the product as it is)", flush=True)
        restart_web(stack)
        time.sleep(12)  # let the in-request phase's last calls time out
        results["queued"] = Phase(stack, fire=args.fire, **phase).run()
    finally:
        stack.stop()
        hole.close()
    out = stack.var / "slow-provider.json"
    out.write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"\nfull results: {out}")
    return 0


def report(results: dict) -> str:
    rows = ["| phase | /healthz p50 / p99 / max | tenant B's page p50 / p99 / max | A's live-check requests p50 / p99 (errors) |",
            "|---|---|---|---|"]  # fmt: skip
    names = {
        "idle": "idle",
        "in_request": "checks in the web request (before)",
        "queued": "checks queued (now)",
    }
    for key, label in names.items():
        phase = results.get(key) or {}

        def cell(what: str, full: bool = True, phase: dict = phase) -> str:
            f = phase.get(what)
            if not f or not f.get("n"):
                return "–"
            text = f"{f['p50_ms']:.0f} / {f['p99_ms']:.0f}" + (f" / {f['max_ms']:.0f} ms" if full else " ms")
            return text + (f" ({f['errors']} failed)" if f.get("errors") else "")

        rows.append(
            f"| {label} | {cell('healthz')} | {cell('tenant_b_page')} | {cell('live_check_request', False)} |"
        )
    return "\n".join(rows)
