"""``python -m bench soak`` (or ``manage.py soak``): M messages both ways while everything goes wrong.

The product runs as in production (sandbox, gunicorn, Celery workers and beat, the listener, PostgreSQL,
Redis). Customers write through signed webhooks (a refused webhook is retried, as Infobip does) and
agents answer through the sandbox's console, across many conversations and tenants, while:

- the sandbox answers a share of Salesforce and Infobip calls with 5xx and 429 (with Retry-After);
- Salesforce's Interaction Service answers late for a while (longer than ``HTTP_TIMEOUT_SECONDS``:
  timeouts; the call takes effect, Switchboard hears nothing and retries with the same entry id);
- a Celery worker is killed with SIGKILL and started again;
- Salesforce is down for ``--outage`` seconds (login, REST, Interaction Service and Pub/Sub);
- Redis is shut down without saving and started again (the broker's queues and the token cache go);
- the listener is restarted.

At the end every message must have arrived exactly once (Salesforce's stored entries; the phone's
received messages) and in its conversation's order; the report gives the counts and the command
exits 1 otherwise.

Timeouts are injected on Salesforce only: Infobip's send API has no idempotency key, so a send that
took effect but whose answer was lost cannot be told apart from one that did not (see
docs/benchmarks.md, "Limits"). For the same reason the worker is killed while no outbound send is in
flight; it may be in the middle of a Salesforce call (that is safe: entry ids de-duplicate).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict

import httpx

from .stack import PYTHON, ROOT, MemorySampler, Stack, StackConfig, wait_until
from .tenants import (
    bench_tenant,
    create_in_switchboard,
    customer,
    key_pair,
    load_into_sandbox,
    sandbox_fixture,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--name", default="soak")
    p.add_argument("--messages", type=int, default=4800, help="customer messages (default 4800)")
    p.add_argument("--replies", type=int, default=2400, help="agent messages (default 2400)")
    p.add_argument("--conversations", type=int, default=400)
    p.add_argument("--tenants", type=int, default=4)
    p.add_argument("--duration", type=float, default=600, help="seconds of traffic (default 600)")
    p.add_argument("--outage", type=float, default=60, help="seconds Salesforce is down (default 60)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--error-rate", type=float, default=0.05, help="share of calls answered 5xx")
    p.add_argument("--throttle-rate", type=float, default=0.03, help="share of calls answered 429")
    p.add_argument(
        "--redis",
        choices=("system", "dedicated"),
        default="system",
        help="restart the machine's Redis on 6379 (default) or a redis-server of our own on a free port",
    )
    p.add_argument("--drain", type=float, default=300, help="seconds allowed for everything to arrive after")
    p.add_argument(
        "--ci", action="store_true", help="CI size: 600/300 messages, 60 s, a 15 s outage, dedicated Redis"
    )
    p.add_argument("--json", help="also write the report here")
    return p


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stack = Stack(
            StackConfig(
                name=args.name,
                database=f"switchboard_{args.name.replace('-', '_')}",
                broker_db=13,
                cache_db=14,
                dedicated_redis=args.redis == "dedicated",
                workers=args.workers,
                worker_threads=8,
                web_workers=3,
                env={
                    # Retries, dead leases and sweeps on the soak's time scale (production: 2 s to 10 min,
                    # 90 s, 15 s); the production HTTP timeout (10 s): with 2 s, an overloaded machine's
                    # slow Infobip answers became timeouts, and each one a duplicate send.
                    "RELAY_RETRY_BASE_SECONDS": "0.5",
                    "RELAY_RETRY_CAP_SECONDS": "5",
                    "RELAY_LEASE_SECONDS": "10",
                    "RELAY_SWEEP_SECONDS": "5",
                    "HTTP_TIMEOUT_SECONDS": "10",
                },
            )
        )
        self.tenants = [bench_tenant(i) for i in range(args.tenants)]
        self.events: list[tuple[float, str]] = []
        self.t0 = 0.0
        self.loads: list[subprocess.Popen] = []

    def log(self, message: str) -> None:
        elapsed = f"+{time.time() - self.t0:5.0f}s" if self.t0 else "      "
        print(f"[soak {time.strftime('%H:%M:%S')} {elapsed}] {message}", flush=True)

    def note(self, what: str) -> None:
        self.events.append((round(time.time() - self.t0, 1), what))
        self.log(what)

    # --- sandbox control -----------------------------------------------------------------------------

    def fault(self, **rule) -> int:
        response = httpx.post(f"{self.stack.sandbox_url}/__sim/faults", json=rule, timeout=10)
        response.raise_for_status()
        return response.json()["id"]

    def clear(self, rule_id: int) -> None:
        httpx.delete(f"{self.stack.sandbox_url}/__sim/faults/{rule_id}", timeout=10)

    def arrivals(self, side: str, prefix: str) -> list[list]:
        response = httpx.get(
            f"{self.stack.sandbox_url}/__sim/arrivals", params={"side": side, "prefix": prefix}, timeout=120
        )
        response.raise_for_status()
        return response.json()["rows"]

    # --- traffic ---------------------------------------------------------------------------------------

    def start_load(self, name: str, spec: dict) -> subprocess.Popen:
        spec_path = self.stack.var / f"{name}-spec.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.Popen(  # noqa: S603
            [PYTHON, "-m", "bench.load", str(spec_path), str(self.stack.var / f"{name}-out.json")],
            cwd=ROOT,
            stdout=open(self.stack.var / f"{name}.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        self.loads.append(proc)
        return proc

    def finish_load(self, name: str, proc: subprocess.Popen, timeout: float) -> list[list]:
        proc.wait(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"load generator {name} failed: see {self.stack.var / (name + '.log')}")
        return json.loads((self.stack.var / f"{name}-out.json").read_text())["records"]

    def conversations(self) -> list[dict]:
        result = []
        for c in range(self.args.conversations):
            t = self.tenants[c % len(self.tenants)]
            result.append(
                {
                    "id": f"c{c}",
                    "path": f"/webhooks/infobip/{t.account_key}/",
                    "secret": t.webhook_secret,
                    "sender": t.sender,
                    "customer": customer(0, c),
                    "tenant": t.index,
                }
            )
        return result

    def accept_all(self, conversations: list[dict]) -> list[dict]:
        from .run import accept_sessions

        return accept_sessions(self.stack, self.tenants, conversations)

    # --- the run -----------------------------------------------------------------------------------------

    def run(self) -> dict:
        args, stack = self.args, self.stack
        report: dict = {"config": {k: v for k, v in vars(args).items() if k != "json"}}
        sampler = None
        try:
            stack.start_redis()
            stack.prepare_database()
            stack.django()
            stack.start_sandbox()
            private_key, certificate = key_pair()
            load_into_sandbox(stack.sandbox_url, sandbox_fixture(self.tenants, certificate, stack.web_url))
            create_in_switchboard(self.tenants, stack.sandbox_url, private_key, certificate)
            stack.start_product()
            stack.start_listener()
            for t in self.tenants:
                stack.wait_subscribed(t.org_id15)
            sampler = MemorySampler(stack, interval=2.0).start()
            convs = self.conversations()
            self.log(f"opening {len(convs)} conversations in {len(self.tenants)} tenants")
            opened = self.start_load(
                "open",
                {
                    "kind": "inbound",
                    "target": stack.web_url,
                    "conversations": convs,
                    "messages": len(convs),
                    "prefix": "soak-in",
                    "concurrency": 32,
                    "deadline": 300,
                },
            )
            open_records = self.finish_load("open", opened, 400)
            wait_until(
                lambda: len(self.arrivals("salesforce", "soak-in ")) >= len(convs),
                timeout=180,
                what="the first message of every conversation in Salesforce",
                interval=1,
            )
            targets = self.accept_all(convs)
            time.sleep(3)  # the listener records the accept events
            report.update(self.traffic(convs, targets, open_records))
        finally:
            for proc in self.loads:  # a failed run leaves no load generator behind
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=10)
            if sampler:
                sampler.stop()
                report["memory"] = memory_trend(sampler, self.t0, args.duration)
            stack.stop()
        return report

    def traffic(self, convs: list[dict], targets: list[dict], open_records: list[list]) -> dict:
        args, stack = self.args, self.stack
        duration = args.duration
        per_conversation = max(1, (args.messages - len(convs)) // len(convs))
        inbound_total = per_conversation * len(convs)
        replies_per_conversation = max(2, args.replies // len(targets))
        first_half = (replies_per_conversation // 2) * len(targets)
        second_half = (replies_per_conversation - replies_per_conversation // 2) * len(targets)
        deadline = duration + args.outage + 600
        self.t0 = time.time()
        self.note(
            f"traffic: {inbound_total} customer messages and {first_half + second_half} agent messages "
            f"over {duration:.0f} s"
        )
        inbound = self.start_load(
            "inbound",
            {
                "kind": "inbound",
                "target": stack.web_url,
                "conversations": convs,
                "messages": inbound_total,
                "prefix": "soak-in",
                "start_seq": 2,  # 1 opened the conversation
                "rate": inbound_total / duration,
                "concurrency": 256,
                "deadline": deadline,
            },
        )
        # Outbound in two halves, over 0-20% and 25-95% of the time: the worker is killed in between
        # (see the module's docstring).
        outbound_a = self.start_load(
            "outbound-a",
            {
                "kind": "outbound",
                "target": stack.sandbox_url,
                "conversations": targets,
                "messages": first_half,
                "prefix": "soak-out",
                "rate": first_half / (0.2 * duration),
                "concurrency": 128,
                "deadline": deadline,
            },
        )
        rules = [
            self.fault(service="scrt", path="/interactions", status=503, error_rate=args.error_rate),
            self.fault(service="scrt", status=429, error_rate=args.throttle_rate, retry_after=1),
            self.fault(service="infobip", path="/message", status=500, error_rate=args.error_rate),
            self.fault(
                service="infobip", path="/message", status=429, error_rate=args.throttle_rate, retry_after=1
            ),
        ]
        self.note(
            f"faults on: {args.error_rate:.0%} 5xx and {args.throttle_rate:.0%} 429 on Salesforce and Infobip"
        )

        self.at(0.10 * duration)
        slow = self.fault(
            service="scrt", path="/interactions", latency_ms=11000, error_rate=0, delay_response=True
        )
        self.note("Salesforce answers after 11 s (> the 10 s timeout)")
        self.at(0.10 * duration + max(12, 0.03 * duration))
        self.clear(slow)
        self.note("Salesforce answers in time again")

        out_a = self.finish_load("outbound-a", outbound_a, deadline)
        self.wait_outbound_idle()
        self.at(0.25 * duration)
        victim = stack.workers[0]
        victim.kill()
        self.note(f"SIGKILL {victim.role} (pid {victim.popen.pid})")
        outbound_b = self.start_load(
            "outbound-b",
            {
                "kind": "outbound",
                "target": stack.sandbox_url,
                "conversations": targets,
                "messages": second_half,
                "prefix": "soak-out",
                "start_seq": replies_per_conversation // 2 + 1,
                "rate": second_half / (0.7 * duration),
                "concurrency": 128,
                "deadline": deadline,
            },
        )
        time.sleep(3)
        victim.start()
        self.note(f"{victim.role} started again")

        # Each step at its share of the time, or right after the previous one when that ran late.
        self.at(0.35 * duration)
        down = [
            self.fault(service=service, status=503, outage=True)
            for service in ("login", "core", "scrt", "pubsub")
        ]
        httpx.post(f"{stack.sandbox_url}/__sim/pubsub/drop", json={}, timeout=10)
        outage_started = time.time() - self.t0
        self.note(f"Salesforce down for {args.outage:.0f} s (login, REST, Interaction Service, Pub/Sub)")
        self.at(outage_started + args.outage)
        for rule in down:
            self.clear(rule)
        self.note("Salesforce back")

        self.at(max(0.35 * duration + args.outage, outage_started + args.outage) + 0.1 * duration)
        down_for = stack.restart_redis()
        self.note(f"Redis shut down (nosave) and started again ({down_for:.1f} s)")
        self.supervise(max(10, 0.05 * duration))

        self.at(time.time() - self.t0 + 0.1 * duration)
        stack.restart_listener()
        self.note("listener restarted")

        in_records = self.finish_load("inbound", inbound, deadline)
        out_b = self.finish_load("outbound-b", outbound_b, deadline)
        for rule in rules:
            self.clear(rule)
        self.note("traffic over; faults off; waiting for everything to arrive")
        return self.verify(open_records + in_records, out_a + out_b)

    def supervise(self, seconds: float) -> None:
        """What systemd's ``Restart=always`` does in production: start again a worker that exited on its own
        after the Redis restart, and say so (none should: portal/broker.py; tests/soak asserts it)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            for worker in self.stack.workers:
                if not worker.alive:
                    code = worker.popen.returncode
                    worker.start()
                    self.note(
                        f"{worker.role} had exited (code {code}) and was started again, as a supervisor would"
                    )
            time.sleep(1)

    def at(self, offset: float) -> None:
        delay = self.t0 + offset - time.time()
        if delay > 0:
            time.sleep(delay)

    def wait_outbound_idle(self) -> None:
        """No agent message between the listener and the phone: nothing a SIGKILL could send twice."""
        from relay.models import Message

        def idle():
            return not Message.objects.filter(direction="out", status="pending").exists()

        wait_until(idle, timeout=300, what="outbound messages to be sent", interval=0.2)

    # --- the verdict ----------------------------------------------------------------------------------------

    def verify(self, in_records: list[list], out_records: list[list]) -> dict:
        from relay.models import DeliveryAttempt, Message

        expected_in = {r[0] for r in in_records if 200 <= r[3] < 300}
        expected_out = {r[0] for r in out_records if 200 <= r[3] < 300}
        deadline = time.monotonic() + self.args.drain
        while True:
            sf_rows = self.arrivals("salesforce", "soak-in ")
            phone_rows = self.arrivals("phone", "soak-out ")
            if {r[0] for r in sf_rows} >= expected_in and {r[0] for r in phone_rows} >= expected_out:
                break
            if time.monotonic() > deadline:
                self.log("drain deadline reached")
                break
            time.sleep(2)
        self.note("checking")
        inbound = check("inbound", expected_in, sf_rows, refused=len(in_records) - len(expected_in))
        outbound = check("outbound", expected_out, phone_rows, refused=len(out_records) - len(expected_out))
        inbound["retried_webhooks"] = sum(1 for r in in_records if r[4] > 1)
        statuses = Counter(Message.objects.values_list("direction", "status"))
        resent = Counter()
        for direction, action in (("in", "interaction"), ("out", "send")):
            ok_per_message = Counter(
                DeliveryAttempt.objects.filter(
                    message__direction=direction, action=action, outcome="ok"
                ).values_list("message_id", flat=True)
            )
            resent[direction] = sum(1 for count in ok_per_message.values() if count > 1)
        attempts = Counter(DeliveryAttempt.objects.values_list("target", "outcome"))
        failed = Message.objects.filter(status="failed").count()
        return {
            "ok": inbound["ok"] and outbound["ok"] and failed == 0,
            "failed_messages": failed,
            "inbound": inbound,
            "outbound": outbound,
            "timeline": self.events,
            "switchboard_messages": {f"{d}/{s}": n for (d, s), n in sorted(statuses.items())},
            "calls_taken_twice": dict(resent),
            "attempts": {f"{t}/{o}": n for (t, o), n in sorted(attempts.items())},
        }


