"""``python manage.py demo``: the whole product on one machine, on embedded defaults.

Starts the sandbox simulators, the web server, a Celery worker and (when present) the Pub/Sub
listener; creates the demo tenant wired to the sandbox; prints where to go and how to sign in.
Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal.demo import (
    DEMO_PASSWORD,
    ensure_demo_tenant,
    link_demo_admin_to_salesforce,
    register_capabilities,
    register_certificate_with_sandbox,
)


class Command(BaseCommand):
    help = "Run web, worker, listener and sandbox with a demo tenant (embedded defaults)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8100)
        parser.add_argument("--sandbox-grpc-port", type=int, default=8101)

    def handle(self, *args, host, port, sandbox_port, sandbox_grpc_port, **options):
        python = sys.executable
        sandbox_url = f"http://{host}:{sandbox_port}"
        env = {
            **os.environ,
            "DEBUG": os.environ.get("DEBUG", "true"),
            "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", f"http://{host}:{port}"),
            "SALESFORCE_PUBSUB_ENDPOINT": os.environ.get(
                "SALESFORCE_PUBSUB_ENDPOINT", f"{host}:{sandbox_grpc_port}"
            ),
            "SALESFORCE_PUBSUB_TLS": os.environ.get("SALESFORCE_PUBSUB_TLS", "false"),
            # The sandbox (and this site, which the wizard's webhook check calls) are on this machine: the
            # egress guard refuses local addresses unless listed.
            "EGRESS_ALLOWED_HOSTS": os.environ.get(
                "EGRESS_ALLOWED_HOSTS", f"{host}:{sandbox_port},{host}:{port}"
            ),
            "PYTHONUNBUFFERED": "1",
        }
        # This process talks to the sandbox too (linking the demo admin): the same allowance as its children.
        settings.EGRESS_ALLOWED_HOSTS = [h for h in env["EGRESS_ALLOWED_HOSTS"].split(",") if h.strip()]
        call_command("migrate", interactive=False, verbosity=0)
        processes: list[tuple[str, subprocess.Popen]] = []

        def start(name: str, argv: list[str]) -> None:
            # Each child in its own session: Ctrl-C reaches only this command, which then stops the children
            # in order, instead of every child dying at once and looking like a crash.
            proc = subprocess.Popen(argv, env=env, start_new_session=True)  # noqa: S603 - our own interpreter
            processes.append((name, proc))

        def stop_all(*_):
            for _, proc in reversed(processes):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _, proc in processes:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()

        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        # Ctrl-C stops the demo even when its shell started it with SIGINT ignored (a background job).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            start(
                "sandbox",
                [
                    python,
                    "-m",
                    "sandbox",
                    "--host",
                    host,
                    "--port",
                    str(sandbox_port),
                    "--grpc-port",
                    str(sandbox_grpc_port),
                    "--app-url",
                    env["PUBLIC_BASE_URL"],
                ],
            )
            self._wait_for(f"{sandbox_url}/__sim/health", "sandbox")
            tenant = ensure_demo_tenant(sandbox_url)
            register_certificate_with_sandbox(tenant, sandbox_url, env["PUBLIC_BASE_URL"])
            link_demo_admin_to_salesforce(tenant)
            register_capabilities(tenant)  # as the wizard does: agents can send buttons, lists and forms
            start("web", [python, "manage.py", "runserver", f"{host}:{port}", "--noreload", "--skip-checks"])
            start(
                "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--pool",
                    "threads",
                    "--concurrency",
                    "4",
                    "--without-heartbeat",
                    "--without-gossip",
                ],
            )
            if _command_exists("relay_listen"):
                start("listener", [python, "manage.py", "relay_listen"])
            start("beat", [python, "-m", "celery", "-A", "portal", "beat", "--loglevel", "WARNING"])
            self._wait_for(f"http://{host}:{port}/healthz", "web")
            self._banner(host, port, sandbox_url, tenant)
            while True:
                for name, proc in processes:
                    if proc.poll() is not None:
                        raise CommandError(f"{name} exited with status {proc.returncode}; stopping the demo.")
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            stop_all()

    def _wait_for(self, url: str, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise CommandError(f"{what} did not answer at {url} within {timeout:.0f} s")

    def _banner(self, host, port, sandbox_url, tenant) -> None:
        base = f"http://{host}:{port}"
        lines = [
            "",
            "Switchboard is running (embedded defaults: SQLite under var/, file-system broker).",
            f"  Admin:           {base}/admin/   sign in as admin / {DEMO_PASSWORD}"
            f"  (tenant admin: acme-admin / {DEMO_PASSWORD})",
            f"  Health:          {base}/healthz",
            f"  Agent console:   {sandbox_url}/__sim/console?org={tenant.org_id}",
            f"  Customer phone:  {sandbox_url}/__sim/phone",
            f"  Canvas launcher: {sandbox_url}/__sim/canvas",
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write("\n".join(lines))


def _command_exists(name: str) -> bool:
    from django.core.management import get_commands

    return name in get_commands()
