"""Settings for the test suite: production settings with fixed test keys and fast hashing.

Each test run gets its own ``var/test/run-<pid>/`` (SQLite test database, file broker, cache), so
runs side by side never share state. Processes the end-to-end tests start (a Celery worker, the
listener) import these settings too, with ``SWITCHBOARD_TEST_WORKER=1`` and the run's environment:
they then use that run's test database.
"""

import os
import shutil
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_WORKER = os.environ.get("SWITCHBOARD_TEST_WORKER") == "1"

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# Two keys: the first encrypts, the second is an "old" one that must still decrypt.
os.environ.setdefault(
    "ENCRYPTION_KEYS",
    "wqPZgHGO5rHAvCQsW6kPiJTEZ4e4i8IkoSXCpMQcXmA=,Dv0a2C6kU1c5qzXo4cYbqUfZJwq1jvNnX5q8m5bW7UA=",
)
if not _WORKER:
    _runs = _ROOT / "var" / "test"
    for _old in _runs.glob("run-*"):  # runs that ended (their process is gone)
        try:
            os.kill(int(_old.name.removeprefix("run-")), 0)
        except (ProcessLookupError, ValueError):
            shutil.rmtree(_old, ignore_errors=True)
        except PermissionError:
            pass
    os.environ.setdefault("SWITCHBOARD_VAR_DIR", str(_runs / f"run-{os.getpid()}"))
# The unit tier (bin/test -m unit) starts no worker, listener or live server: nothing shares its database
# or cache, so both live in memory (and PostgreSQL is not needed to run it).
_UNIT_TIER = os.environ.get("SWITCHBOARD_TEST_TIER") == "unit" and not _WORKER
if _UNIT_TIER:
    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    os.environ["CACHE_URL"] = "locmemcache://"
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# Retries and dead-worker leases on a test's time scale (production: 2 s doubling to 10 min; 90 s).
os.environ.setdefault("RELAY_RETRY_BASE_SECONDS", "0.5")
os.environ.setdefault("RELAY_RETRY_CAP_SECONDS", "4")
os.environ.setdefault("RELAY_LEASE_SECONDS", "5")
# The sandbox (127.0.0.1) and pytest-django's live servers (localhost), on any port: local, so listed.
os.environ.setdefault("EGRESS_ALLOWED_HOSTS", "127.0.0.1,localhost")
# The live servers of the tests speak plain http: production's secure-only cookies would never come back.
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
# Playwright's sync API runs an event loop in the test thread; Django would refuse ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from portal.settings import *  # noqa: E402,F403
from portal.settings import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

_db = DATABASES["default"]
if _db["ENGINE"].endswith("sqlite3") and not _UNIT_TIER:
    # A file, not memory, so a worker process can share the test database.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
if _WORKER:
    _db["NAME"] = _db.get("TEST", {}).get("NAME") or f"test_{_db['NAME']}"
