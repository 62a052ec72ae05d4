"""Fixtures shared by the whole suite: the sandbox simulators and a headless Chromium."""

from __future__ import annotations

import os
import shutil
import time

import httpx
import pytest
from django.core.management.base import CommandError
from django.test import TransactionTestCase

from sandbox.server import SandboxServer
from sandbox.world import SandboxConfig

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def _flush_retrying_on_deadlock(original):
    """TransactionTestCase's teardown flushes every table with TRUNCATE. A worker or listener process of the
    e2e tests may still be finishing a task on the same database (an ETA retry, a poll), and PostgreSQL can
    then pick the TRUNCATE as a deadlock's victim; a flush that fails leaves rows for the next test. Try the
    flush again a few times instead."""

    def teardown(self):
        for attempt in range(5):
            try:
                return original(self)
            except CommandError as exc:
                if attempt == 4 or "deadlock detected" not in str(exc.__cause__):
                    raise
                time.sleep(0.2 * (attempt + 1))  # a back-off before trying again, not a wait for a condition

    return teardown


TransactionTestCase._fixture_teardown = _flush_retrying_on_deadlock(TransactionTestCase._fixture_teardown)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and at the end no session of a process the tests started (a worker, a
    listener, a pool thread) left holding it: PostgreSQL refuses to drop a database in use, after waiting 5 s
    for it."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _a_test_leaves_nothing_in_the_cache():
    """What a test leaves in the shared cache must not decide the next one: a line's queued mark (relay/lines/
    wake.py) left by a test whose task never ran skipped the next test's wake of a conversation that got the
    same id (SQLite gives ids again after a rollback), and its message stayed pending. Cached configuration
    goes with it."""
    yield
    from django.core.cache import cache

    from tenants import config_cache

    cache.clear()
    config_cache.clear_local()


# What makes a test more than a unit test: the simulators, a live server, a browser, real processes.
HEAVY_FIXTURES = {"sandbox_server", "live_server", "browser"}
HEAVY_FOLDERS = {"e2e", "browser", "soak"}
# Modules without those that still take more than seconds, with why: the full suite runs them, the unit tier not.
SLOW_MODULES = {
    "api/test_schemathesis.py": "hundreds of generated requests; building them alone takes seconds",
    "unit/test_deploy_settings.py": "runs manage.py check --deploy in a new process, seven times",
}


def _slow(path) -> bool:
    return any(str(path).endswith(name) for name in SLOW_MODULES)


def _unit_tier(config) -> bool:
    return config.getoption("markexpr", "").strip() == "unit"


def pytest_ignore_collect(collection_path, config):
    """``-m unit`` does not even import what can hold no unit test (a browser test module imports Playwright,
    schemathesis builds its tests at import): collecting is a good part of a fast tier's time."""
    if not _unit_tier(config):
        return None
    if collection_path.name in HEAVY_FOLDERS and collection_path.parent.name == "tests":
        return True
    return True if _slow(collection_path) else None


def pytest_collection_modifyitems(config, items):
    """Mark the fast tier: ``bin/test -m unit`` runs everything that needs none of the heavy parts."""
    for item in items:
        folder = item.path.parent.name
        heavy = HEAVY_FIXTURES & set(getattr(item, "fixturenames", ()))
        if heavy or folder in HEAVY_FOLDERS or _slow(item.path) or item.get_closest_marker("integration"):
            continue
        item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def sandbox_server():
    """The simulators on free ports for the whole test session (state is reset per test)."""
    server = SandboxServer(
        http_port=0,
        grpc_port=0,
        config=SandboxConfig(keepalive_seconds=0.5, webhook_time_scale=0.001, long_poll_seconds=1.0),
    ).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The running sandbox with a clean world; ``sandbox.world`` is its state, ``sandbox.base_url`` its URL."""
    sandbox_server.call(sandbox_server.world.reset)
    yield sandbox_server
    sandbox_server.call(sandbox_server.world.reset)


@pytest.fixture
def sim(sandbox):
    """An HTTP client on the sandbox's base URL."""
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's 'chromium' package")
    from playwright.sync_api import expect, sync_playwright

    # Pages wait on a real worker (queued live checks, deliveries): on CI's two shared cores an answer can take
    # longer than Playwright's default of 5 s. A later answer is not a failure; a missing one still is.
    expect.set_options(timeout=20_000)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


# What the real processes of tests/e2e write (in SWITCHBOARD_VAR_DIR).
PROCESS_LOGS = ("worker.log", "listener.log")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that ran beside the real worker or listener shows the end of their logs: the only trace of
    what a process did, and gone with the run's directory when the next run starts."""
    report = yield
    if report.failed and {"celery_worker_process", "listener"} & set(getattr(item, "fixturenames", ())):
        folder = os.environ.get("SWITCHBOARD_VAR_DIR", "")
        for name in PROCESS_LOGS:
            path = os.path.join(folder, name)
            if folder and os.path.exists(path):
                with open(path, errors="replace") as log:
                    tail = log.readlines()[-80:]
                report.sections.append((f"last lines of {name}", "".join(tail)))
    return report
