"""End to end: the sandbox (Salesforce and Infobip), Switchboard's web server, a real Celery worker
and the Pub/Sub listener, wired together exactly as the demo is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import IO

import pytest

from portal.celery import app as celery_app
from portal.demo import DEMO_ORG_ID, ensure_demo_tenant, register_certificate_with_sandbox

ROOT = Path(__file__).resolve().parents[2]
DEMO_FIXTURE = json.loads((ROOT / "sandbox" / "fixtures" / "demo.json").read_text())
WHATSAPP, SMS, VIBER = "447860099299", "447491163443", "AcmeViber"
CUSTOMER = "385919998888"


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    """Poll until ``predicate()`` returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class WorkerProcess:
    """A real Celery worker on the test database and the configured broker; can be killed and restarted."""

    def __init__(self, public_base_url: str) -> None:
        self.env = {
            **os.environ,
            "PUBLIC_BASE_URL": public_base_url,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SWITCHBOARD_TEST_WORKER": "1",
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
        self.log_path = Path(os.environ["SWITCHBOARD_VAR_DIR"]) / "worker.log"
        self.proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

        def ready():
            text = self.log_path.read_text()[offset:]
            return " ready." in text or self.proc.poll() is not None

        wait_for(ready, timeout=60, what="the Celery worker to start")
        if self.proc.poll() is not None:
            pytest.fail(f"the Celery worker exited: see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement of the task in hand."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.running:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc is not None:
            self.log.close()


class ListenerProcess:
    """``manage.py relay_listen`` as its own process, as in production, on the sandbox's Pub/Sub and this
    test's live server; a context manager (started on entry, stopped on exit) with ``restart()``.

    ``ready`` (no arguments) says when it may be used; by default once its log says it is running. A
    process that exits before it is ready fails the test at once, with its log's path, instead of waiting
    out the timeout.
    """

    def __init__(
        self,
        wired,
        *,
        ready: Callable[[], object] | None = None,
        what: str = "the listener to start",
        log_name: str = "listener.log",
        max_backoff: float | None = 2.0,
        timeout: float = 30.0,
    ) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SWITCHBOARD_TEST_WORKER": "1",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "SALESFORCE_PUBSUB_ENDPOINT": wired.sandbox.world.config.grpc_target,
            "SALESFORCE_PUBSUB_TLS": "false",
            "PUBLIC_BASE_URL": wired.live_server.url,
        }
        self.args = [sys.executable, "manage.py", "relay_listen", "--refresh-seconds", "0.5"]
        if max_backoff is not None:  # short, so a reconnect in a test does not wait the default minute
            self.args += ["--max-backoff", f"{max_backoff:g}"]
        self.ready = ready or self.running
        self.what = what
        self.timeout = timeout
        self.log_path = Path(os.environ["SWITCHBOARD_VAR_DIR"]) / log_name
        self.proc: subprocess.Popen | None = None
        self.log: IO[str] | None = None
        self._offset = 0

    def output(self) -> str:
        """What this run of the process wrote (the log file is shared by every run and test)."""
        return self.log_path.read_text()[self._offset :]

    def running(self) -> bool:
        return "relay_listen: running" in self.output()

    def start(self) -> None:
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            self.args, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        proc = self.proc
        wait_for(lambda: proc.poll() is not None or self.ready(), timeout=self.timeout, what=self.what)
        if proc.poll() is not None:
            pytest.fail(f"relay_listen exited with {proc.returncode}: see {self.log_path}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        if self.log is not None:
            self.log.close()
            self.log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> ListenerProcess:
        try:
            self.start()
        except BaseException:
            self.stop()  # a process that never became ready is not left running
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, live_server, sandbox_server):
    worker = WorkerProcess(live_server.url)
    # The wizard's health check runs in the worker (live checks are queued) and looks at the Pub/Sub topic.
    worker.env["SALESFORCE_PUBSUB_ENDPOINT"] = sandbox_server.world.config.grpc_target
    worker.env["SALESFORCE_PUBSUB_TLS"] = "false"
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def real_worker(celery_worker_process):
    """Tasks go through the broker to the worker process instead of running in the caller."""
    if not celery_worker_process.running:  # a test before this one killed it
        celery_worker_process.start()
    celery_app.conf.task_always_eager = False
    yield celery_worker_process
    celery_app.conf.task_always_eager = True


@pytest.fixture
def wired(sandbox, sim, live_server, settings, transactional_db, real_worker):
    """The demo org and Infobip account in the sandbox, and the demo tenant in Switchboard pointing at them."""
    settings.PUBLIC_BASE_URL = live_server.url
    sandbox.call(sandbox.world.load_fixture, DEMO_FIXTURE)
    tenant = ensure_demo_tenant(sandbox.base_url)
    register_certificate_with_sandbox(tenant, sandbox.base_url)
    webhook = f"{live_server.url}/webhooks/infobip/demo-account-key/"
    response = sim.patch(
        "/__sim/infobip/accounts/demo-account-key",
        json={"webhook_url": webhook},
    )
    assert response.status_code == 200, response.text
    return SimpleNamespace(
        tenant=tenant,
        org_id=tenant.org_id,
        sim=sim,
        sandbox=sandbox,
        live_server=live_server,
        worker=real_worker,
    )


def customer_writes(
    sim, text: str, *, channel: str = "WHATSAPP", sender: str = WHATSAPP, customer: str = CUSTOMER
):
    response = sim.post(
        "/__sim/infobip/inbound",
        json={
            "account": "demo-account-key",
            "channel": channel,
            "from": customer,
            "to": sender,
            "text": text,
            "name": "Frank",
        },
    )
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


def console_sessions(sim, org_id: str, **params) -> list[dict]:
    response = sim.get(f"/__sim/console/api/orgs/{org_id}/sessions", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["sessions"] if isinstance(body, dict) else body


def session_entries(sim, org_id: str, session_id: str) -> list[dict]:
    response = sim.get(f"/__sim/console/api/orgs/{org_id}/sessions/{session_id}/entries")
    assert response.status_code == 200, response.text
    body = response.json()
    return body["entries"] if isinstance(body, dict) else body


__all__ = [
    "DEMO_ORG_ID",
    "ListenerProcess",
    "wait_for",
    "customer_writes",
    "console_sessions",
    "session_entries",
]


@pytest.fixture
def listener(wired):
    """``manage.py relay_listen`` as its own process, as in production; ``listener.restart()`` restarts it.
    Ready once the sandbox sees its Pub/Sub subscription."""

    def subscribed():
        return wired.sandbox.call(lambda: wired.sandbox.world.pubsub.subscriptions(wired.org_id))

    with ListenerProcess(wired, ready=subscribed, what="the listener to subscribe") as process:
        yield process


def agent_id(sim, org_id: str, username: str = "ada@acme.demo") -> str:
    agents = sim.get(f"/__sim/console/api/orgs/{org_id}/agents").json()
    agents = agents["agents"] if isinstance(agents, dict) else agents
    for agent in agents:
        if username in (agent.get("username"), agent.get("Username")):
            return agent.get("id") or agent.get("Id")
    raise AssertionError(f"no agent {username} in {agents}")


def phone_received(sim, customer: str = CUSTOMER, channel: str | None = None) -> list[dict]:
    params = {"customer": customer, "direction": "OUTBOUND"}
    if channel:
        params["channel"] = channel
    return sim.get("/__sim/infobip/messages", params=params).json()


def open_session(wired, text="Hello, my parcel has not arrived", **inbound):
    """The customer writes; the first waiting session is accepted by Ada. Returns (session, Ada's id)."""
    customer_writes(wired.sim, text, **inbound)
    customer = inbound.get("customer", CUSTOMER)

    def waiting():
        sessions = console_sessions(wired.sim, wired.org_id)
        return [s for s in sessions if (s.get("endUserClientId") or "").lstrip("+") == customer.lstrip("+")]

    session = wait_for(waiting, what="a waiting session for the customer")[0]
    ada = agent_id(wired.sim, wired.org_id)
    accepted = wired.sim.post(
        f"/__sim/console/api/orgs/{wired.org_id}/sessions/{session['id']}/accept", json={"agent": ada}
    )
    assert accepted.status_code == 200, accepted.text
    return session, ada


def agent_replies(wired, session, ada, **body):
    response = wired.sim.post(
        f"/__sim/console/api/orgs/{wired.org_id}/sessions/{session['id']}/reply", json={"agent": ada, **body}
    )
    assert response.status_code == 201, response.text
    return response.json()


def entry_texts(entries: list[dict]) -> list[str]:
    texts = []
    for entry in entries:
        payload = entry.get("entryPayload") or entry.get("payload") or entry
        message = payload.get("abstractMessage") or {}
        text = (message.get("staticContent") or {}).get("text")
        if text:
            texts.append(text)
    return texts


def customer_entries(wired, session_id: str) -> list[dict]:
    return [
        e
        for e in session_entries(wired.sim, wired.org_id, session_id)
        if (e.get("sender") or {}).get("role") == "EndUser" and e.get("entryType") == "Message"
    ]
