"""Several ``relay_listen`` processes share the tenants: each tenant is served by exactly one live process.

Every process runs a :class:`Shard`. Each round (a third of ``RELAY_LISTENER_LEASE_SECONDS``) it

1. renews its heartbeat (:class:`ListenerProcess`); processes whose heartbeat has run out count as dead;
2. decides which tenants should be its own by rendezvous hashing over the live processes: every process
   computes the same answer from the same list, the tenants split evenly, and when a process joins or
   leaves only its share moves;
3. renews its leases on those tenants and claims the free or expired ones (:class:`ListenerLease`, one
   conditional UPDATE: ``expires_at`` already past), then reads back what it holds.

Safety: a lease is never taken before it has run out by the database's clock, and :meth:`Shard.owns` says
False before that moment. It trusts a round only for two thirds of the lease, measured from just before the
round's statements with this process's monotonic clock, so the last third (several seconds) is left for a
runner to notice and stop serving the tenant. A tenant that moves to another process (rebalancing) is
dropped by ``owns`` at once and handed back ``drop_seconds`` later, when the runners have had their chance to
let go. Should a runner still overlap (stuck in a call), the overlap is harmless: events are recorded once
per event id (the desks' ``receive``), and a replay position is stored only after the events before it were
handled, so a second holder can at worst re-read a batch, never skip one.

A dead process's tenants wait until its leases run out (at most one lease) plus one round of a survivor;
a clean stop hands them back at once. Database times (``Now()``) decide expiry, so hosts whose clocks
disagree still agree. Works on SQLite (a single listener) and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import DateTimeField, ExpressionWrapper
from django.db.models.functions import Now

from tenants.models import Tenant

from .shard_models import ListenerLease, ListenerProcess

log = logging.getLogger(__name__)

_now = time.monotonic  # this process's clock for rounds and trust (a test may set it)

CHUNK = 500  # ids per IN (...) list: well inside SQLite's and PostgreSQL's limits
FOREVER_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # a handed-back lease's expiry: free to claim


def new_holder_name() -> str:
    """Unique per process start (a restarted process is a new holder: its old leases simply run out)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def rendezvous_owner(tenant_id: int, holders: Iterable[str]) -> str:
    """The holder with the highest score for ``tenant_id`` (highest random weight hashing)."""
    return max(holders, key=lambda holder: _score(tenant_id, holder))


def _score(tenant_id: int, holder: str) -> bytes:
    return hashlib.blake2b(f"{holder}/{tenant_id}".encode(), digest_size=8).digest()


