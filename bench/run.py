"""``python -m bench run`` (or ``manage.py bench``): the benchmark.

One run starts the sandbox, then the bare baseline (measured alone), then the product (gunicorn,
N Celery workers, beat, the listener) on a fresh PostgreSQL database and Redis, and measures each
scenario (tenants × concurrent conversations) from a load generator in its own process:

1. warm-up: one message per conversation (opens the conversation and the Salesforce session);
2. inbound at ``--rate`` msg/s for ``--duration`` s: webhook ack and end-to-end latency;
3. inbound burst of ``--burst`` messages as fast as they are taken: sustained msg/s;
4. the agent accepts up to ``--outbound-conversations`` sessions, then the same two phases with
   agent replies (agent event → the customer's phone).

It prints the tables and writes ``var/bench/<name>/results.json`` and ``results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import httpx

from . import counters, report
from .load import RawHTTP
from .stack import (
    PYTHON,
    ROOT,
    MemorySampler,
    Proc,
    Stack,
    StackConfig,
    cpu_by_role,
    free_port,
    wait_until,
)
from .tenants import (
    BenchTenant,
    bench_tenant,
    create_in_switchboard,
    customer,
    key_pair,
    load_into_sandbox,
    sandbox_fixture,
)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()  # noqa: S607
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()  # noqa: S607
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory}, Linux {platform.release()}, Python "
        f"{platform.python_version()}, {pg}, Redis {redis[2].removeprefix('v=') if len(redis) > 2 else '?'}"
    )


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stack = Stack(
            StackConfig(
                name=args.name,
                database=args.database,
                broker_db=args.redis_db,
                cache_db=args.redis_db + 1,
                # Its own Redis, so the commands counted are the product's alone.
                dedicated_redis=True,
                workers=args.workers,
                worker_threads=args.worker_threads,
                web_workers=args.web_workers,
                count_work=True,
            )
        )
        self.tenants: list[BenchTenant] = [bench_tenant(i) for i in range(max(args.tenants))]
        self.results: dict = {
            "machine": machine(),
            "workers": args.workers,
            "worker_threads": args.worker_threads,
            "web_workers": args.web_workers,
            "rate": args.rate,
            "duration": args.duration,
            "burst": args.burst,
            "scenarios": {},
        }
        self.sampler: MemorySampler | None = None
        self.scenario_index = 0

    # --- helpers ------------------------------------------------------------------------------------

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def load(self, spec: dict) -> dict:
        """Run the load generator in its own process and return its records."""
        spec_path = self.stack.var / "load-spec.json"
        out_path = self.stack.var / "load-out.json"
        spec_path.write_text(json.dumps(spec))
        subprocess.run(  # noqa: S603
            [PYTHON, "-m", "bench.load", str(spec_path), str(out_path)],
            cwd=ROOT,
            check=True,
            timeout=float(spec.get("deadline", 600)) + 120,
        )
        return json.loads(out_path.read_text())

    def arrivals(self, side: str, prefix: str) -> list[list]:
        for attempt in range(5):  # a sandbox busy with the load may answer late; ask again
            try:
                response = httpx.get(
                    f"{self.stack.sandbox_url}/__sim/arrivals",
                    params={"side": side, "prefix": prefix},
                    timeout=120,
                )
                response.raise_for_status()
                return response.json()["rows"]
            except httpx.HTTPError:
                if attempt == 4:
                    raise
                time.sleep(5)
        return []

    def wait_arrivals(self, side: str, prefix: str, expected: int, timeout: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        rows: list[list] = []
        while time.monotonic() < deadline:
            rows = self.arrivals(side, prefix)
            if len({r[0] for r in rows}) >= expected:
                break
            time.sleep(0.5)
        else:
            self.log(
                f"only {len(rows)} of {expected} {prefix!r} arrived on the {side} side in {timeout:.0f} s"
            )
        first: dict[str, float] = {}
        for text, at, _ in rows:
            first.setdefault(text, at)
        return first

    # --- conversations ------------------------------------------------------------------------------

    def inbound_conversations(self, tenants: int, conversations: int, target: str) -> list[dict]:
        scenario = self.scenario_index
        result = []
        for c in range(conversations):
            t = self.tenants[c % tenants]
            result.append(
                {
                    "id": f"s{scenario}c{c}",
                    "path": f"/webhooks/infobip/{t.account_key}/",
                    "secret": t.webhook_secret,
                    "sender": t.sender,
                    "customer": customer(scenario, c),
                    "tenant": t.index,
                }
            )
        return result

    def accept_sessions(self, conversations: list[dict]) -> list[dict]:
        return accept_sessions(self.stack, self.tenants, conversations)

    # --- phases ------------------------------------------------------------------------------------

    def inbound_phase(
        self, target: str, conversations: list[dict], prefix: str, *, messages: int, rate, concurrency=64
    ):
        records = self.load(
            {
                "kind": "inbound",
                "target": target,
                "conversations": conversations,
                "messages": messages,
                "prefix": prefix,
                "rate": rate,
                "concurrency": concurrency,
                "deadline": max(120, messages / 20),
            }
        )["records"]
        arrivals = self.wait_arrivals(
            "salesforce", prefix + " ", len(records), timeout=max(120, messages / 10)
        )
        return report.inbound_figures(records, arrivals)

    def outbound_phase(self, targets: list[dict], prefix: str, *, messages: int, rate, concurrency=64):
        records = self.load(
            {
                "kind": "outbound",
                "target": self.stack.sandbox_url,
                "conversations": targets,
                "messages": messages,
                "prefix": prefix,
                "rate": rate,
                "concurrency": concurrency,
                "deadline": max(120, messages / 20),
            }
        )["records"]
        keys = [r[0] for r in records if 200 <= r[3] < 300]
        agent_times = {text: at for text, at, _ in self.arrivals("agent", prefix + " ")}
        phone = self.wait_arrivals("phone", prefix + " ", len(keys), timeout=max(120, messages / 10))
        return report.outbound_figures(agent_times, phone, keys)

    def scenario(self, name: str, tenants: int, conversations: int, target: str) -> dict:
        args = self.args
        self.scenario_index += 1
        tag = f"b{self.scenario_index}"
        started = time.time()
        convs = self.inbound_conversations(tenants, conversations, target)
        result: dict = {"tenants": tenants, "conversations": conversations}
        if args.warmup:
            self.log(
                f"{name}: warm-up, one message in each of {conversations} conversations ({tenants} tenants)"
            )
            result["warmup"] = self.inbound_phase(
                target, convs, f"{tag}-warm", messages=conversations, rate=None, concurrency=32
            )
        self.log(f"{name}: inbound at {args.rate} msg/s for {args.duration} s")
        result["inbound_rate"] = self.inbound_phase(
            target, convs, f"{tag}-in-rate", messages=int(args.rate * args.duration), rate=args.rate
        )
        self.log(f"{name}: inbound burst of {args.burst}")
        self.settle(name)
        before, work = cpu_by_role(self.stack), self.work_done()
        result["inbound_burst"] = self.inbound_phase(
            target, convs, f"{tag}-in-burst", messages=args.burst, rate=None, concurrency=args.concurrency
        )
        self.settle(name)  # everything the burst caused is counted, not only what was done on arrival
        result["inbound_burst"]["cpu_ms_per_message"] = self.cpu_per_message(before, result["inbound_burst"])
        result["inbound_burst"]["work_per_message"] = self.work_per_message(work, result["inbound_burst"])
        if args.outbound:
            subset = convs[: args.outbound_conversations]
            result["outbound_tenants"] = len({c["tenant"] for c in subset})
            self.log(f"{name}: the agents accept {len(subset)} sessions")
            targets = self.accept_sessions(subset)
            time.sleep(2)  # let the listener take the accept events before the replies
            self.log(f"{name}: outbound at {args.rate} msg/s for {args.duration} s")
            result["outbound_rate"] = self.outbound_phase(
                targets, f"{tag}-out-rate", messages=int(args.rate * args.duration), rate=args.rate
            )
            self.log(f"{name}: outbound burst of {args.burst}")
            self.settle(name)
            before, work = cpu_by_role(self.stack), self.work_done()
            result["outbound_burst"] = self.outbound_phase(
                targets, f"{tag}-out-burst", messages=args.burst, rate=None, concurrency=args.concurrency
            )
            # The phone has the messages; their delivery and read reports, and Salesforce's
            # acknowledgements, are still to come: counted too.
            self.settle(name)
            result["outbound_burst"]["cpu_ms_per_message"] = self.cpu_per_message(
                before, result["outbound_burst"]
            )
            result["outbound_burst"]["work_per_message"] = self.work_per_message(
                work, result["outbound_burst"]
            )
        if self.sampler:
            peaks = self.sampler.window_peak(started, time.time())
            result["broker_queue_peak"] = peaks.pop("broker_queue", 0) // 1024
            result["memory_mib"] = {role: kib / 1024 for role, kib in sorted(peaks.items())}
        self.log(f"{name}: done in {time.time() - started:.0f} s: {_brief(result)}")
        return result

    def settle(self, name: str, timeout: float = 180) -> None:
        """Wait until the product has nothing left to do: no pending message or notice, every agent message
        read (or failed) on the phone, so its reports were handled, and an empty broker queue."""
        from relay.models import Message, SalesforceNotice

        def idle() -> bool:
            queued = self.stack.redis_cli("-n", str(self.stack.config.broker_db), "llen", "celery").stdout
            return (
                queued.strip() in ("", "0")
                and not Message.objects.filter(status=Message.Status.PENDING).exists()
                and not SalesforceNotice.objects.filter(status=SalesforceNotice.Status.PENDING).exists()
                and not Message.objects.filter(
                    direction=Message.Direction.OUTBOUND,
                    status__in=[Message.Status.SENT, Message.Status.DELIVERED],
                    content__system__isnull=True,
                ).exists()
            )

        deadline = time.monotonic() + timeout
        while not idle():
            if time.monotonic() > deadline:
                self.log(f"{name}: work still pending after {timeout:.0f} s; measuring anyway")
                return
            time.sleep(0.5)
        time.sleep(1)  # the last task's bookkeeping after its final row

    def work_done(self) -> dict[str, int]:
        """What the product's processes counted so far (bench/counters.py), and its Redis's commands."""
        time.sleep(0.6)  # each process writes its counts every half second
        done = counters.totals(self.stack.counters)
        stats = self.stack.redis_cli("info", "commandstats").stdout
        commands = 0
        for line in stats.splitlines():
            name, _, rest = line.partition(":")
            # The benchmark's own queue sampling (llen) and these readings (info) are not the product's.
            if name.startswith("cmdstat_") and name not in ("cmdstat_llen", "cmdstat_info", "cmdstat_ping"):
                commands += int(rest.split(",")[0].split("=")[1])
        done["redis"] = commands
        return done

    def work_per_message(self, before: dict[str, int], figures: dict) -> dict[str, float]:
        after = self.work_done()
        delivered = figures.get("delivered") or 0
        if not delivered:
            return {}
        return {kind: round((after[kind] - before.get(kind, 0)) / delivered, 2) for kind in after}

    def cpu_per_message(self, before: dict[str, float], figures: dict) -> dict[str, float]:
        """CPU milliseconds each role spent per delivered message of a burst: where the machine's time
        went, the product's share and the simulator's and load generator's apart."""
        after = cpu_by_role(self.stack)
        delivered = figures.get("delivered") or 0
        if not delivered:
            return {}
        return {
            role: round((after[role] - before.get(role, 0.0)) * 1000 / delivered, 2)
            for role in after
            if after[role] - before.get(role, 0.0) > 0
        }

    # --- the run -----------------------------------------------------------------------------------

    def run(self) -> dict:
        args, stack = self.args, self.stack
        try:
            self.log(f"var: {stack.var}")
            # Other work on the machine shares its 2 cores: say how busy it was when we started.
            self.results["load_average_at_start"] = Path("/proc/loadavg").read_text().split()[:3]
            stack.start_redis()
            stack.prepare_database()
            stack.django()
            stack.start_sandbox()
            private_key, certificate = key_pair()
            load_into_sandbox(stack.sandbox_url, sandbox_fixture(self.tenants, certificate, stack.web_url))
            self.sampler = MemorySampler(stack, interval=0.5).start()
            if args.baseline:
                self.results["baseline"] = self.run_baseline(private_key)
                self.results["baseline_tight"] = self.run_baseline(private_key, tight=True)
            self.log("starting the product: gunicorn, workers, beat, listener")
            create_in_switchboard(self.tenants, stack.sandbox_url, private_key, certificate)
            stack.start_product()
            # The listener subscribes every tenant; its database work shares RELAY_LISTENER_DB_THREADS
            # connections (default 4), however many tenants there are.
            stack.start_listener()
            for t in self.tenants:
                stack.wait_subscribed(t.org_id15)
            scenarios = [(1, c) for c in args.conversations] + [
                (t, args.primary_conversations) for t in args.tenants if t != 1
            ]
            self.results["primary"] = f"1 tenant, {args.primary_conversations} conversations"
            for tenants, conversations in scenarios:
                name = f"{tenants} tenant{'s' if tenants > 1 else ''}, {conversations} conversations"
                self.results["scenarios"][name] = self.scenario(name, tenants, conversations, stack.web_url)
                self.save()  # a run that fails later keeps what it measured
            self.results["memory_peak_mib"] = {r: kib / 1024 for r, kib in self.sampler.peak.items()}
        finally:
            if self.sampler:
                self.sampler.stop()
            stack.stop()
        return self.results

    def save(self) -> None:
        (self.stack.var / "results.json").write_text(json.dumps(self.results, indent=1))

    def run_baseline(self, private_key: str, *, tight: bool = False) -> dict:
        """The bare relay (bench/baseline.py) on Starlette and httpx, or (``tight``) on aiohttp."""
        stack, args = self.stack, self.args
        port = free_port()
        role = "baseline-tight" if tight else "baseline"
        config = {
            "tight": tight,
            "port": port,
            "sandbox_url": stack.sandbox_url,
            "grpc_target": f"127.0.0.1:{stack.grpc_port}",
            "public_url": f"http://127.0.0.1:{port}",
            "private_key": private_key,
            "tenants": [self.tenants[0].as_dict()],
        }
        config_path = stack.var / f"{role}.json"
        config_path.write_text(json.dumps(config))
        proc = Proc(
            role,
            [PYTHON, "-m", "bench.baseline", str(config_path)],
            stack.env,
            stack.var / f"{role}.log",
        )
        stack.procs.append(proc)
        proc.start()
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{url}/healthz", timeout=2).json()["ok"], timeout=30, what="the baseline"
        )
        wait_until(
            lambda: (
                self.tenants[0].org_id15
                in httpx.get(f"{stack.sandbox_url}/__sim/arrivals/subscriptions").json()
            ),
            timeout=30,
            what="the baseline's subscription",
        )
        try:
            return self.scenario(role, 1, args.primary_conversations, url)
        finally:
            proc.stop()
            stack.procs.remove(proc)


