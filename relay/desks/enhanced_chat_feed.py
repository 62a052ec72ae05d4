"""relay_listen's Enhanced Chat side: one process holds the event stream of every open conversation, with asyncio.

Each open :class:`EnhancedChatSession` of a tenant this process holds (``owns``) gets one task that reads
``GET /eventrouter/v1/sse`` with the end user's token and ``Last-Event-Id`` = the last event recorded, so a
stream dropped mid-conversation, or a listener restarted, resumes where it was: the server replays what came
since, and an event read twice is recorded once (relay/desks/enhanced_chat_events.py). The tasks share one
httpx client through the egress guard (relay/http.py); the database work (reading a session, recording an
event, renewing a token) runs on a small thread pool, so the process holds ``RELAY_LISTENER_DB_THREADS``
database connections however many streams it holds.

The session list is read every ``refresh_seconds``: new conversations get a stream, closed ones or tenants
this process no longer holds lose theirs. Tokens that expire soon are renewed here too, so a quiet
conversation keeps its end user. A stream that fails waits (exponential backoff up to ``max_backoff``, with
jitter) and connects again; one whose token Salesforce refuses renews it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from tenants.models import SalesforceConnection, derive_scrt_url

from .. import http
from ..errors import ExternalError
from .enhanced_chat import RENEW_BEFORE, api_for, renew_token
from .enhanced_chat_api import RATE_LIMITED, SSE_PATH, TOKEN_REFUSED, EventParser, refusal
from .enhanced_chat_events import close_session, record_event
from .enhanced_chat_models import EnhancedChatSession

log = logging.getLogger("relay.listen.enhanced_chat")

#: Salesforce's own client gives up on a stream silent for 90 s (its keep-alives come more often).
READ_TIMEOUT_SECONDS = 90.0
#: How long a tenant's renewals wait after Salesforce rate-limited one, when it does not say (Retry-After).
RENEW_PAUSE_SECONDS = 15.0
#: Streams share a client (a connection pool) by their session id modulo this: httpcore's pool costs time in
#: proportion to the requests it holds on every event, so 10,000 streams need many small pools, not one.
STREAM_POOLS = 256


@dataclass
class StreamTarget:
    """What one stream needs, read from its row when it (re)connects."""

    url: str
    org_id: str
    token: str
    last_event_id: str
    open: bool = True


def stream_target(pk: int) -> StreamTarget | None:
    # Only the columns it needs: the connection's own secrets are not decrypted for each of thousands of streams.
    session = (
        EnhancedChatSession.objects.filter(pk=pk)
        .only("status", "access_token", "last_event_id", "tenant_id")
        .first()
    )
    if session is None or session.status == EnhancedChatSession.Status.CLOSED:
        return None
    found = (
        SalesforceConnection.objects.filter(tenant_id=session.tenant_id)
        .values_list("scrt_url", "instance_url", "tenant__org_id")
        .first()
    )
    if found is None:
        return None
    scrt_url, instance_url, org_id = found
    base = scrt_url.rstrip("/") if scrt_url else derive_scrt_url(instance_url)
    return StreamTarget(
        url=base + SSE_PATH,
        org_id=org_id[:15],
        token=str(session.access_token),
        last_event_id=session.last_event_id,
    )


def open_sessions(tenant_slugs: list[str] | None) -> list[tuple[int, int]]:
    """(session pk, tenant id) of every open conversation of an active Enhanced Chat tenant."""
    rows = EnhancedChatSession.objects.filter(
        status__in=EnhancedChatSession.OPEN_STATES,
        tenant__active=True,
        tenant__salesforce__desk=SalesforceConnection.Desk.ENHANCED_CHAT,
    )
    if tenant_slugs:
        rows = rows.filter(tenant__slug__in=tenant_slugs)
    return list(rows.values_list("pk", "tenant_id"))


def renew_expiring(tenant_ids: list[int]) -> dict[int, float]:
    """Renew the tokens of these tenants' open conversations that expire within RENEW_BEFORE, soonest first (one
    failure does not stop the rest). Salesforce limits token renewals per org (200 a minute, "Rate Limits for
    Enhanced Chat", https://help.salesforce.com/apex/HTViewHelpDoc?id=service.miaw_rate_limits.htm): after a 429
    every other renewal of that org would be refused too, so its tenant is left alone. Returns those tenants with
    the seconds to wait (Salesforce's ``Retry-After``, at least :data:`RENEW_PAUSE_SECONDS`)."""
    soon = timezone.now() + RENEW_BEFORE
    due = (
        EnhancedChatSession.objects.filter(
            tenant_id__in=tenant_ids, status__in=EnhancedChatSession.OPEN_STATES, token_expires_at__lt=soon
        )
        .select_related("tenant__salesforce")
        .order_by("token_expires_at", "pk")
    )
    paused: dict[int, float] = {}
    for session in due:
        if session.tenant_id in paused:
            continue
        try:
            renew_token(session.pk, api_for(session.tenant.salesforce))
        except ExternalError as exc:
            log.warning("Enhanced Chat session %s: the token could not be renewed: %s", session.pk, exc)
            if exc.code == RATE_LIMITED:
                paused[session.tenant_id] = max(RENEW_PAUSE_SECONDS, exc.retry_after or 0.0)
    return paused


class EnhancedChatFeed:
    """Run with :meth:`run` (blocks until :meth:`stop`); see relay.desks.base.AgentFeed."""

    def __init__(
        self,
        *,
        tenant_slugs: list[str] | None = None,
        owns: Callable[[int], bool] | None = None,
        refresh_seconds: float = 2.0,
        max_backoff: float = 60.0,
        db_threads: int | None = None,
    ) -> None:
        self.tenant_slugs = tenant_slugs
        self.owns = owns or (lambda tenant_id: True)
        self.refresh_seconds = refresh_seconds
        self.max_backoff = max(1.0, max_backoff)
        self._db = ThreadPoolExecutor(
            max_workers=db_threads or settings.RELAY_LISTENER_DB_THREADS,
            thread_name_prefix="enhanced-chat-db",
        )
        self._streams: dict[int, asyncio.Task] = {}
        self._renew_paused: dict[
            int, float
        ] = {}  # tenant id -> loop time its renewals may resume (after a 429)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopped = threading.Event()
        #: Streams connected right now, and session list reads done (figures for the benchmark and tests).
        self.connected = 0
        self.refreshes = 0

    # --- the contract ---------------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        finally:
            self._db.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        self._stopped.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(stop.set)

    @property
    def holding(self) -> int:
        """How many conversations have a stream task."""
        return len(self._streams)

    # --- the loop -------------------------------------------------------------------------------------------

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        if self._stopped.is_set():
            return
        clients: dict[int, httpx.AsyncClient] = {}

        def client_for(pk: int) -> httpx.AsyncClient:
            slot = pk % STREAM_POOLS
            if slot not in clients:
                clients[slot] = http.async_client(max_connections=10_000, read_timeout=READ_TIMEOUT_SECONDS)
            return clients[slot]

        try:
            while not self._stop.is_set():
                try:
                    await self._refresh(client_for)
                except Exception:  # noqa: BLE001 - the database may be away for a moment; try again
                    log.exception("could not read the open Enhanced Chat conversations")
                self.refreshes += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.refresh_seconds)
        finally:
            for task in self._streams.values():
                task.cancel()
            await asyncio.gather(*self._streams.values(), return_exceptions=True)
            self._streams.clear()
            for client in clients.values():
                await client.aclose()

    async def _db_call(self, function, *args):
        def call():
            try:
                return function(*args)
            finally:
                close_old_connections()

        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    async def _refresh(self, client_for: Callable[[int], httpx.AsyncClient]) -> None:
        rows = await self._db_call(open_sessions, self.tenant_slugs)
        held = {tenant_id for tenant_id in {tenant_id for _, tenant_id in rows} if self.owns(tenant_id)}
        wanted = {pk for pk, tenant_id in rows if tenant_id in held}
        for pk in list(self._streams):
            if pk not in wanted or self._streams[pk].done():
                self._streams.pop(pk).cancel()  # closed, or a tenant another process holds now
        for pk in wanted - set(self._streams):
            self._streams[pk] = asyncio.create_task(
                self._follow(client_for(pk), pk), name=f"enhanced-chat-{pk}"
            )
        now = asyncio.get_running_loop().time()
        ready = sorted(t for t in held if self._renew_paused.get(t, 0.0) <= now)
        if ready:
            paused = await self._db_call(renew_expiring, ready)
            now = asyncio.get_running_loop().time()
            self._renew_paused = {t: at for t, at in self._renew_paused.items() if at > now}
            self._renew_paused.update({t: now + seconds for t, seconds in paused.items()})

    async def _follow(self, client, pk: int) -> None:
        """Hold session ``pk``'s stream until it closes or the task is cancelled."""
        failures = 0
        while True:
            target = await self._db_call(stream_target, pk)
            if target is None:
                return
            asked_wait = 0.0  # a 429's or 503's Retry-After: the stream waits at least that long
            try:
                got_events = await self._read(client, pk, target)
                failures = 0 if got_events else failures + 1
            except asyncio.CancelledError:
                raise
            except ExternalError as exc:
                failures += 1
                asked_wait = exc.retry_after or 0.0
                if exc.code == TOKEN_REFUSED:
                    await self._renew(pk, target.token)
                log.info("Enhanced Chat session %s: stream ended (%s); resuming", pk, exc)
            except Exception:  # noqa: BLE001 - one conversation's trouble must not stop the others
                failures += 1
                log.exception("Enhanced Chat session %s: stream failed; resuming", pk)
            delay = min(self.max_backoff, 0.5 * 2 ** min(failures, 10)) if failures else 0.1
            await asyncio.sleep(max(delay * random.uniform(0.5, 1.0), asked_wait))

    async def _read(self, client, pk: int, target: StreamTarget) -> bool:
        """One connection's worth of events, each recorded before the next is read. True when any came."""
        headers = {
            "Accept": "text/event-stream",
            "Authorization": f"Bearer {target.token}",
            "X-Org-Id": target.org_id,
            "Cache-Control": "no-cache",
        }
        if target.last_event_id:
            headers["Last-Event-Id"] = target.last_event_id
        parser, got = EventParser(), False
        with http.errors("salesforce"):
            async with client.stream("GET", target.url, headers=headers) as response:
                if response.status_code != 200:
                    raise refusal(await http.aread_error(response), "sse")
                self.connected += 1
                try:
                    # Bytes, split into lines by the parser: aiter_lines would hold a line that never ends
                    # whole, and cut lines at U+2028 and the like inside an event's JSON.
                    async for chunk in response.aiter_bytes():
                        for event in parser.feed_bytes(chunk):
                            if event.event == "ping":
                                continue
                            await self._db_call(record_event, pk, event.id, event.event, event.data)
                            got = True
                finally:
                    self.connected -= 1
        return got

    async def _renew(self, pk: int, refused: str) -> None:
        def renew() -> None:
            session = EnhancedChatSession.objects.select_related("tenant__salesforce").get(pk=pk)
            try:
                renew_token(pk, api_for(session.tenant.salesforce), refused=refused)
            except ExternalError as exc:
                log.warning("Enhanced Chat session %s: the refused token could not be renewed: %s", pk, exc)
                if exc.code == TOKEN_REFUSED:  # the end user is gone: the next customer message opens anew
                    close_session(session, "token refused")

        await self._db_call(renew)
