"""The benchmark's table of all the work of a message (bench/report.py): Switchboard's CPU is its own processes'
(PostgreSQL and Redis included, the simulator and the load generator apart), also given over the simulator's
CPU on the same burst, the machine's yardstick."""

from __future__ import annotations

from bench import report


def test_the_work_table_counts_switchboards_processes_and_gives_the_simulator_yardstick():
    burst = {
        "cpu_ms_per_message": {
            "web": 2.0,
            "worker-1": 1.5,
            "worker-2": 1.5,
            "postgresql": 1.0,
            "redis": 0.5,
            "sandbox": 1.6,
            "load generator": 0.9,
        },
        "work_per_message": {"sql": 3.9, "tasks": 0.7, "published": 0.7, "redis": 11.0, "http": 1.0},
    }
    results = {"scenarios": {"1 tenant": {"inbound_burst": burst}}}

    rows = report.work_rows(results)

    assert rows[2] == "| 1 tenant, inbound | 6.5 | – | – | 4.1× | 3.9 | 0.7 | 0.7 | 11.0 | 1.0 |"
    assert len(rows) == 3  # no outbound burst, no baselines
