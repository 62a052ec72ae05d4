"""The whole product as separate processes, as in production: sandbox, gunicorn, Celery, beat, listener.

PostgreSQL and Redis are the machine's (127.0.0.1:5432 with trust auth, 127.0.0.1:6379) unless a
dedicated Redis is asked for. Each run gets a fresh database and its own ``var/bench/<name>/``
(logs, Celery beat schedule). Everything started here is stopped by :meth:`Stack.stop`, by process id.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - a service still starting refuses connections
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass
class Proc:
    role: str
    args: list[str]
    env: dict
    log_path: Path
    popen: subprocess.Popen | None = None
    started_at: float = 0.0

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> Proc:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it; closed by the OS at exit
        self.popen = subprocess.Popen(  # noqa: S603
            self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.started_at = time.time()
        return self

    def pids(self) -> list[int]:
        """This process and its children (gunicorn workers, prefork children)."""
        if not self.alive:
            return []
        found, queue = [], [self.popen.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                queue.extend(int(c) for c in children)
        return found

    def kill(self) -> None:
        """SIGKILL, no warm shutdown."""
        if self.alive:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of one process in KiB, from /proc."""
    now = peak = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return now, peak


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time one live process has used, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


def _pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


_pg_activity = None


def _postgres_pids(database: str) -> list[int]:
    """The PostgreSQL processes working for the benchmark: the backends of its database and the server's
    own (writer, checkpointer, WAL, autovacuum), not the backends of other databases on the machine (other
    people's tests). Every ``postgres`` process when the server cannot be asked."""
    global _pg_activity
    try:
        import psycopg

        if _pg_activity is None or _pg_activity.closed:
            _pg_activity = psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=5
            )
        rows = _pg_activity.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s OR backend_type <> 'client backend'"
            " AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
        own = {int(pid) for (pid,) in rows}
        postmaster = [pid for pid in _pids_named("postgres") if _parent(pid) not in _pids_named("postgres")]
        return sorted(own | set(postmaster))
    except Exception:  # noqa: BLE001 - a reading, not a requirement
        return _pids_named("postgres")


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


# Last CPU time seen per (role, pid). A process that exits (a PostgreSQL backend whose connection was
# recycled, say) takes its CPU time with it from /proc: kept here, sums stay cumulative.
_cpu_seen: dict[tuple[str, int], float] = {}


def note_cpu(stack: Stack) -> None:
    """Read the CPU time of every process of interest (the memory sampler calls this every second)."""
    groups = [(proc.role, proc.pids()) for proc in list(stack.procs)]
    groups.append(("postgresql", _postgres_pids(stack.config.database)))
    if stack.redis_proc is not None:
        groups.append(("redis", stack.redis_proc.pids()))
    elif not any(proc.role == "redis" for proc in stack.procs):
        groups.append(("redis", _pids_named("redis-server")))
    for role, pids in groups:
        for pid in pids:
            used = cpu_seconds(pid)
            if used > _cpu_seen.get((role, pid), 0.0):
                _cpu_seen[(role, pid)] = used


