"""``manage.py relay_listen`` as a process: it subscribes for the tenants in the database and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.relay.salesforce_support import (  # noqa: F401 - fixtures
    ORG_ID,
    create_sandbox_org,
    make_connected_tenant,
    salesforce_urls,
    tokens,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def subscriber_count(sandbox) -> int:
    return sandbox.call(
        lambda: len(sandbox.world.pubsub.subscriptions(sandbox.world.orgs.get(ORG_ID).org_id))
    )


def wait_until(predicate, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout} s")
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_relay_listen_subscribes_and_stops_cleanly(sandbox, sim, salesforce_urls, signum):  # noqa: F811
    create_sandbox_org(sim)
    make_connected_tenant(salesforce_urls)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SWITCHBOARD_TEST_WORKER": "1",  # the process uses this test run's database
        "SALESFORCE_PUBSUB_ENDPOINT": sandbox.world.config.grpc_target,
        "SALESFORCE_PUBSUB_TLS": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "relay_listen", "--refresh-seconds", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: subscriber_count(sandbox) == 1 or process.poll() is not None, 30, "subscription")
        assert process.poll() is None, process.stdout.read()
        process.send_signal(signum)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "relay_listen: stopped." in output
    issued = tokens(sim)
    assert issued and not any(t["access_token"] in output for t in issued)  # no secret in the logs
    assert "subscribed to /event/Switchboard_Interaction__e" in output
    wait_until(lambda: subscriber_count(sandbox) == 0, 5, "stream closed")
