"""Live checks off the request path: a call to Salesforce or a provider that a person or a partner asks
for (test a connection, validate a key, fetch a list, the health check) runs in a Celery worker, never in
a web worker, so a provider that does not answer stalls no page and no ``/healthz``.

A check is a small record in the shared cache, keyed by id and found again per tenant and kind: the page
polls it (htmx) and the partner API serves it as ``/api/v1/checks/<id>/``. Per tenant and kind at most one
check is in flight (a second request gets the running one), and a tenant's checks run at most
``LIVE_CHECKS_PER_TENANT`` at a time in the workers; a check still unfinished after
``LIVE_CHECK_STALE_SECONDS`` is reported as lost. Task arguments are the check's id only; a secret a
check needs before it is saved (an API key typed into the wizard) is kept encrypted in the record and
dropped as soon as it is used.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from portal import queueing

if TYPE_CHECKING:
    from tenants.models import Tenant  # imported lazily at runtime (models are not ready at import)

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE = "queued", "running", "done"
KEEP_SECONDS = 3600  # how long a finished check can be read back
SLOT_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    code: str = ""
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    id: str
    tenant_id: int
    kind: str
    state: str = QUEUED
    ok: bool | None = None
    message: str = ""
    code: str = ""
    data: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    sealed: str = ""  # encrypted JSON of the secrets the check needs (never in the broker message)
    created_at: str = ""
    finished_at: str = ""
    ran_in: str = ""  # host:pid of the process that ran it (a worker's, unless Celery runs eager)

    @property
    def done(self) -> bool:
        return self.state == DONE

    @property
    def pending(self) -> bool:
        return self.state != DONE

    @property
    def lost(self) -> bool:
        """Queued or running for longer than any check may take: its worker died or no worker runs."""
        if self.done or not self.created_at:
            return False
        age = (timezone.now() - datetime.fromisoformat(self.created_at)).total_seconds()
        return age > settings.LIVE_CHECK_STALE_SECONDS

    def public(self) -> dict:
        """What a page or the API may show: no params, no sealed secrets."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.state,
            "ok": self.ok,
            "message": self.message,
            "code": self.code,
            "created_at": self.created_at,
            "finished_at": self.finished_at or None,
        }


Runner = Callable[["Tenant", Check], Outcome]
RUNNERS: dict[str, Runner] = {}


def runner(*kinds: str):
    """Register the function that performs checks of these kinds (``list:`` kinds share one runner)."""

    def register(fn: Runner) -> Runner:
        for kind in kinds:
            RUNNERS[kind] = fn
        return fn

    return register


def _runner_for(kind: str) -> Runner:
    _load_runners()
    return RUNNERS.get(kind) or RUNNERS[kind.split(":", 1)[0] + ":*"]


def _load_runners() -> None:
    from portal.console.wizard import checks  # noqa: F401 - registers the runners


# --- the record --------------------------------------------------------------------------------------------


def _key(check_id: str) -> str:
    return f"livecheck:{check_id}"


def _tenant_part(tenant) -> str:
    """The tenant's id and creation time: a tenant created later with a reused id never sees these keys."""
    created = tenant.created_at.timestamp() if getattr(tenant, "created_at", None) else 0
    return f"{tenant.pk}.{created:.6f}"


def _latest_key(tenant, kind: str) -> str:
    return f"livecheck:latest:{_tenant_part(tenant)}:{kind}"


def _running_key(tenant, kind: str) -> str:
    return f"livecheck:inflight:{_tenant_part(tenant)}:{kind}"


def _save(check: Check) -> None:
    cache.set(_key(check.id), asdict(check), timeout=KEEP_SECONDS)


def get(tenant, check_id: str) -> Check | None:
    """The check ``check_id`` if it belongs to ``tenant``; None otherwise (also for a malformed id)."""
    try:
        uuid.UUID(str(check_id))
    except ValueError:
        return None
    stored = cache.get(_key(str(check_id)))
    if not isinstance(stored, dict) or stored.get("tenant_id") != tenant.pk:
        return None
    check = Check(**stored)
    if check.lost:
        check = _finish(
            check, Outcome(False, "The check did not finish (no worker took it in time). Try again."), tenant
        )
    return check


def find(check_id: str) -> Check | None:
    """A check by id alone, for a caller that then verifies the tenant is theirs (the partner API)."""
    try:
        uuid.UUID(str(check_id))
    except ValueError:
        return None
    stored = cache.get(_key(str(check_id)))
    return Check(**stored) if isinstance(stored, dict) else None


def latest(tenant, kind: str) -> Check | None:
    check_id = cache.get(_latest_key(tenant, kind))
    return get(tenant, check_id) if check_id else None