def cpu_by_role(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each role of the stack, PostgreSQL and Redis included (every process of
    those servers on the machine: run the benchmark where nothing else uses them), and by this process's
    finished children (the load generators)."""
    note_cpu(stack)
    used: dict[str, float] = {}
    for (role, _pid), seconds in _cpu_seen.items():
        used[role] = used.get(role, 0.0) + seconds
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    used["load generator"] = children.ru_utime + children.ru_stime
    return used


class MemorySampler:
    """Samples every process of the stack every ``interval`` seconds; keeps per-role series and peaks."""

    def __init__(self, stack: Stack, interval: float = 1.0) -> None:
        self.stack, self.interval = stack, interval
        self.samples: list[tuple[float, dict[str, int]]] = []  # (time, role -> largest process RSS KiB)
        self.peak: dict[str, int] = {}  # role -> largest VmHWM of one process, KiB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory", daemon=True)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sample(self) -> dict[str, int]:
        current: dict[str, int] = {}
        # The broker's queue length rides along: a queue that keeps growing means the workers are behind.
        queued = self.stack.redis_cli("-n", str(self.stack.config.broker_db), "llen", "celery").stdout.strip()
        current["broker_queue"] = int(queued) * 1024 if queued.isdigit() else 0
        note_cpu(self.stack)
        for proc in list(self.stack.procs):
            for pid in proc.pids():
                now, peak = rss_kib(pid)
                current[proc.role] = max(current.get(proc.role, 0), now)
                self.peak[proc.role] = max(self.peak.get(proc.role, 0), peak, now)
        return current

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.sample()))
            self._stop.wait(self.interval)

    def window_peak(self, start: float, end: float) -> dict[str, int]:
        peaks: dict[str, int] = {}
        for at, roles in self.samples:
            if start <= at <= end:
                for role, kib in roles.items():
                    peaks[role] = max(peaks.get(role, 0), kib)
        return peaks


@dataclass
class StackConfig:
    name: str = "bench"
    database: str = "switchboard_bench"
    redis_port: int = 6379
    broker_db: int = 11
    cache_db: int = 12
    dedicated_redis: bool = False  # start our own redis-server on a free port (and restart that one)
    workers: int = 2
    worker_threads: int = 8
    web_workers: int = 4
    web_threads: int = 1
    beat: bool = True
    env: dict = field(default_factory=dict)  # extra settings (retry, lease, sweep, timeouts)
    count_work: bool = False  # SQL statements, Celery tasks and HTTP calls counted in each process


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.var = ROOT / "var" / "bench" / config.name
        shutil.rmtree(self.var, ignore_errors=True)
        self.var.mkdir(parents=True)
        self.procs: list[Proc] = []
        self.sandbox_port, self.grpc_port, self.web_port = free_port(), free_port(), free_port()
        self.redis_proc: Proc | None = None
        if config.dedicated_redis:
            self.config.redis_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        redis = f"redis://127.0.0.1:{config.redis_port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + os.urandom(16).hex(),
            "ENCRYPTION_KEYS": fernet_key(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PUBLIC_BASE_URL": self.web_url,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{config.database}",
            "CELERY_BROKER_URL": f"{redis}/{config.broker_db}",
            "CACHE_URL": f"{redis}/{config.cache_db}",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "SALESFORCE_PUBSUB_ENDPOINT": f"127.0.0.1:{self.grpc_port}",
            "SALESFORCE_PUBSUB_TLS": "false",
            "EGRESS_ALLOWED_HOSTS": f"127.0.0.1:{self.sandbox_port}",  # the egress guard's local sandbox
            "SWITCHBOARD_VAR_DIR": str(self.var),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **config.env,
        }
        for key in ("SWITCHBOARD_TEST_WORKER", "BENCH_COUNTERS_DIR"):
            self.env.pop(key, None)
        self.counters = self.var / "counters"
        if config.count_work:
            self.env["DJANGO_SETTINGS_MODULE"] = "bench.counting_settings"
            self.env["BENCH_COUNTERS_DIR"] = str(self.counters)
        self.workers: list[Proc] = []
        self.listener: Proc | None = None

    # --- services -----------------------------------------------------------------------------------

    def redis_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.config.redis_port), *args],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
        )

    def start_redis(self) -> None:
        if self.config.dedicated_redis:
            self.redis_proc = self._proc(
                "redis",
                [
                    "redis-server",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.config.redis_port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.var),
                ],
                track=False,
            ).start()
        else:
            if self.redis_cli("ping").stdout.strip() != "PONG":
                subprocess.run(REDIS_START, shell=True, check=True, timeout=30)  # noqa: S602
        wait_until(lambda: self.redis_cli("ping").stdout.strip() == "PONG", timeout=30, what="Redis")
        if not self.config.dedicated_redis:
            for db in (self.config.broker_db, self.config.cache_db):
                self.redis_cli("-n", str(db), "flushdb")

    def restart_redis(self) -> float:
        """Stop Redis without saving and start it again; returns the seconds it was down."""
        started = time.monotonic()
        if self.config.dedicated_redis:
            self.redis_cli("shutdown", "nosave")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.redis_proc.popen.wait(timeout=10)
            self.redis_proc.start()
        else:
            self.redis_cli("shutdown", "nosave")
            wait_until(lambda: self.redis_cli("ping").returncode != 0, timeout=10, what="Redis to stop")
            subprocess.run(REDIS_START, shell=True, check=True, timeout=30)  # noqa: S602
        wait_until(lambda: self.redis_cli("ping").stdout.strip() == "PONG", timeout=30, what="Redis")
        return time.monotonic() - started

    def prepare_database(self) -> None:
        """A fresh database, migrated."""
        db = self.config.database
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c"]
        subprocess.run(  # noqa: S603
            [*psql, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], check=True, capture_output=True
        )
        subprocess.run([*psql, f'CREATE DATABASE "{db}"'], check=True, capture_output=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True
        )

    def start_sandbox(self) -> Proc:
        proc = self._proc(
            "sandbox",
            [
                PYTHON,
                "-m",
                "sandbox",
                "--port",
                str(self.sandbox_port),
                "--grpc-port",
                str(self.grpc_port),
                "--fixture",
                "",
                "--keepalive",
                "5",
            ],
        ).start()
        wait_until(
            lambda: httpx.get(f"{self.sandbox_url}/__sim/health", timeout=2).status_code == 200,
            timeout=30,
            what="the sandbox",
        )
        return proc

    def start_web(self) -> Proc:
        args = [
            PYTHON,
            "-m",
            "gunicorn",
            "portal.wsgi",
            "--workers",
            str(self.config.web_workers),
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ]
        if self.config.web_threads > 1:
            args += ["--worker-class", "gthread", "--threads", str(self.config.web_threads)]
        proc = self._proc("web", args).start()
        wait_until(
            lambda: httpx.get(f"{self.web_url}/healthz", timeout=2).status_code == 200,
            timeout=180,  # a busy machine (other work on the same cores) starts it slowly
            what="gunicorn",
        )
        return proc

    def start_worker(self, index: int) -> Proc:
        proc = self._proc(
            f"worker-{index}",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(self.config.worker_threads),
                "--hostname",
                f"{self.config.name}-w{index}@%h",
                "--loglevel",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        # Celery logs "ready" only at INFO; a worker is ready once it answers on the broker.
        proc.env = {**proc.env}
        proc.start()
        time.sleep(0.5)
        if not proc.alive:
            raise RuntimeError(f"worker {index} exited: see {proc.log_path}")
        return proc

    def start_workers(self) -> None:
        self.workers = [self.start_worker(i) for i in range(1, self.config.workers + 1)]
        self.wait_workers()

    def wait_workers(self, timeout: float = 180) -> None:
        names = {f"{self.config.name}-w{i}" for i in range(1, self.config.workers + 1)}

        def all_up():
            out = subprocess.run(  # noqa: S603
                [PYTHON, "-m", "celery", "-A", "portal", "inspect", "ping", "--timeout", "2", "--json"],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            replies = json.loads(out or "{}")
            items = replies if isinstance(replies, list) else [replies]
            seen = {name.split("@")[0] for item in items for name in item}
            return names <= seen

        wait_until(all_up, timeout=timeout, what="the Celery workers", interval=1)

    def restart_worker(self, proc: Proc) -> Proc:
        proc.start()
        return proc

    def start_beat(self) -> Proc:
        return self._proc(
            "beat",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(self.var / "celerybeat-schedule"),
            ],
        ).start()

    def start_listener(self, *, wait_for_orgs: list[str] = (), tenant_slugs: list[str] = ()) -> Proc:
        args = [PYTHON, "manage.py", "relay_listen", "--refresh-seconds", "2", "--max-backoff", "3"]
        for slug in tenant_slugs:
            args += ["--tenant", slug]
        proc = self._proc("listener", args)
        proc.start()
        self.listener = proc
        for org in wait_for_orgs:
            self.wait_subscribed(org)
        return proc

    def wait_subscribed(self, org_id: str, timeout: float = 180) -> None:
        def subscribed():
            response = httpx.get(f"{self.sandbox_url}/__sim/arrivals/subscriptions", timeout=5)
            return org_id[:15] in response.json()

        wait_until(subscribed, timeout=timeout, what=f"the listener to subscribe for {org_id}", interval=0.5)

    def restart_listener(self) -> None:
        self.listener.stop()
        self.listener.start()

    def start_product(self) -> None:
        self.start_web()
        self.start_workers()
        if self.config.beat:
            self.start_beat()

    # --- bookkeeping --------------------------------------------------------------------------------

    def _proc(self, role: str, args: list[str], *, track: bool = True) -> Proc:
        proc = Proc(role, args, self.env, self.var / f"{role}.log")
        if track:
            self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        if self.redis_proc is not None:
            self.redis_cli("shutdown", "nosave")
            with contextlib.suppress(Exception):
                self.redis_proc.popen.wait(timeout=10)

    def django(self) -> None:
        """Use the stack's database and settings in this process (for setup and the final checks)."""
        os.environ.update({k: v for k, v in self.env.items() if k != "BENCH_COUNTERS_DIR"})  # not counted
        import django

        django.setup()