def accept_sessions(stack: Stack, tenants: list[BenchTenant], conversations: list[dict]) -> list[dict]:
    """Each conversation's agent accepts its waiting session (console API); returns the reply targets.

    The load generator posts the customers' webhooks straight to Switchboard, so the Infobip simulator
    never saw them write: its 24-hour window is opened here, as a customer message would have.
    """
    by_tenant: dict[int, set[str]] = {}
    for conv in conversations:
        by_tenant.setdefault(conv["tenant"], set()).add("+" + conv["customer"])
    targets: list[tuple[str, str, str]] = []  # (conversation id, org, session id)
    agents: dict[str, str] = {}
    by_customer = {(conv["tenant"], "+" + conv["customer"]): conv["id"] for conv in conversations}
    base = f"{stack.sandbox_url}/__sim/console/api/orgs"
    for index, customers in by_tenant.items():
        t = tenants[index]
        agent_rows = httpx.get(f"{base}/{t.org_id15}/agents", timeout=30).json()
        agent_rows = agent_rows["agents"] if isinstance(agent_rows, dict) else agent_rows
        agents[t.org_id15] = next(a["id"] for a in agent_rows if a["username"] == t.agent_user)
        sessions = httpx.get(f"{base}/{t.org_id15}/sessions", timeout=120).json()
        for session in sessions:
            subject = session.get("endUserClientId") or ""
            if subject in customers and session["status"] in ("Waiting", "Active"):
                targets.append((by_customer[(index, subject)], t.org_id15, session["id"], session["status"]))

    async def accept_all():
        client = RawHTTP(stack.sandbox_url)
        slots = asyncio.Semaphore(16)

        async def accept(org: str, session_id: str):
            async with slots:
                body = json.dumps({"agent": agents[org]}).encode()
                status, text = await client.request(
                    "POST",
                    f"/__sim/console/api/orgs/{org}/sessions/{session_id}/accept",
                    body,
                    {"Content-Type": "application/json"},
                )
                if status != 200:
                    raise RuntimeError(f"accept {session_id}: {status} {text[:200]!r}")

        async def open_window(conv: dict):
            async with slots:
                t = tenants[conv["tenant"]]
                body = json.dumps(
                    {"account": t.account_key, "sender": t.sender, "customer": conv["customer"]}
                )
                status, text = await client.request(
                    "POST", "/__sim/infobip/window", body.encode(), {"Content-Type": "application/json"}
                )
                if status != 200:
                    raise RuntimeError(f"window {conv['customer']}: {status} {text[:200]!r}")

        await asyncio.gather(*(open_window(conv) for conv in conversations))
        await asyncio.gather(*(accept(org, sid) for _, org, sid, status in targets if status == "Waiting"))

    asyncio.run(accept_all())
    return [
        {
            "id": conv_id,
            "path": f"/__sim/console/api/orgs/{org}/sessions/{sid}/reply",
            "agent": agents[org],
        }
        for conv_id, org, sid, _ in targets
    ]