def check(direction: str, expected: set[str], rows: list[list], *, refused: int) -> dict:
    """Exactly once and in order, from the other side's arrival rows ``[text, time, conversation]``."""
    seen = Counter(r[0] for r in rows)
    duplicates = {k: n for k, n in seen.items() if n > 1}
    lost = sorted(expected - set(seen))
    by_conversation: dict[str, list[int]] = defaultdict(list)
    for text, _, conversation in rows:
        _, conv_id, seq = text.split(" ")
        by_conversation[f"{conversation}|{conv_id}"].append(int(seq))
    out_of_order = []
    for conversation, sequence in by_conversation.items():
        if any(b <= a for a, b in zip(sequence, sequence[1:], strict=False)):
            out_of_order.append(conversation)
    return {
        "ok": not lost and not duplicates and not out_of_order and refused == 0,
        "sent": len(expected),
        "arrived": len(seen),
        "lost": len(lost),
        "lost_examples": lost[:10],
        "duplicates": sum(n - 1 for n in duplicates.values()),
        "duplicate_examples": sorted(duplicates)[:10],
        "conversations": len(by_conversation),
        "conversations_out_of_order": len(out_of_order),
        "out_of_order_examples": out_of_order[:5],
        "never_accepted": refused,
    }


def memory_trend(sampler: MemorySampler, t0: float, duration: float) -> dict:
    """Per process: RSS in the first and the last tenth of the traffic, and the peak (MiB)."""
    if not t0:
        return {}
    span = max(10.0, duration / 10)
    early = sampler.window_peak(t0, t0 + span)
    late = sampler.window_peak(t0 + duration - span, t0 + duration)
    return {
        role: {
            "first_mib": round(early.get(role, 0) / 1024, 1),
            "last_mib": round(late.get(role, 0) / 1024, 1),
            "peak_mib": round(sampler.peak.get(role, 0) / 1024, 1),
        }
        for role in sorted((set(early) | set(late)) - {"broker_queue"})
    }


