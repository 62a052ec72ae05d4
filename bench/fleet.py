"""``python -m bench tenants --tenants 1000 --listeners 2``: many tenants on a fleet of ``relay_listen`` processes.

The whole product as separate processes (bench/stack.py), ``--tenants`` tenants in the sandbox (an org and an
Infobip account each, bench/tenants.py) and ``--listeners`` ``relay_listen`` processes sharing them by lease
(relay/salesforce/shards.py). It measures how long the fleet takes to hold one stream per org, each listener's
memory, threads and sockets, then sends a burst of customer messages (one conversation per tenant), has every
agent accept, and sends agent replies at ``--rate`` while SIGKILLing the listener that holds the most tenants a
third of the way in. It prints inbound and outbound throughput, the takeover time (kill → every orphaned tenant
held by a survivor, and → one stream per org again), and checks that nothing was lost or sent twice: every
customer message stored once in Salesforce, every agent reply on the phone exactly once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.report import inbound_figures, outbound_figures
from bench.run import accept_sessions, machine
from bench.stack import PYTHON, ROOT, Proc, Stack, StackConfig, cpu_seconds, rss_kib, wait_until
from bench.tenants import (
    BenchTenant,
    bench_tenant,
    create_in_switchboard,
    customer,
    key_pair,
    load_into_sandbox,
    sandbox_fixture,
)


def log(message: str) -> None:
    print(f"[fleet {time.strftime('%H:%M:%S')}] {message}", flush=True)


def process_figures(pid: int) -> dict:
    """Resident memory (MiB), threads and open sockets of one process, from /proc."""
    threads = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    sockets = 0
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                sockets += os.readlink(fd).startswith("socket:")
    now, peak = rss_kib(pid)
    return {
        "rss_mib": round(now / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "threads": threads,
        "sockets": sockets,
    }


class Fleet:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stack = Stack(
            StackConfig(
                name=args.name,
                database=args.database,
                broker_db=args.redis_db,
                cache_db=args.redis_db + 1,
                dedicated_redis=True,
                workers=args.workers,
                worker_threads=args.worker_threads,
                web_workers=args.web_workers,
                env={"RELAY_LISTENER_LEASE_SECONDS": str(args.lease_seconds)},
            )
        )
        self.tenants: list[BenchTenant] = [bench_tenant(i) for i in range(args.tenants)]
        self.listeners: list[Proc] = []
        self.results: dict = {
            "machine": machine(),
            "tenants": args.tenants,
            "listeners": args.listeners,
            "lease_seconds": args.lease_seconds,
        }

    # --- setup ---------------------------------------------------------------------------------------

    def setup(self) -> None:
        stack, args = self.stack, self.args
        stack.start_redis()
        stack.prepare_database()
        stack.start_sandbox()
        stack.start_product()
        stack.django()
        started = time.monotonic()
        private_key, certificate = key_pair()
        load_into_sandbox(stack.sandbox_url, sandbox_fixture(self.tenants, certificate, stack.web_url))
        create_in_switchboard(self.tenants, stack.sandbox_url, private_key, certificate)
        log(f"{args.tenants} tenants created in {time.monotonic() - started:.0f} s")

    def start_listeners(self) -> None:
        started = time.monotonic()
        for index in range(1, self.args.listeners + 1):
            proc = self.stack._proc(
                f"listener-{index}",
                [PYTHON, "manage.py", "relay_listen", "--refresh-seconds", "2", "--max-backoff", "3"],
            )
            self.listeners.append(proc.start())
        wait_until(self.one_stream_per_org, timeout=600, what="one stream per org", interval=1)
        self.results["all_subscribed_s"] = round(time.monotonic() - started, 1)
        log(f"one stream per org for {len(self.tenants)} orgs after {self.results['all_subscribed_s']} s")

    def streams(self) -> Counter:
        response = httpx.get(f"{self.stack.sandbox_url}/__sim/arrivals/subscriptions", timeout=60)
        return Counter(response.json())

    def one_stream_per_org(self) -> bool:
        streams = self.streams()
        return all(streams.get(t.org_id15) == 1 for t in self.tenants)

    def holders(self) -> dict[int, str]:
        from django.db.models.functions import Now

        from relay.salesforce.shard_models import ListenerLease

        return dict(
            ListenerLease.objects.filter(expires_at__gt=Now())
            .exclude(holder="")
            .values_list("tenant_id", "holder")
        )

    def listener_figures(self) -> dict[str, dict]:
        held = Counter(self.holders().values())
        figures = {}
        for proc in self.listeners:
            if not proc.alive:
                continue
            row = process_figures(proc.popen.pid)
            row["tenants"] = next(
                (n for holder, n in held.items() if holder.split(":")[1] == str(proc.popen.pid)), 0
            )
            figures[proc.role] = row
        return figures

    def cpu_at_rest(self, seconds: float) -> dict[str, float]:
        """Each listener's CPU use (percent of one core) over ``seconds`` with no traffic."""
        before = {p.role: cpu_seconds(p.popen.pid) for p in self.listeners if p.alive}
        time.sleep(seconds)
        return {
            p.role: round(100 * (cpu_seconds(p.popen.pid) - before[p.role]) / seconds, 1)
            for p in self.listeners
            if p.alive and p.role in before
        }

    # --- traffic -------------------------------------------------------------------------------------

    def load(self, spec: dict) -> list[list]:
        spec_path, out_path = self.stack.var / "fleet-spec.json", self.stack.var / "fleet-out.json"
        spec_path.write_text(json.dumps(spec))
        subprocess.run(  # noqa: S603
            [PYTHON, "-m", "bench.load", str(spec_path), str(out_path)],
            cwd=ROOT,
            check=True,
            timeout=float(spec.get("deadline", 600)) + 120,
        )
        return json.loads(out_path.read_text())["records"]

    def arrivals(self, side: str, prefix: str) -> list[list]:
        response = httpx.get(
            f"{self.stack.sandbox_url}/__sim/arrivals", params={"side": side, "prefix": prefix}, timeout=300
        )
        response.raise_for_status()
        return response.json()["rows"]

    def wait_arrivals(self, side: str, prefix: str, keys: list[str], timeout: float) -> list[list]:
        wanted, rows = set(keys), []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.arrivals(side, prefix)
            if wanted <= {row[0] for row in rows}:
                break
            time.sleep(1)
        return rows

    def conversations(self) -> list[dict]:
        """One conversation each for ``--conversations`` tenants spread evenly over all of them."""
        step = max(1, len(self.tenants) // max(1, self.args.conversations))
        return [
            {
                "id": f"f{t.index}",
                "path": f"/webhooks/infobip/{t.account_key}/",
                "secret": t.webhook_secret,
                "sender": t.sender,
                "customer": customer(5, t.index),
                "tenant": t.index,
            }
            for t in self.tenants[::step][: self.args.conversations]
        ]

    def inbound(self, convs: list[dict], prefix: str, messages: int) -> dict:
        records = self.load(
            {
                "kind": "inbound",
                "target": self.stack.web_url,
                "conversations": convs,
                "messages": messages,
                "prefix": prefix,
                "rate": None,
                "concurrency": 64,
                "deadline": max(300, messages / 5),
            }
        )
        keys = [r[0] for r in records if 200 <= r[3] < 300]
        rows = self.wait_arrivals("salesforce", prefix + " ", keys, timeout=max(300, messages / 2))
        first: dict[str, float] = {}
        for text, at, _ in rows:
            first.setdefault(text, at)
        figures = inbound_figures(records, first)
        stored = Counter(row[0] for row in rows)
        figures["lost"] = sum(1 for key in keys if key not in stored)
        figures["duplicated"] = sum(1 for n in stored.values() if n > 1)
        return figures

    def outbound_with_a_kill(self, targets: list[dict], prefix: str, messages: int) -> dict:
        rate = self.args.rate
        kill_after = messages / rate / 3
        takeover: dict = {}
        killer = threading.Thread(target=self.kill_one, args=(kill_after, takeover), daemon=True)
        killer.start()
        records = self.load(
            {
                "kind": "outbound",
                "target": self.stack.sandbox_url,
                "conversations": targets,
                "messages": messages,
                "prefix": prefix,
                "rate": rate,
                "concurrency": 64,
                "deadline": max(300, messages / rate * 3),
            }
        )
        killer.join(timeout=600)
        keys = [r[0] for r in records if 200 <= r[3] < 300]
        rows = self.wait_arrivals("phone", prefix + " ", keys, timeout=max(300, messages / 2))
        agent_times = {text: at for text, at, _ in self.arrivals("agent", prefix + " ")}
        first: dict[str, float] = {}
        for text, at, _ in rows:
            first.setdefault(text, at)
        figures = outbound_figures(agent_times, first, keys)
        on_phone = Counter(row[0] for row in rows)
        figures["lost"] = sum(1 for key in keys if key not in on_phone)
        figures["duplicated"] = sum(1 for n in on_phone.values() if n > 1)
        figures["takeover"] = takeover
        return figures

    def kill_one(self, after: float, takeover: dict) -> None:
        """SIGKILL the listener holding the most tenants ``after`` seconds in; time the takeover."""
        time.sleep(after)
        holders = self.holders()
        busiest = Counter(holders.values()).most_common(1)[0][0]
        victim = next(p for p in self.listeners if busiest.split(":")[1] == str(p.popen.pid))
        orphaned = {tenant for tenant, holder in holders.items() if holder == busiest}
        log(f"SIGKILL {victim.role} (pid {victim.popen.pid}, {len(orphaned)} tenants)")
        victim.kill()
        killed = time.monotonic()
        takeover.update(victim=victim.role, orphaned=len(orphaned))

        def held_again() -> bool:
            now = self.holders()
            return all(now.get(t) not in (None, busiest) for t in orphaned)

        wait_until(held_again, timeout=300, what="the orphaned tenants to be held again", interval=0.2)
        takeover["leases_s"] = round(time.monotonic() - killed, 1)
        wait_until(self.one_stream_per_org, timeout=600, what="one stream per org again", interval=0.5)
        takeover["streams_s"] = round(time.monotonic() - killed, 1)
        log(
            f"taken over: leases after {takeover['leases_s']} s, one stream per org after {takeover['streams_s']} s"
        )

    # --- the run ------------------------------------------------------------------------------------

    def run(self) -> dict:
        args, results = self.args, self.results
        self.setup()
        self.start_listeners()
        time.sleep(args.lease_seconds)  # steady state: the first rounds' rebalancing is over
        results["listeners_steady"] = self.listener_figures()
        results["listeners_cpu_at_rest"] = self.cpu_at_rest(args.lease_seconds)
        log(f"listeners at rest: {results['listeners_steady']}")

        convs = self.conversations()
        log(f"inbound: the first message of {len(convs)} conversations")
        results["inbound_open"] = self.inbound(convs, "fo", len(convs))
        log(f"inbound burst of {args.inbound}")
        results["inbound_burst"] = self.inbound(convs, "fi", args.inbound)
        log(f"inbound: {brief(results['inbound_burst'])}")

        log(f"the agents of {len(convs)} tenants accept their sessions")
        started = time.monotonic()
        targets = accept_sessions(self.stack, self.tenants, convs)
        results["accept_s"] = round(time.monotonic() - started, 1)
        log(
            f"outbound: {args.replies} agent replies at {args.rate}/s, one listener killed a third of the way in"
        )
        results["outbound"] = self.outbound_with_a_kill(targets, "fr", args.replies)
        log(f"outbound: {brief(results['outbound'])}")
        results["listeners_after"] = self.listener_figures()
        log(f"survivors: {results['listeners_after']}")
        return results


def brief(figures: dict) -> str:
    throughput = figures.get("throughput")
    rate = f"{throughput:.0f} msg/s" if throughput else "–"
    return (
        f"{figures.get('delivered')}/{figures.get('messages')} delivered, {rate}, "
        f"lost {figures.get('lost')}, duplicated {figures.get('duplicated')}"
    )


def print_summary(results: dict) -> None:
    print("\n| figure | value |\n|---|---|")
    print(f"| tenants / listener processes | {results['tenants']} / {results['listeners']} |")
    print(f"| one stream per org after start | {results.get('all_subscribed_s')} s |")
    cpu = results.get("listeners_cpu_at_rest", {})
    for role, row in sorted(results.get("listeners_steady", {}).items()):
        print(
            f"| {role} at rest | {row['tenants']} tenants, {row['rss_mib']} MiB RSS, {row['threads']} threads, "
            f"{row['sockets']} sockets, {cpu.get(role, '?')}% of a core |"
        )
    for phase in ("inbound_burst", "outbound"):
        figures = results.get(phase) or {}
        print(f"| {phase} | {brief(figures)} |")
    takeover = (results.get("outbound") or {}).get("takeover") or {}
    if takeover:
        print(
            f"| takeover of {takeover.get('orphaned')} tenants ({takeover.get('victim')} killed) | leases "
            f"{takeover.get('leases_s')} s, streams {takeover.get('streams_s')} s |"
        )
    for role, row in sorted(results.get("listeners_after", {}).items()):
        print(
            f"| {role} after | {row['tenants']} tenants, {row['rss_mib']} MiB RSS, {row['threads']} threads |"
        )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench tenants", description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=int, default=1000)
    p.add_argument("--listeners", type=int, default=2)
    p.add_argument(
        "--conversations",
        type=int,
        default=1000,
        help="tenants with traffic (one conversation each), spread evenly",
    )
    p.add_argument("--inbound", type=int, default=2000, help="customer messages in the measured burst")
    p.add_argument("--replies", type=int, default=2000, help="agent replies, sent at --rate")
    p.add_argument("--rate", type=float, default=40.0, help="agent replies per second")
    p.add_argument("--lease-seconds", type=float, default=10.0, help="RELAY_LISTENER_LEASE_SECONDS")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-threads", type=int, default=8)
    p.add_argument("--web-workers", type=int, default=4)
    p.add_argument("--name", default="fleet")
    p.add_argument("--database", default="switchboard_fleet")
    p.add_argument("--redis-db", type=int, default=13)
    p.add_argument("--json", type=Path, help="write the figures here too")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    fleet = Fleet(args)
    try:
        results = fleet.run()
    finally:
        fleet.stack.stop()
    (args.json or fleet.stack.var / "results.json").write_text(json.dumps(results, indent=2))
    print_summary(results)
    failures = [
        phase
        for phase in ("inbound_burst", "outbound")
        if results[phase]["lost"] or results[phase]["duplicated"]
    ]
    if failures:
        print(f"FAILED: lost or duplicated messages in {', '.join(failures)}")
    return 1 if failures else 0