def _brief(result: dict) -> str:
    parts = []
    for phase in ("inbound_rate", "inbound_burst", "outbound_rate", "outbound_burst"):
        figures = result.get(phase)
        if figures:
            e2e = figures.get("e2e") or {}
            parts.append(
                f"{phase} {figures.get('delivered')}/{figures.get('messages')} "
                f"p50 {report.ms(e2e.get('p50'))} ms p99 {report.ms(e2e.get('p99'))} ms "
                f"{report.fmt_rate(figures.get('throughput'))} msg/s"
            )
    return "; ".join(parts)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--name", default="run", help="var/bench/<name>/ holds logs and results")
    p.add_argument("--workers", type=int, default=2, help="Celery worker processes (default 2)")
    p.add_argument("--worker-threads", type=int, default=8, help="threads per worker (default 8)")
    p.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (default 4)")
    p.add_argument(
        "--rate", type=float, default=200, help="offered msg/s in the latency phases (default 200)"
    )
    p.add_argument("--duration", type=float, default=15, help="seconds of each latency phase (default 15)")
    p.add_argument("--burst", type=int, default=2000, help="messages in each throughput burst (default 2000)")
    p.add_argument("--concurrency", type=int, default=128, help="requests in flight in a burst (default 128)")
    p.add_argument(
        "--conversations", type=_ints, default=[10, 1000, 10000], help="concurrent conversations, 1 tenant"
    )
    p.add_argument(
        "--tenants", type=_ints, default=[1, 100], help="tenant counts (at --primary-conversations)"
    )
    p.add_argument("--primary-conversations", type=int, default=1000)
    p.add_argument("--outbound-conversations", type=int, default=1000, help="sessions the agents accept")
    p.add_argument("--no-outbound", dest="outbound", action="store_false")
    p.add_argument("--no-baseline", dest="baseline", action="store_false")
    p.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the message per conversation before the phases: the phases then open new conversations "
        "(a new conversation costs Salesforce a session: about 5 a second here, so 10,000 take half an hour)",
    )
    p.add_argument(
        "--redis-db", type=int, default=11, help="Redis db for the broker (the cache uses the next)"
    )
    p.add_argument(
        "--database", default="switchboard_bench", help="PostgreSQL database (dropped and created)"
    )
    p.add_argument(
        "--quick", action="store_true", help="a smoke run: 10 and 100 conversations, 1 and 3 tenants"
    )
    return p


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.conversations, args.tenants, args.primary_conversations = [10, 100], [1, 3], 100
        args.duration, args.burst = min(args.duration, 5), min(args.burst, 300)
    if args.primary_conversations not in args.conversations:
        args.conversations = sorted({*args.conversations, args.primary_conversations})
    bench = Bench(args)
    results = bench.run()
    text = report.render(results)
    (bench.stack.var / "results.json").write_text(json.dumps(results, indent=1))
    (bench.stack.var / "results.md").write_text(text + "\n")
    print()
    print(text)
    print(f"\nresults: {bench.stack.var / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
