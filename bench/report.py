"""Figures from the load generator's records and the sandbox's arrival times; the printed tables."""

from __future__ import annotations

import math


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f}" if value >= 0.01 else f"{value * 1000:.1f}"


def ratio(value: float | None, base: float | None, *, higher_is_better: bool) -> str:
    if value is None or not base:
        return ""
    return f" ({value / base:.2f}×)"


def latency_summary(latencies: list[float]) -> dict:
    return {
        "count": len(latencies),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else None,
    }


def inbound_figures(records: list[list], arrivals: dict[str, float]) -> dict:
    """``records``: the load generator's rows; ``arrivals``: key -> time Salesforce stored it."""
    acks = [r[2] - r[1] for r in records if r[4] == 1 and 200 <= r[3] < 300]
    e2e = [arrivals[r[0]] - r[1] for r in records if r[0] in arrivals]
    sent = [r[1] for r in records]
    landed = [arrivals[r[0]] for r in records if r[0] in arrivals]
    figures = {
        "messages": len(records),
        "delivered": len(landed),
        "refused": sum(1 for r in records if not 200 <= r[3] < 300),
        "retried": sum(1 for r in records if r[4] > 1),
        "ack": latency_summary(acks),
        "e2e": latency_summary(e2e),
        "send_rate": _rate(len(sent), sent),
    }
    if landed:
        figures["throughput"] = len(landed) / max(1e-6, max(landed) - min(sent))
    return figures


def outbound_figures(agent_times: dict[str, float], phone: dict[str, float], keys: list[str]) -> dict:
    e2e = [phone[k] - agent_times[k] for k in keys if k in phone and k in agent_times]
    started = [agent_times[k] for k in keys if k in agent_times]
    landed = [phone[k] for k in keys if k in phone]
    figures = {
        "messages": len(keys),
        "delivered": len(landed),
        "e2e": latency_summary(e2e),
        "send_rate": _rate(len(started), started),
    }
    if landed and started:
        figures["throughput"] = len(landed) / max(1e-6, max(landed) - min(started))
    return figures


def _rate(count: int, times: list[float]) -> float | None:
    if count < 2:
        return None
    return count / max(1e-6, max(times) - min(times))


def fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def scenario_rows(results: dict) -> list[str]:
    """The main table: one row per run (baseline and product scenarios), both directions."""
    base = results.get("baseline") or {}
    lines = [
        "| run | tenants | conversations | inbound msg/s (burst) | webhook ack p50 / p99 ms (at rate) "
        "| inbound e2e p50 / p95 / p99 ms (at rate) | outbound msg/s (burst) "
        "| outbound e2e p50 / p95 / p99 ms (at rate) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    tight = results.get("baseline_tight") or {}
    for name, run in [("baseline", base), ("tight baseline", tight), *results.get("scenarios", {}).items()]:
        if not run:
            continue
        lines.append(_row(name, run, base if "baseline" not in name else None))
    return lines


def _row(name: str, run: dict, base: dict | None) -> str:
    inb_burst = (run.get("inbound_burst") or {}).get("throughput")
    out_burst = (run.get("outbound_burst") or {}).get("throughput")
    rate = run.get("inbound_rate") or {}
    out_rate = run.get("outbound_rate") or {}

    def with_ratio(value, key, direction):
        text = fmt_rate(value)
        if base and value:
            base_value = (base.get(f"{direction}_burst") or {}).get(key)
            if base_value:
                text += f" ({value / base_value:.0%})"
        return text

    def lat(figures: dict, which: str) -> str:
        summary = figures.get(which) or {}
        return " / ".join(
            ms(summary.get(p)) for p in (("p50", "p99") if which == "ack" else ("p50", "p95", "p99"))
        )

    return (
        f"| {name} | {run.get('tenants', '')} | {run.get('conversations', '')} "
        f"| {with_ratio(inb_burst, 'throughput', 'inbound')} | {lat(rate, 'ack')} | {lat(rate, 'e2e')} "
        f"| {with_ratio(out_burst, 'throughput', 'outbound')} | {lat(out_rate, 'e2e')} |"
    )


def _runs(results: dict) -> list[tuple[str, dict]]:
    return [
        ("baseline", results.get("baseline") or {}),
        ("tight baseline", results.get("baseline_tight") or {}),
        *results.get("scenarios", {}).items(),
    ]


def _columns(tables: list[dict]) -> list[str]:
    """Every key of ``tables``, in the order first seen: the roles a table has columns for."""
    columns: list[str] = []
    for table in tables:
        columns.extend(key for key in table if key not in columns)
    return columns


def memory_rows(results: dict) -> list[str]:
    runs = [(name, run.get("memory_mib") or {}) for name, run in _runs(results)]
    roles = _columns([memory for _, memory in runs])
    lines = ["| run | " + " | ".join(roles) + " |", "|---|" + "---:|" * len(roles)]
    for name, memory in runs:
        if memory:
            lines.append(f"| {name} | " + " | ".join(f"{memory.get(r, 0):.0f}" for r in roles) + " |")
    return lines


def cpu_rows(results: dict) -> list[str]:
    """CPU ms per message by process in each burst: what the 2 cores were busy with."""
    rows = []
    for name, run in _runs(results):
        for phase in ("inbound_burst", "outbound_burst"):
            cpu = (run.get(phase) or {}).get("cpu_ms_per_message") or {}
            if cpu:
                rows.append((f"{name}, {phase.replace('_burst', '')}", cpu))
    if not rows:
        return []
    roles = _columns([cpu for _, cpu in rows])
    lines = ["| burst | " + " | ".join(roles) + " | total |", "|---|" + "---:|" * (len(roles) + 1)]
    for name, cpu in rows:
        cells = " | ".join(f"{cpu[r]:.1f}" if r in cpu else "" for r in roles)
        lines.append(f"| {name} | {cells} | {sum(cpu.values()):.1f} |")
    return lines


# The processes that are Switchboard's work (the sandbox, the baselines and the load generator are not).
PRODUCT_ROLES = ("web", "worker", "listener", "beat", "postgresql", "redis")
BASELINES = (("baseline", "baseline (httpx, Starlette)"), ("baseline_tight", "tight baseline (aiohttp)"))


def product_cpu(cpu: dict[str, float]) -> float:
    return sum(ms for role, ms in cpu.items() if role.startswith(PRODUCT_ROLES))


def baseline_cpu(cpu: dict[str, float]) -> float:
    return sum(ms for role, ms in cpu.items() if role.startswith("baseline"))


def work_rows(results: dict) -> list[str]:
    """All the work of a message, per burst: Switchboard's CPU (every process of it, PostgreSQL and Redis
    included; the simulator and the load generator apart) and what it did. "× simulator": over the CPU the
    sandbox spent on the same burst, whose work per message is fixed: a yardstick of the machine's speed at the
    time, which moved by half within an hour on a shared host while that ratio stayed within a tenth."""
    lines = [
        "| burst | Switchboard CPU ms | × httpx baseline | × tight baseline | × simulator | SQL statements "
        "| Celery tasks run | task publishes | Redis commands | HTTP calls |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    bases = {
        key: {
            phase: baseline_cpu(
                ((results.get(key) or {}).get(f"{phase}_burst") or {}).get("cpu_ms_per_message") or {}
            )
            for phase in ("inbound", "outbound")
        }
        for key, _ in BASELINES
    }
    for name, run in results.get("scenarios", {}).items():
        for phase in ("inbound", "outbound"):
            figures = run.get(f"{phase}_burst") or {}
            by_process = figures.get("cpu_ms_per_message") or {}
            cpu = product_cpu(by_process)
            work = figures.get("work_per_message") or {}
            if not cpu:
                continue
            ratios = [f"{cpu / bases[k][phase]:.0f}×" if bases[k][phase] else "–" for k, _ in BASELINES]
            simulator = by_process.get("sandbox")
            yardstick = f"{cpu / simulator:.1f}×" if simulator else "–"
            lines.append(
                f"| {name}, {phase} | {cpu:.1f} | {ratios[0]} | {ratios[1]} | {yardstick} | {work.get('sql', '–')} "
                f"| {work.get('tasks', '–')} | {work.get('published', '–')} | {work.get('redis', '–')} "
                f"| {work.get('http', '–')} |"
            )
    for key, label in BASELINES:
        for phase in ("inbound", "outbound"):
            if bases[key][phase]:
                lines.append(f"| {label}, {phase} | {bases[key][phase]:.1f} | | | | | | | | |")
    return lines


def targets(results: dict) -> list[str]:
    """Where the primary scenario stands against the issue's goals."""
    primary = results.get("scenarios", {}).get(results.get("primary", ""), {})
    base = results.get("baseline") or {}
    rate = primary.get("inbound_rate") or {}
    lines = ["| goal | measured | met |", "|---|---:|:-:|"]

    def add(goal: str, value: float | None, ok: bool | None, shown: str):
        lines.append(f"| {goal} | {shown if value is not None else '–'} | {'yes' if ok else 'no'} |")

    offered = results.get("rate")
    ack99 = (rate.get("ack") or {}).get("p99")
    add(
        f"webhook ack p99 < 50 ms at {offered} msg/s",
        ack99,
        ack99 is not None and ack99 < 0.05,
        f"{ms(ack99)} ms",
    )
    e50, e99 = (rate.get("e2e") or {}).get("p50"), (rate.get("e2e") or {}).get("p99")
    add(f"inbound e2e p50 < 100 ms at {offered} msg/s", e50, e50 is not None and e50 < 0.1, f"{ms(e50)} ms")
    add(f"inbound e2e p99 < 500 ms at {offered} msg/s", e99, e99 is not None and e99 < 0.5, f"{ms(e99)} ms")
    burst = (primary.get("inbound_burst") or {}).get("throughput")
    add(
        f">= 500 msg/s sustained inbound with {results.get('workers')} workers",
        burst,
        burst is not None and burst >= 500,
        f"{fmt_rate(burst)} msg/s",
    )
    # Issue 16: all the work of a message (its reports and acknowledgements included).
    for direction, what, cpu_goal, sql_goal in (("inbound", "customer", 6, 5), ("outbound", "agent", 12, 10)):
        figures = primary.get(f"{direction}_burst") or {}
        cpu = product_cpu(figures.get("cpu_ms_per_message") or {}) or None
        work = figures.get("work_per_message") or {}
        add(
            f"{what} message <= {cpu_goal} CPU ms",
            cpu,
            cpu is not None and cpu <= cpu_goal,
            f"{cpu or 0:.1f} ms",
        )
        sql = work.get("sql")
        add(
            f"{what} message <= {sql_goal} SQL statements", sql, sql is not None and sql <= sql_goal, f"{sql}"
        )
        if direction == "outbound":
            tasks = work.get("tasks")
            add("agent message <= 1.5 Celery tasks", tasks, tasks is not None and tasks <= 1.5, f"{tasks}")
    for direction in ("inbound", "outbound"):
        ours = (primary.get(f"{direction}_burst") or {}).get("throughput")
        bare = (base.get(f"{direction}_burst") or {}).get("throughput")
        share = ours / bare if ours and bare else None
        add(
            f"{direction} throughput >= 50% of the baseline",
            share,
            share is not None and share >= 0.5,
            f"{share:.0%}" if share else "–",
        )
    return lines


def render(results: dict) -> str:
    parts = [
        f"Machine: {results.get('machine', '')}; load average at start "
        f"{' '.join(results.get('load_average_at_start') or [])}",
        f"Workers: {results.get('workers')} Celery processes × {results.get('worker_threads')} threads; "
        f"web: gunicorn × {results.get('web_workers')}; rate phase {results.get('rate')} msg/s for "
        f"{results.get('duration')} s; bursts of {results.get('burst')} messages.",
        "",
        *scenario_rows(results),
        "",
        "Throughput in parentheses: share of the baseline's. Peak resident memory per process (MiB):",
        "",
        *memory_rows(results),
        "",
        "CPU milliseconds per delivered message during the bursts, by process (PostgreSQL and Redis: every"
        " process of those servers):",
        "",
        *cpu_rows(results),
        "",
        "All the work of a message (measured until its reports and acknowledgements were done), per delivered"
        " message of each burst; × baseline: Switchboard's CPU over the bare relay's own process's:",
        "",
        *work_rows(results),
        "",
        "Targets (primary scenario: " + str(results.get("primary")) + "):",
        "",
        *targets(results),
    ]
    return "\n".join(parts)