def render(report: dict) -> str:
    lines = ["| direction | sent | arrived | lost | duplicates | conversations | out of order | verdict |"]
    lines.append("|---|---:|---:|---:|---:|---:|---:|:-:|")
    for direction in ("inbound", "outbound"):
        r = report.get(direction) or {}
        lines.append(
            f"| {direction} | {r.get('sent')} | {r.get('arrived')} | {r.get('lost')} | {r.get('duplicates')} "
            f"| {r.get('conversations')} | {r.get('conversations_out_of_order')} | {'ok' if r.get('ok') else 'FAIL'} |"
        )
    lines += ["", "What happened (seconds from the start of traffic):", ""]
    lines += [f"- {at:>6.1f} s: {what}" for at, what in report.get("timeline", [])]
    lines += [
        "",
        f"Switchboard's rows: {report.get('switchboard_messages')} (failed: {report.get('failed_messages')})",
    ]
    lines += [f"Delivery attempts: {report.get('attempts')}"]
    lines += [
        f"Calls made twice (answer lost, same entry id / after a kill): {report.get('calls_taken_twice')}",
        f"Webhooks the provider had to retry: {(report.get('inbound') or {}).get('retried_webhooks')}",
    ]
    memory = report.get("memory") or {}
    if memory:
        lines += [
            "",
            "| process | RSS first 10% (MiB) | RSS last 10% (MiB) | peak (MiB) |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {role} | {m['first_mib']} | {m['last_mib']} | {m['peak_mib']} |" for role, m in memory.items()
        ]
    lines += ["", "RESULT: " + ("every message exactly once, in order" if report.get("ok") else "FAILED")]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.ci:
        args.messages, args.replies, args.conversations, args.tenants = 600, 300, 60, 2
        args.duration, args.outage, args.redis, args.drain = 60, 15, "dedicated", 120
        if args.name == "soak":
            args.name = "soak-ci"
    soak = Soak(args)
    report = soak.run()
    text = render(report)
    (soak.stack.var / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (soak.stack.var / "report.md").write_text(text + "\n")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=1, default=str)
    print()
    print(text)
    return 0 if report.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