def start(
    tenant, kind: str, *, params: dict | None = None, secrets: dict | None = None, dedupe: bool = True
) -> Check:
    """Queue a check of ``kind`` for ``tenant``, or return the one already in flight for them (unless
    ``dedupe`` is off: a check of input the admin just typed is its own; the tenant's worker slots still
    bound how many run at once).

    With Celery eager (the tests) the check has run when this returns; otherwise it is queued after the
    current transaction commits.
    """
    if kind not in RUNNERS and kind.split(":", 1)[0] + ":*" not in RUNNERS:
        _runner_for(kind)  # raises KeyError for an unknown kind: a programming error, not input
    check = Check(
        id=str(uuid.uuid4()),
        tenant_id=tenant.pk,
        kind=kind,
        params=params or {},
        sealed=_seal(secrets) if secrets else "",
        created_at=timezone.now().isoformat(),
    )
    stale = settings.LIVE_CHECK_STALE_SECONDS
    if not dedupe:
        pass
    elif not cache.add(_running_key(tenant, kind), check.id, timeout=stale):
        running = get(tenant, cache.get(_running_key(tenant, kind)) or "")
        if running is not None and running.pending:
            return running
        cache.set(_running_key(tenant, kind), check.id, timeout=stale)
    _save(check)
    cache.set(_latest_key(tenant, kind), check.id, timeout=KEEP_SECONDS)
    if _eager():
        run_check.apply(args=[check.id], kwargs={"tenant_part": _tenant_part(tenant)})
    else:
        # Without a broker the check stays queued until it is stale, and the page says no worker took it.
        queueing.after_commit(run_check, check.id, tenant_part=_tenant_part(tenant))
    return get(tenant, check.id) or check


def _eager() -> bool:
    """Celery runs tasks in the caller (the tests' default): run the check now, inside the request, so a
    test without a worker (and outside a committed transaction) sees its result."""
    from portal.celery import app

    return bool(app.conf.task_always_eager)


def consume_secrets(check: Check) -> dict:
    """The sealed secrets of a finished check, once: they are dropped from the record."""
    if not check.sealed:
        return {}
    from tenants.crypto import keyring

    secrets = json.loads(keyring().decrypt(check.sealed))
    _save(replace(check, sealed=""))
    return secrets


def secrets_of(check: Check) -> dict:
    from tenants.crypto import keyring

    return json.loads(keyring().decrypt(check.sealed)) if check.sealed else {}


def _seal(secrets: dict) -> str:
    from tenants.crypto import keyring

    return keyring().encrypt(json.dumps(secrets))


def _finish(check: Check, outcome: Outcome, tenant=None, tenant_part: str = "") -> Check:
    finished = replace(
        check,
        state=DONE,
        ok=outcome.ok,
        message=outcome.message,
        code=outcome.code,
        data=outcome.data,
        finished_at=timezone.now().isoformat(),
    )
    _save(finished)
    running = (
        _running_key(tenant, check.kind)
        if tenant is not None
        else (f"livecheck:inflight:{tenant_part}:{check.kind}" if tenant_part else "")
    )
    if running and cache.get(running) == check.id:
        cache.delete(running)
    return finished


# --- the worker side ---------------------------------------------------------------------------------------


def _take_slot(tenant_id: int, check_id: str) -> str | None:
    """One of the tenant's LIVE_CHECKS_PER_TENANT slots (an atomic cache add), or None when all are taken."""
    for index in range(max(1, settings.LIVE_CHECKS_PER_TENANT)):
        key = f"livecheck:slot:{tenant_id}:{index}"
        if cache.add(key, check_id, timeout=settings.LIVE_CHECK_STALE_SECONDS):
            return key
    return None


@shared_task(bind=True, name="portal.livechecks.run_check", max_retries=None, acks_late=True)
def run_check(self, check_id: str, tenant_part: str = "") -> None:
    stored = cache.get(_key(check_id))
    if not isinstance(stored, dict):
        return  # expired or never stored: nothing to do
    check = Check(**stored)
    if check.done:
        return
    # Run in the caller (Celery eager: the tests) there is no worker to share and no retry to wait in.
    slot = "" if self.request.is_eager else _take_slot(check.tenant_id, check.id)
    if slot is None:  # this tenant's other checks hold every slot: wait, and leave the worker to others
        raise self.retry(countdown=SLOT_RETRY_SECONDS)
    try:
        from tenants.models import Tenant

        tenant = Tenant.objects.filter(pk=check.tenant_id).first()
        check = replace(check, state=RUNNING, ran_in=f"{socket.gethostname()}:{os.getpid()}")
        _save(check)
        if tenant is None:
            outcome = Outcome(False, "The tenant no longer exists.")
        else:
            try:
                outcome = _runner_for(check.kind)(tenant, check)
            except Exception:  # a check reports every failure; it never leaves the page waiting
                log.exception("live check %s (%s) failed", check.id, check.kind)
                outcome = Outcome(False, "The check failed unexpectedly; the error is in the worker's log.")
        _finish(check, outcome, tenant, tenant_part)
    finally:
        if slot and cache.get(slot) == check.id:
            cache.delete(slot)
