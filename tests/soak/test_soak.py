"""The CI-sized fault soak: the whole product under faults loses, doubles and reorders nothing.

``python -m bench soak --ci`` starts the sandbox, gunicorn, two Celery workers, beat and the listener on
a fresh PostgreSQL database and a Redis server of its own, sends 600 customer messages and 300 agent
messages across 60 conversations of two tenants while the sandbox injects 5xx, 429, timeouts and a
15-second Salesforce outage, a worker is killed with SIGKILL, Redis is restarted and the listener is
restarted; then it checks what the sandbox's Salesforce and phone received. The full version is the
same command without ``--ci`` (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def _postgres_answers() -> bool:
    if not shutil.which("pg_isready"):
        return False
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False).returncode == 0


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server (it starts its own)")
@pytest.mark.skipif(not _postgres_answers(), reason="needs PostgreSQL on 127.0.0.1:5432 with trust auth")
def test_every_message_arrives_exactly_once_and_in_order_through_faults(tmp_path):
    report_path = tmp_path / "soak.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "soak", "--ci", "--name", "soak-ci-test", "--json", str(report_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report_path.exists(), f"the soak did not finish:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    report = json.loads(report_path.read_text())
    summary = run.stdout[-3000:]
    for direction, sent in (("inbound", 600), ("outbound", 300)):
        counts = report[direction]
        assert counts["sent"] == sent, summary
        assert counts["lost"] == 0, f"{direction} lost {counts['lost_examples']}\n{summary}"
        assert counts["duplicates"] == 0, f"{direction} doubled {counts['duplicate_examples']}\n{summary}"
        assert counts["conversations_out_of_order"] == 0, f"{direction} reordered\n{summary}"
        assert counts["never_accepted"] == 0, summary
    assert report["failed_messages"] == 0, summary
    # The faults happened: calls were refused and retried, and every step of the timeline ran.
    assert report["attempts"].get("salesforce/transient", 0) > 0, summary
    assert report["attempts"].get("infobip/transient", 0) > 0, summary
    steps = " ".join(what for _, what in report["timeline"])
    for step in ("SIGKILL", "Salesforce down", "Redis shut down", "listener restarted"):
        assert step in steps, steps
    assert "had exited" not in steps, f"a worker ended on its own (the Redis restart?): {steps}"
    assert run.returncode == 0, summary
