"""Issue 16: tenants shared among several ``relay_listen`` processes (relay/salesforce/shards.py). Six tenants, two
listener processes as in production (each tenant subscribed by exactly one of them), one killed with SIGKILL: the
survivor takes its tenants over once their leases run out, and every agent reply, those sent while nobody held
the tenant included, reaches the customer's phone exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db.models.functions import Now

from bench.tenants import bench_tenant, create_in_switchboard, key_pair, sandbox_fixture
from relay.models import Message
from relay.salesforce.shard_models import ListenerLease, ListenerProcess
from relay.salesforce.shards import rendezvous_owner
from tenants.models import Tenant
from tests.e2e.conftest import ROOT, agent_id, console_sessions, phone_received, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TENANTS = 6
LEASE_SECONDS = 3.0  # production: 10; short here so the takeover is quick


@pytest.fixture
def fleet(sandbox, sim, live_server, settings, transactional_db, real_worker):
    """Six bench tenants in the sandbox and in Switchboard; ``start()`` runs one more relay_listen process."""
    settings.PUBLIC_BASE_URL = live_server.url
    tenants = [bench_tenant(900 + n) for n in range(TENANTS)]
    private_key, certificate = key_pair()
    sandbox.call(sandbox.world.load_fixture, sandbox_fixture(tenants, certificate, live_server.url))
    create_in_switchboard(tenants, sandbox.base_url, private_key, certificate)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SWITCHBOARD_TEST_WORKER": "1",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SALESFORCE_PUBSUB_ENDPOINT": sandbox.world.config.grpc_target,
        "SALESFORCE_PUBSUB_TLS": "false",
        "PUBLIC_BASE_URL": live_server.url,
        "RELAY_LISTENER_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    processes: list[subprocess.Popen] = []

    def start(name: str) -> subprocess.Popen:
        log = open(Path(os.environ["SWITCHBOARD_VAR_DIR"]) / f"listener-{name}.log", "a")  # noqa: SIM115
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "relay_listen", "--refresh-seconds", "0.5", "--max-backoff", "2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        processes.append(process)
        return process

    yield tenants, start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def settled_holders() -> dict[int, str] | None:
    """Tenant id → holder once every tenant is held by its rendezvous owner among the live processes."""
    live = list(ListenerProcess.objects.filter(expires_at__gt=Now()).values_list("holder", flat=True))
    held = dict(
        ListenerLease.objects.filter(expires_at__gt=Now())
        .exclude(holder="")
        .values_list("tenant_id", "holder")
    )
    tenants = list(Tenant.objects.values_list("pk", flat=True))
    if len(live) < 2 or set(held) != set(tenants):
        return None
    return held if all(held[t] == rendezvous_owner(t, live) for t in tenants) else None


def subscriptions(sim) -> Counter:
    return Counter(sim.get("/__sim/arrivals/subscriptions").json())


def texts_on_phone(sim, customer: str, prefix: str) -> list[str]:
    texts = [m["content"].get("text") or "" for m in phone_received(sim, customer)]
    return [text for text in texts if text.startswith(prefix)]


def test_a_killed_listeners_tenants_are_taken_over_and_every_reply_arrives_once(fleet, sim):
    tenants, start = fleet
    first, second = start("a"), start("b")
    holders = wait_for(settled_holders, timeout=60, what="the two listeners to share the tenants")
    orgs = [t.org_id15 for t in tenants]
    wait_for(lambda: all(subscriptions(sim)[org] == 1 for org in orgs), timeout=60, what="one stream per org")

    # A conversation per tenant, accepted by the tenant's agent.
    sessions = {}
    for t in tenants:
        customer = f"3859177{t.index:05d}"
        sent = sim.post(
            "/__sim/infobip/inbound",
            json={
                "account": t.account_key,
                "channel": "WHATSAPP",
                "from": customer,
                "to": t.sender,
                "text": "Hi",
            },
        )
        assert sent.status_code in (200, 201, 202), sent.text
        sessions[t.index] = customer
    for t in tenants:
        customer = sessions[t.index]
        session = wait_for(
            lambda t=t, customer=customer: [
                s
                for s in console_sessions(sim, t.org_id15)
                if (s.get("endUserClientId") or "").lstrip("+") == customer
            ],
            timeout=60,
            what=f"tenant {t.index}'s session",
        )[0]
        agent = agent_id(sim, t.org_id15, t.agent_user)
        accepted = sim.post(
            f"/__sim/console/api/orgs/{t.org_id15}/sessions/{session['id']}/accept", json={"agent": agent}
        )
        assert accepted.status_code == 200, accepted.text
        sessions[t.index] = (customer, session["id"], agent)

    def reply(t, text: str) -> None:
        _, session_id, agent = sessions[t.index]
        response = sim.post(
            f"/__sim/console/api/orgs/{t.org_id15}/sessions/{session_id}/reply",
            json={"agent": agent, "text": text},
        )
        assert response.status_code == 201, response.text

    for t in tenants:
        reply(t, f"Before {t.index}")
    for t in tenants:
        wait_for(
            lambda t=t: texts_on_phone(sim, sessions[t.index][0], "Before"),
            timeout=60,
            what="the first replies",
        )

    # Kill the process holding the most tenants, with no chance to hand them back; reply at once.
    counts = Counter(holders.values())
    victim_holder = counts.most_common(1)[0][0]
    victim = next(p for p in (first, second) if victim_holder.split(":")[1] == str(p.pid))
    survivor = first if victim is second else second
    orphaned = {tenant for tenant, holder in holders.items() if holder == victim_holder}
    victim.kill()
    victim.wait(timeout=10)
    killed_at = time.monotonic()
    for t in tenants:
        reply(t, f"During {t.index}")

    def taken_over() -> bool:
        held = dict(ListenerLease.objects.filter(expires_at__gt=Now()).values_list("tenant_id", "holder"))
        return all(held.get(tenant) not in (None, "", victim_holder) for tenant in orphaned)

    wait_for(taken_over, timeout=30, what="the survivor to take the killed listener's tenants")
    takeover = time.monotonic() - killed_at
    assert takeover < LEASE_SECONDS * 3, f"taken over after {takeover:.1f} s"
    assert survivor.poll() is None
    wait_for(
        lambda: all(subscriptions(sim)[org] == 1 for org in orgs), timeout=30, what="one stream per org again"
    )

    for t in tenants:
        reply(t, f"After {t.index}")
    for t in tenants:
        customer = sessions[t.index][0]
        expected = [f"Before {t.index}", f"During {t.index}", f"After {t.index}"]
        wait_for(
            lambda customer=customer, expected=expected: all(
                texts_on_phone(sim, customer, x) for x in expected
            ),
            timeout=60,
            what=f"tenant {t.index}'s replies on the phone",
        )
        on_phone = [
            text
            for text in texts_on_phone(sim, customer, "")
            if text.split(" ")[0] in ("Before", "During", "After")
        ]
        assert on_phone == expected  # each once, in order
    outbound = Counter(Message.objects.filter(direction="out").values_list("text", flat=True))
    assert all(outbound[f"{word} {t.index}"] == 1 for t in tenants for word in ("Before", "During", "After"))