def _in_seconds(seconds: float) -> ExpressionWrapper:
    """The database's now plus ``seconds``."""
    return ExpressionWrapper(Now() + timedelta(seconds=seconds), output_field=DateTimeField())


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(ids)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class Shard:
    """This process's share of the tenants. :meth:`owns` is what the agent feeds ask (thread-safe, in memory).

    :meth:`start` takes the first round of leases before returning (so the feeds start with their tenants),
    then keeps them in a thread; :meth:`stop` ends it and hands every lease back, which the caller does only
    once its feeds have stopped serving. :meth:`round` is one round, for tests and the benchmark.
    """

    def __init__(
        self,
        *,
        tenant_slugs: list[str] | None = None,
        lease_seconds: float | None = None,
        drop_seconds: float = 5.0,
        holder: str | None = None,
    ) -> None:
        self.holder = holder or new_holder_name()
        self.tenant_slugs = tenant_slugs
        self.lease_seconds = float(
            settings.RELAY_LISTENER_LEASE_SECONDS if lease_seconds is None else lease_seconds
        )
        self.round_seconds = self.lease_seconds / 3
        self.drop_seconds = min(drop_seconds, self.lease_seconds)
        self._held: frozenset[int] = frozenset()
        self._trusted_until = 0.0  # monotonic: after this, owns() says False until a round succeeds
        self._round_started = 0.0  # monotonic: when the last round began, successful or not
        self._dropped: dict[int, float] = {}  # tenant → monotonic time we let go of it (handed back later)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what the feeds ask ------------------------------------------------------------------------

    def owns(self, tenant_id: int) -> bool:
        return tenant_id in self._held and _now() < self._trusted_until

    @property
    def held(self) -> frozenset[int]:
        return self._held if _now() < self._trusted_until else frozenset()

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> Shard:
        try:
            self.round()
        except Exception:  # the database may be away: the thread tries again
            log.exception("listener shard %s: the first round of leases failed; trying again", self.holder)
        self._thread = threading.Thread(target=self._run, name="listener-shard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.lease_seconds)
        self._held = frozenset()
        try:
            self.release()
        except Exception:  # they run out on their own within a lease
            log.exception("listener shard %s: could not hand the leases back", self.holder)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.until_next_round()):
                try:
                    self.round()
                except Exception:  # a database hiccup: owns() turns False by itself if it lasts
                    log.exception("listener shard %s: renewing the leases failed; trying again", self.holder)
                finally:
                    close_old_connections()
        finally:
            connections.close_all()

    def until_next_round(self) -> float:
        """Seconds to wait before the next round: rounds start every ``round_seconds`` from the last one's start.

        Counting from its end instead would let slow rounds (a loaded host, a process with thousands of
        subscriber threads) add up: two rounds of half a period each already outlast the trust window, and
        owns() turning False for every tenant stops and resubscribes all of the process's streams."""
        return max(0.0, self._round_started + self.round_seconds - _now())

    # --- one round -----------------------------------------------------------------------------------

    def round(self) -> frozenset[int]:
        """Heartbeat, renew, claim; returns the tenants held. Raises when the database does."""
        started = self._round_started = (
            _now()
        )  # before any statement: the leases last lease_seconds from here
        live = self._heartbeat()
        wanted = set(self._tenant_ids())
        mine = {tenant for tenant in wanted if rendezvous_owner(tenant, live) == self.holder}
        recorded = set(ListenerLease.objects.filter(holder=self.holder).values_list("tenant_id", flat=True))

        for ids in _chunks(mine & recorded):
            ListenerLease.objects.filter(holder=self.holder, tenant_id__in=ids).update(
                expires_at=_in_seconds(self.lease_seconds)
            )
        to_claim = mine - recorded
        for ids in _chunks(to_claim):
            ListenerLease.objects.bulk_create(
                [ListenerLease(tenant_id=t, holder="", expires_at=FOREVER_AGO) for t in ids],
                ignore_conflicts=True,
            )
            ListenerLease.objects.filter(tenant_id__in=ids, expires_at__lt=Now()).update(
                holder=self.holder, expires_at=_in_seconds(self.lease_seconds), since=Now()
            )
        self._hand_back(recorded - mine, started)

        held = frozenset(
            ListenerLease.objects.filter(holder=self.holder, expires_at__gt=Now()).values_list(
                "tenant_id", flat=True
            )
        ) & frozenset(mine)
        gained, lost = held - self._held, self._held - held
        if gained or lost:
            log.info(
                "listener shard %s: holds %d tenants (+%d, -%d) of %d, %d live listeners",
                self.holder,
                len(held),
                len(gained),
                len(lost),
                len(wanted),
                len(live),
            )
        lapsed_for = _now() - self._trusted_until
        if self._held and lapsed_for > 0:
            log.warning(
                "listener shard %s: the leases were renewed %.1f s after this process stopped trusting them;"
                " its %d tenants' feeds were stopped meanwhile",
                self.holder,
                lapsed_for,
                len(self._held),
            )
        self._held = held
        self._trusted_until = started + self.lease_seconds - self.round_seconds
        ListenerProcess.objects.filter(holder=self.holder).update(tenants=len(held))
        return held

    def _heartbeat(self) -> list[str]:
        """Renew our heartbeat (or register), forget long-dead processes; the live holders, us included."""
        alive = {"heartbeat_at": Now(), "expires_at": _in_seconds(self.lease_seconds)}
        if not ListenerProcess.objects.filter(holder=self.holder).update(**alive):
            ListenerProcess.objects.create(
                holder=self.holder,
                host=socket.gethostname()[:255],
                pid=os.getpid(),
                started_at=Now(),
                **alive,
            )
            ListenerProcess.objects.filter(expires_at__lt=_in_seconds(-86400)).delete()  # a day dead: gone
        live = list(ListenerProcess.objects.filter(expires_at__gt=Now()).values_list("holder", flat=True))
        return live if self.holder in live else [*live, self.holder]

    def _tenant_ids(self) -> list[int]:
        """The tenants any agent feed might serve: active, with a Salesforce connection (each feed checks the
        rest). Every listener of an installation must be given the same ``--tenant`` list."""
        tenants = Tenant.objects.filter(active=True, salesforce__isnull=False)
        if self.tenant_slugs:
            tenants = tenants.filter(slug__in=self.tenant_slugs)
        return list(tenants.values_list("pk", flat=True))

    def _hand_back(self, not_mine: set[int], now: float) -> None:
        """Tenants now another process's: dropped by owns() at once (not renewed), handed back once the feeds
        had ``drop_seconds`` to let go, so the new holder need not wait for the lease to run out."""
        for tenant in not_mine:
            self._dropped.setdefault(tenant, now)
        for tenant in set(self._dropped) - not_mine:
            del self._dropped[tenant]
        due = [tenant for tenant, since in self._dropped.items() if now - since >= self.drop_seconds]
        for ids in _chunks(due):
            ListenerLease.objects.filter(holder=self.holder, tenant_id__in=ids).update(
                holder="", expires_at=FOREVER_AGO
            )
        for tenant in due:
            del self._dropped[tenant]

    def release(self) -> None:
        """Hand every lease back and leave the list of live processes (a clean stop)."""
        ListenerLease.objects.filter(holder=self.holder).update(holder="", expires_at=FOREVER_AGO)
        ListenerProcess.objects.filter(holder=self.holder).delete()
