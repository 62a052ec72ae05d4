"""Agent → customer: the tenants' platform events over the Pub/Sub API (gRPC ``eventbus.v1.PubSub``).

:class:`TenantSubscriber` holds one ``Subscribe`` stream for one tenant in its own thread;
:class:`Listener` keeps one subscriber per active tenant with a complete Salesforce connection and
re-reads the tenant list every few seconds, so tenants added, changed or disabled are picked up
without a restart (``manage.py relay_listen`` runs it).

Database connections. Django opens one connection per thread that touches the ORM and keeps it, so a
thread per tenant doing its own queries would hold a connection per tenant (PostgreSQL allows 100 by
default; the listener must serve thousands of tenants). Subscriber threads therefore never touch the
database: each database step (reading the tenant and the cursor, the handler, storing the replay id,
noting an error, and the access token, which lives in the shared cache) is handed to :class:`DatabaseThreads`,
a small pool shared by the whole listener
(``RELAY_LISTENER_DB_THREADS``, default 4), and the subscriber waits for its result. A tenant's steps
still run one after another in the same order, and their exceptions reach the subscriber as before.

Delivery guarantees. For each batch the handler (the tenant's desk's ``receive`` in production, relay/desks/)
is called for every event, in order, and only then is the batch's last replay id stored in the
tenant's :class:`~relay.models.ListenerCursor`. A crash between the two re-delivers that one batch
after the restart; the handler is idempotent, so nothing is lost and nothing is doubled. A handler that
raises stops the stream without moving the cursor; the subscriber resubscribes from the cursor after a
back-off, so the failing batch is offered again.

Where a subscription starts (docs/listener.md): after the stored replay id (``CUSTOM``). Without one (the
tenant's first subscription, or Salesforce refused the stored one as corrupted or older than its 72-hour
retention) it replays from ``EARLIEST`` and hands on only the events created since the connection was
saved with this topic (``ListenerCursor.deliver_since``, noted by ``relay.salesforce.cursors`` on save) or
since the last event handled; the handler drops any it already has. ``LATEST`` is never used: it would
skip, for good and silently, whatever was published before the stream opened. When the point to resume
from is older than the retention window and Salesforce no longer has the events after it, the loss is
recorded on the cursor (``gap``, shown in the admin and the wizard's health check) and logged.

Keep-alives (empty batches) carry ``latest_replay_id``; it is stored only when the server still owed
us events (``pending_num_requested > 0``) and sent none, i.e. when we are caught up. With no demand
outstanding the server may hold back events, and their replay ids would be skipped.

Access tokens. On UNAUTHENTICATED the subscriber remembers the refused token and resubscribes with one
Pub/Sub has not refused yet (from the shared cache when another process minted one, else newly minted):
at once the first time, with back-off when tokens keep being refused. When no token can be minted the
cursor's ``last_error`` says why until a stream works again.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import queue
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.utils import timezone
from fastavro import parse_schema, schemaless_reader
from fastavro.types import Schema

from pubsub_api import (
    METADATA_ACCESS_TOKEN,
    METADATA_INSTANCE_URL,
    METADATA_TENANT_ID,
    TRAILER_ERROR_CODE,
    pb2,
    pb2_grpc,
)
from relay.desks.registry import desk_class, desk_for
from relay.errors import ExternalError
from relay.models import ListenerCursor
from relay.untrusted import storable
from tenants import config_cache
from tenants.models import SalesforceConnection, Tenant

from .auth import Token, cache_key, get_token
from .cursors import has_topic, topic_name

log = logging.getLogger(__name__)

EventHandler = Callable[[Tenant, dict], None]
Owns = Callable[[int], bool]

BATCH_SIZE = 100  # the most a FetchRequest may ask for
RPC_TIMEOUT_SECONDS = 30  # GetTopic / GetSchema
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # 100 events of up to 1 MB each, with room
RETENTION = timedelta(hours=72)  # how long Salesforce keeps platform events
CLOCK_SKEW = timedelta(seconds=60)  # between our clock and Salesforce's CreatedDate
MAX_FAILED_TOKENS = 16  # refused access tokens remembered per subscriber


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter between reconnects: ``initial * 2**n``, at most ``maximum``."""

    initial: float = 1.0
    maximum: float = 60.0

    def delay(self, failures: int) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** max(0, failures - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # half fixed, half random: no thundering herd


class SchemaCache:
    """Avro schemas by id, fetched once per process with GetSchema (they never change for an id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[str, Schema] = {}

    def get(self, stub, schema_id: str, metadata) -> Schema:
        with self._lock:
            parsed = self._parsed.get(schema_id)
        if parsed is None:
            info = stub.GetSchema(
                pb2.SchemaRequest(schema_id=schema_id), metadata=metadata, timeout=RPC_TIMEOUT_SECONDS
            )
            parsed = parse_schema(json.loads(info.schema_json))
            with self._lock:
                self._parsed[schema_id] = parsed
        return parsed

    def decode(self, stub, event: pb2.ProducerEvent, metadata) -> dict:
        fields = schemaless_reader(io.BytesIO(event.payload), self.get(stub, event.schema_id, metadata), None)
        if not isinstance(fields, dict):  # a Platform Event's schema is an Avro record: its fields, a dict
            raise TypeError(f"schema {event.schema_id} decodes to {type(fields).__name__}, not a record")
        return fields


SCHEMAS = SchemaCache()


def is_complete(connection: SalesforceConnection) -> bool:
    """Whether a connection has what a Pub/Sub subscription needs."""
    return bool(
        _desk_feed(connection.desk) == "pubsub"
        and connection.consumer_key
        and connection.integration_username
        and connection.private_key
        and connection.instance_url
        and has_topic(connection)
    )


def _desk_feed(desk: str) -> str:
    try:
        return desk_class(desk).agent_feed
    except LookupError:
        return ""


def open_channel(endpoint: str | None = None, tls: bool | None = None) -> grpc.Channel:
    endpoint = endpoint or settings.SALESFORCE_PUBSUB_ENDPOINT
    tls = settings.SALESFORCE_PUBSUB_TLS if tls is None else tls
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 60_000),
        # Its own connection: by default gRPC puts every channel with the same target and options on one
        # shared connection, whose server caps the streams open at once (HTTP/2 MAX_CONCURRENT_STREAMS).
        ("grpc.use_local_subchannel_pool", 1),
    ]
    if tls:
        return grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(), options=options)
    return grpc.insecure_channel(endpoint, options=options)


class Channels:
    """The listener's gRPC channels to the Pub/Sub endpoint, shared by its subscribers.

    A channel per subscriber would cost a connection (a TLS handshake, buffers) per tenant; one channel for
    all would run every stream over one HTTP/2 connection, whose server limits the streams open at once
    (commonly 100). So each channel carries at most ``streams_per_channel`` subscriptions
    (``RELAY_PUBSUB_STREAMS_PER_CHANNEL``, default 50) and a new one opens when they are all full; a tenant
    keeps its channel until its subscriber ends (:meth:`release`). :meth:`close` ends them all.
    """

    def __init__(
        self, endpoint: str | None = None, tls: bool | None = None, *, streams_per_channel: int = 50
    ):
        self.endpoint = endpoint
        self.tls = tls
        self.streams_per_channel = max(1, streams_per_channel)
        self._lock = threading.Lock()
        self._channels: list[tuple[grpc.Channel, pb2_grpc.PubSubStub]] = []
        self._users: list[set[int]] = []  # per channel: the tenants on it
        self._closed = False

    def stub(self, tenant_id: int) -> pb2_grpc.PubSubStub:
        with self._lock:
            if self._closed:
                raise RuntimeError("the listener's channels are closed")
            for index, users in enumerate(self._users):
                if tenant_id in users:
                    return self._channels[index][1]
            free = next(
                (i for i, users in enumerate(self._users) if len(users) < self.streams_per_channel), None
            )
            if free is None:
                channel = open_channel(self.endpoint, self.tls)
                self._channels.append((channel, pb2_grpc.PubSubStub(channel)))
                self._users.append(set())
                free = len(self._channels) - 1
            self._users[free].add(tenant_id)
            return self._channels[free][1]

    def release(self, tenant_id: int) -> None:
        with self._lock:
            for users in self._users:
                users.discard(tenant_id)

    @property
    def open_channels(self) -> int:
        return len(self._channels)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels, self._channels, self._users = self._channels, [], []
        for channel, _ in channels:
            channel.close()


class DatabaseThreads:
    """The threads that run the listener's database work, shared by all its subscribers.

    :meth:`run` hands a callable to one of ``size`` threads and waits for its result (or exception), so at
    most ``size`` database connections are open however many tenants are subscribed. Each job runs
    between two ``close_old_connections()``: a connection the server dropped, or one older than
    ``CONN_MAX_AGE``, is replaced before the next job uses it. The threads start with the first job and
    close their connections when :meth:`shutdown` ends them; after that :meth:`run` raises.

    Each job is a configuration unit of work (``tenants.config_cache.unit_of_work``), as a request or a Celery
    task is: the listener runs outside both, so without it every configuration lookup of a batch's events
    read the version token from Redis again. A change committed before a job starts is seen by all of it.
    """

    def __init__(self, size: int, *, name: str = "pubsub-db") -> None:
        self.size = max(1, int(size))
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def run(self, fn: Callable, /, *args, **kwargs):
        """``fn(*args, **kwargs)`` on a database thread; blocks until it returns and returns its result."""
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the listener's database threads have been shut down")
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._work, name=f"{self.name}-{n}", daemon=True)
                    for n in range(self.size)
                ]
                for thread in self._threads:
                    thread.start()
            self._jobs.put((future, fn, args, kwargs))
        return future.result()

    def shutdown(self, timeout: float | None = 10.0) -> None:
        """Let the jobs already handed in finish, then end the threads (closing their connections)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads, self._threads = self._threads, []
            for _ in threads:
                self._jobs.put(None)
        for thread in threads:
            thread.join(timeout)

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                future, fn, args, kwargs = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    close_old_connections()
                    with config_cache.unit_of_work():
                        result = fn(*args, **kwargs)
                except BaseException as exc:  # the waiting subscriber re-raises it
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                finally:
                    try:
                        close_old_connections()
                    except Exception:
                        log.exception("closing a database connection failed")
        finally:
            connections.close_all()


class _Stop(Exception):
    """The subscriber was asked to stop."""


class _ReplayRefused(Exception):
    """Salesforce refused the stored replay id."""


@dataclass(frozen=True)
class StartPoint:
    """Where one Subscribe stream starts and which of its events are the tenant's.

    ``floor``: events created before it (less :data:`CLOCK_SKEW`) are not handed on; set when the stream
    replays from EARLIEST because there is no usable replay id. ``gap_possible``: the floor (or the last
    stored position) is older than the retention window, so Salesforce may have purged events we never
    read; the first answer of the stream settles it.
    """

    request: pb2.FetchRequest
    floor: datetime | None = None
    gap_possible: bool = False


class TenantSubscriber:
    """One tenant's subscription, in its own thread, until :meth:`stop`.

    Its database work runs on ``db`` (the :class:`Listener`'s shared :class:`DatabaseThreads`); a
    subscriber created without one gets a private single thread, ended when the subscriber stops.
    ``retention`` is how long Salesforce keeps events (72 hours); it only decides when to report a gap.
    ``clock_skew`` is how much earlier than the floor an event's ``CreatedDate`` may be and still count.
    """

    def __init__(
        self,
        tenant_id: int,
        handler: EventHandler,
        *,
        endpoint: str | None = None,
        tls: bool | None = None,
        batch_size: int = BATCH_SIZE,
        backoff: Backoff | None = None,
        schemas: SchemaCache | None = None,
        db: DatabaseThreads | None = None,
        retention: timedelta = RETENTION,
        clock_skew: timedelta = CLOCK_SKEW,
        owns: Owns | None = None,
        channels: Channels | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.owns = owns
        self.handler = handler
        self.endpoint = endpoint
        self.tls = tls
        self.batch_size = max(1, min(BATCH_SIZE, batch_size))
        self.backoff = backoff or Backoff()
        self.schemas = schemas or SCHEMAS
        self.retention = retention
        self.clock_skew = clock_skew
        self._channels = channels
        self._own_db = db is None
        self._db = db or DatabaseThreads(1, name=f"pubsub-db-tenant-{tenant_id}")
        self._stop = threading.Event()
        self._call = None
        self._call_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"pubsub-tenant-{tenant_id}", daemon=True)
        self.replay_refused = False  # Salesforce refused the stored replay id: replay from EARLIEST
        self._token: Token | None = None
        # Every access token Pub/Sub has refused (newest last, at most MAX_FAILED_TOKENS): a refresh never
        # settles for one of them, however new it looks in the shared cache.
        self._failed_tokens: dict[str, None] = {}
        self._delivered = False  # whether the current stream has answered at all
        self._position = b""  # the replay id this stream last stored or resumed from
        # Consecutive failures of the handler per event id: an event whose handling fails every time is set
        # aside after RELAY_MAX_INTERNAL_ERRORS tries, or it would hold every later reply of the tenant.
        self._event_failures: dict[str, int] = {}
        self._failed_batches = 0  # batches in a row the handler failed (the back-off grows with them)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> TenantSubscriber:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._call_lock:
            if self._call is not None:
                self._call.cancel()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        failures = 0  # consecutive failed streams: the back-off
        refused = 0  # consecutive UNAUTHENTICATED answers without a stream that worked in between
        # The listener's shared channels (a few streams per connection), else one of our own.
        channel = None if self._channels else open_channel(self.endpoint, self.tls)
        stub = self._channels.stub(self.tenant_id) if self._channels else pb2_grpc.PubSubStub(channel)
        try:
            while not self._stop.is_set():
                self._delivered = False
                try:
                    self._subscribe(stub)
                    error = "the stream ended"
                except _Stop:
                    break
                except _ReplayRefused as exc:
                    # Salesforce: a corrupted replay id (e.g. older than the retention window) is retried
                    # with a replay preset. EARLIEST, from the last event handled, loses nothing retained.
                    log.warning(
                        "tenant %s: %s; replaying from the earliest retained event", self.tenant_id, exc
                    )
                    self._note_error(f"{exc}; replaying from the earliest retained event")
                    self.replay_refused = True
                    continue
                except grpc.RpcError as exc:
                    if self._stop.is_set():
                        break
                    error = _describe(exc)
                    if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                        refused = 1 if self._delivered else refused + 1
                        minted, why = self._replace_token()
                        if minted and refused == 1:
                            # An expired or revoked session: resubscribe at once with a token not yet refused.
                            log.info(
                                "tenant %s: Pub/Sub refused the session; resubscribing with a new token",
                                self.tenant_id,
                            )
                            continue
                        error = (
                            f"{error}; Pub/Sub refused {refused} access tokens in a row, a new one is minted"
                            if minted
                            else f"{error}; no new access token could be minted: {why}"
                        )
                except ExternalError as exc:  # the token could not be minted, or the topic is closed to us
                    error = str(exc)
                except Exception as exc:  # the handler failed: resubscribe from the cursor later
                    log.exception(
                        "tenant %s: handling a batch failed; it will be offered again", self.tenant_id
                    )
                    error = f"handling an event failed: {exc.__class__.__name__}: {exc}"
                if self._stop.is_set():
                    break
                if self._delivered:  # the stream worked for a while: the back-off starts afresh,
                    failures = max(self._failed_batches - 1, 0)  # unless its batches keep failing
                failures += 1
                delay = self.backoff.delay(failures)
                log.warning("tenant %s: %s; resubscribing in %.1f s", self.tenant_id, error, delay)
                self._note_error(error)
                self._stop.wait(delay)
        finally:
            if channel is not None:
                channel.close()
            if self._channels is not None:
                self._channels.release(self.tenant_id)
            if self._own_db:
                self._db.shutdown()

    # --- one subscription ------------------------------------------------------------------------

    def _subscribe(self, stub) -> None:
        """Subscribe and handle batches until the stream fails or we stop (``_delivered`` tells whether
        anything arrived: a stream that worked resets the back-off). The database steps run on
        ``self._db``, and so does the token lookup: it reads the shared cache (Redis), and Django opens a cache
        connection per thread that uses it, which would be one per tenant. This thread only talks gRPC."""
        tenant = self._db.run(self._load_tenant)
        connection = tenant.salesforce
        token = self._token = self._db.run(self._usable_token, connection)
        metadata = self._metadata(tenant, token)
        topic = topic_name(connection)
        info = stub.GetTopic(
            pb2.TopicRequest(topic_name=topic), metadata=metadata, timeout=RPC_TIMEOUT_SECONDS
        )
        if not info.can_subscribe:
            raise ExternalError(f"The integration user may not subscribe to {topic}.", permanent=True)
        self.schemas.get(stub, info.schema_id, metadata)

        start = self._db.run(self._start_point, topic)
        # The position this stream last stored (or resumed from): a keep-alive at it needs no database work.
        self._position = start.request.replay_id if start.request.replay_preset == pb2.CUSTOM else b""
        first = start.request
        requests: queue.Queue = queue.Queue()
        requests.put(first)
        with self._call_lock:
            if self._stop.is_set():
                raise _Stop
            call = self._call = stub.Subscribe(_iterate(requests), metadata=metadata)
        preset = pb2.ReplayPreset.Name(first.replay_preset)
        since = f" (events created since {start.floor:%Y-%m-%d %H:%M:%S} UTC)" if start.floor else ""
        log.info("tenant %s: subscribed to %s from %s%s", self.tenant_id, topic, preset, since)
        try:
            for response in call:
                if self.owns is not None and not self.owns(self.tenant_id):
                    # Another listener process holds the tenant now (or soon): leave its events to it.
                    log.info(
                        "tenant %s: no longer held by this process; its subscription stops", self.tenant_id
                    )
                    self._stop.set()
                    raise _Stop
                if not self._delivered:  # the stream works: say so, and settle a possible gap
                    self._delivered = True
                    self._db.run(self._stream_started, topic)
                if response.events:
                    self._handle_batch(tenant, stub, metadata, topic, response.events, start)
                    self.replay_refused = False
                elif start.gap_possible:
                    self._db.run(self._record_gap, start.floor, None)
                elif (
                    response.pending_num_requested > 0
                    and response.latest_replay_id
                    and response.latest_replay_id != self._position
                ):  # caught up, and the position moved (others' events): a keep-alive costs no query otherwise
                    self._db.run(self._store, topic, response.latest_replay_id, only_if_changed=True)
                    self._position = response.latest_replay_id
                start = dataclasses.replace(start, gap_possible=False)
                if response.pending_num_requested <= self.batch_size // 2:
                    requests.put(
                        pb2.FetchRequest(
                            topic_name=topic, num_requested=self.batch_size - response.pending_num_requested
                        )
                    )
        except grpc.RpcError as exc:
            if self._stop.is_set():
                raise _Stop from None
            if first.replay_preset == pb2.CUSTOM and not self._delivered and _replay_refused(exc):
                raise _ReplayRefused(f"Salesforce refused the stored replay id ({_describe(exc)})") from None
            raise
        finally:
            call.cancel()  # a failed handler leaves the stream open otherwise
            requests.put(None)
            with self._call_lock:
                self._call = None
        if self._stop.is_set():
            raise _Stop

    def _start_point(self, topic: str) -> StartPoint:
        """CUSTOM after the stored replay id; without one (never read anything, or Salesforce refused it),
        EARLIEST, handing on only the events created since the connection was saved or since the last
        event handled. LATEST is never used: it skips, for good, whatever was published meanwhile."""
        cursor = ListenerCursor.objects.filter(tenant_id=self.tenant_id).first()
        if cursor is not None and cursor.topic == topic and cursor.replay_id and not self.replay_refused:
            return StartPoint(
                pb2.FetchRequest(
                    topic_name=topic,
                    replay_preset=pb2.CUSTOM,
                    replay_id=bytes(cursor.replay_id),
                    num_requested=self.batch_size,
                )
            )
        if cursor is None or cursor.topic != topic:
            cursor = self._adopt_cursor(topic)
        floor = cursor.last_event_at or cursor.deliver_since
        reference = floor or cursor.updated_at  # how old the last thing we know is
        return StartPoint(
            pb2.FetchRequest(topic_name=topic, replay_preset=pb2.EARLIEST, num_requested=self.batch_size),
            floor=floor,
            gap_possible=reference < timezone.now() - self.retention,
        )

    def _adopt_cursor(self, topic: str) -> ListenerCursor:
        """A cursor for ``topic`` when the connection's save left none (written with ``update()``, or
        before this version): its events count from the connection's last save."""
        connection = SalesforceConnection.objects.get(tenant_id=self.tenant_id)
        if topic_name(connection) != topic:  # changed since we read it: the listener restarts us
            raise ExternalError("The platform event changed; resubscribing to the new one.", permanent=False)
        cursor, _ = ListenerCursor.objects.update_or_create(
            tenant_id=self.tenant_id,
            defaults={
                "topic": topic,
                "replay_id": None,
                "deliver_since": connection.updated_at,
                "last_event_at": None,
                "gap": "",
                "gap_at": None,
            },
        )
        return cursor

    def _handle_batch(self, tenant: Tenant, stub, metadata, topic: str, events, start: StartPoint) -> None:
        decoded: list[dict | None] = []  # None: an event that does not decode (skipped)
        for consumer_event in events:
            try:
                decoded.append(self.schemas.decode(stub, consumer_event.event, metadata))
            except grpc.RpcError:
                raise  # the schema could not be fetched: the stream's trouble, not the event's
            except Exception as exc:  # noqa: BLE001 - fastavro raises IndexError too, on an out-of-range branch
                # Undecodable bytes will never decode: log and move past them rather than block the tenant.
                log.error(
                    "tenant %s: event %s does not match schema %s (%s); skipped",
                    self.tenant_id,
                    consumer_event.event.id,
                    consumer_event.event.schema_id,
                    exc,
                )
                decoded.append(None)
        created = [_created_at(fields) for fields in decoded]
        if start.gap_possible:
            oldest = next((at for at in created if at is not None), None)
            if oldest is None or start.floor is None or oldest > start.floor:
                self._db.run(self._record_gap, start.floor, oldest)
        cutoff = start.floor - self.clock_skew if start.floor else None
        ours = [
            (event_id, fields)
            for event_id, fields, at in zip((e.event.id for e in events), decoded, created, strict=True)
            if fields is not None and not (cutoff is not None and at is not None and at < cutoff)
        ]  # an event published before the connection was saved (or already handled) is not ours
        last = next((at for at in reversed(created) if at is not None), None)
        # One database job for the batch, not one per event: a hand-over to a database thread, and the
        # connection's health check that comes with each, cost more than storing an agent's message.
        try:
            self._db.run(self._handle_and_store, tenant, ours, topic, events[-1].replay_id, last)
        except BaseException:
            self._failed_batches += 1
            raise
        self._failed_batches = 0
        self._position = events[-1].replay_id

    def _handle_and_store(
        self,
        tenant: Tenant,
        events: list[tuple[str, dict]],
        topic: str,
        replay_id: bytes,
        last_event_at: datetime | None,
    ) -> None:
        """On a database thread: every event of the batch in order (each committed by the handler), then the
        batch's position; a failure raises before the position is stored, so the batch is offered again."""
        for event_id, fields in events:
            self._handle_event(tenant, event_id, fields)
        self._store(topic, replay_id, last_event_at=last_event_at)

    def _handle_event(self, tenant: Tenant, event_id: str, fields: dict) -> None:
        """Hand one event to the handler (on the database thread running the batch). A failure is raised (the
        batch is offered again from the cursor) unless the same event has failed RELAY_MAX_INTERNAL_ERRORS
        times in a row for a reason other than the database being unreachable or Salesforce or a provider being
        away for now (a transient ExternalError, as a Cases desk's read of the Case for a gap event meets): then
        it is set aside, loudly, so the tenant's later replies move."""
        try:
            self.handler(tenant, fields)
        except (OperationalError, InterfaceError):
            raise  # the database, not the event: every event would fail, none is to blame
        except ExternalError as exc:
            if not exc.permanent:
                raise  # Salesforce or a provider away for now (a 503, a timeout): the event is not to blame
            self._count_failure(tenant, event_id, exc)
        except Exception as exc:
            self._count_failure(tenant, event_id, exc)
        else:
            self._event_failures.pop(event_id, None)

    def _count_failure(self, tenant: Tenant, event_id: str, exc: Exception) -> None:
        """Raise ``exc`` again (the batch is offered again) until the event has failed RELAY_MAX_INTERNAL_ERRORS
        times in a row; then set it aside."""
        failures = self._event_failures.get(event_id, 0) + 1
        if failures < settings.RELAY_MAX_INTERNAL_ERRORS:
            self._event_failures[event_id] = failures
            raise exc
        self._event_failures.pop(event_id, None)
        log.error(
            "tenant %s: event %s failed %s times (%s: %s); set aside so later events move",
            self.tenant_id,
            event_id,
            failures,
            exc.__class__.__name__,
            exc,
            exc_info=exc,
        )
        # Kept where a lost event is shown (the admin and the wizard's health check, amber for a week).
        self._record_set_aside(
            f"Agent event {event_id} could not be handled after {failures} tries and was set aside "
            f"({exc.__class__.__name__}: {storable(str(exc))[:300]}); later events were delivered.",
        )

    # --- access tokens -----------------------------------------------------------------------------

    def _usable_token(self, connection: SalesforceConnection) -> Token:
        """The cached token, unless Pub/Sub has already refused it: then one it has not."""
        token = get_token(connection)
        if str(token.access_token) in self._failed_tokens:
            token = get_token(connection, refresh=True, rejected=self._failed_tokens.keys())
        return token

    def _replace_token(self) -> tuple[bool, str]:
        """After UNAUTHENTICATED: remember the refused token and get one not refused yet (from the shared
        cache if another process has one, else minted). Returns (whether we have one, why not)."""
        if self._token is not None:
            self._failed_tokens[str(self._token.access_token)] = None
            while len(self._failed_tokens) > MAX_FAILED_TOKENS:
                del self._failed_tokens[next(iter(self._failed_tokens))]
        try:
            connection = self._db.run(self._load_connection)
            rejected = list(self._failed_tokens)
            self._token = self._db.run(get_token, connection, refresh=True, rejected=rejected)
            return True, ""
        except (ExternalError, SalesforceConnection.DoesNotExist) as exc:
            log.warning("tenant %s: could not mint a new token: %s", self.tenant_id, exc)
            return False, str(exc)

    # --- helpers (the database steps run on ``self._db``) ------------------------------------------

    def _load_tenant(self) -> Tenant:
        return Tenant.objects.select_related("salesforce").get(pk=self.tenant_id)

    def _load_connection(self) -> SalesforceConnection:
        return SalesforceConnection.objects.select_related("tenant").get(tenant_id=self.tenant_id)

    @staticmethod
    def _metadata(tenant: Tenant, token: Token) -> tuple[tuple[str, str], ...]:
        return (
            (METADATA_ACCESS_TOKEN, str(token.access_token)),
            (METADATA_INSTANCE_URL, token.instance_url or tenant.salesforce.instance_url),
            (METADATA_TENANT_ID, tenant.org_id),
        )

    def _store(
        self,
        topic: str,
        replay_id: bytes,
        *,
        last_event_at: datetime | None = None,
        only_if_changed: bool = False,
    ) -> None:
        """The position after a handled batch (or a caught-up keep-alive). Only on the cursor of our
        topic: after the platform event changed, a subscriber still draining the old one leaves it alone."""
        mine = ListenerCursor.objects.filter(tenant_id=self.tenant_id, topic=topic)
        if only_if_changed:
            current = mine.values_list("replay_id", flat=True).first()
            if current is not None and bytes(current) == replay_id:
                return
        changes = {"replay_id": bytes(replay_id), "last_error": "", "updated_at": timezone.now()}
        if last_event_at is not None:
            changes["last_event_at"] = last_event_at
        if not mine.update(**changes):
            ListenerCursor.objects.get_or_create(
                tenant_id=self.tenant_id,
                defaults={"topic": topic, "replay_id": bytes(replay_id), "last_event_at": last_event_at},
            )

    def _stream_started(self, topic: str) -> None:
        ListenerCursor.objects.filter(tenant_id=self.tenant_id, topic=topic).update(
            subscribed_at=timezone.now(), last_error=""
        )

    def _record_gap(self, since: datetime | None, until: datetime | None) -> None:
        """Salesforce may have purged events we never read: nothing can bring them back, so say so."""
        hours = self.retention.total_seconds() / 3600
        start = f"{since:%Y-%m-%d %H:%M} UTC" if since else "the last stored position"
        end = f"{until:%Y-%m-%d %H:%M} UTC" if until else "the listener's return"
        gap = (
            f"Agent messages published between {start} and {end} may be lost: Salesforce keeps events for "
            f"{hours:g} hours and no longer had them when the listener subscribed."
        )
        log.error("tenant %s: %s", self.tenant_id, gap)
        ListenerCursor.objects.filter(tenant_id=self.tenant_id).update(gap=gap, gap_at=timezone.now())

    def _record_set_aside(self, gap: str) -> None:
        ListenerCursor.objects.filter(tenant_id=self.tenant_id).update(gap=gap, gap_at=timezone.now())

    def _note_error(self, error: str) -> None:
        try:
            self._db.run(self._write_error, error[:2000])
        except Exception:  # noting an error must never kill the subscriber
            log.exception("tenant %s: could not record the listener error", self.tenant_id)

    def _write_error(self, error: str) -> None:
        updated = ListenerCursor.objects.filter(tenant_id=self.tenant_id).update(last_error=error)
        if not updated:
            connection = SalesforceConnection.objects.filter(tenant_id=self.tenant_id).first()
            topic = topic_name(connection) if connection else ""
            ListenerCursor.objects.create(tenant_id=self.tenant_id, topic=topic, last_error=error)


def _created_at(fields: dict | None) -> datetime | None:
    """An event's ``CreatedDate`` (epoch milliseconds, stamped by Salesforce when it was published); a
    Change Data Capture event's is its ``ChangeEventHeader.commitTimestamp`` (its CreatedDate is the record's)."""
    header = fields.get("ChangeEventHeader") if fields else None
    value = header.get("commitTimestamp") if isinstance(header, dict) else (fields or {}).get("CreatedDate")
    if isinstance(value, datetime):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return None


def _iterate(requests: queue.Queue):
    """The request side of the Subscribe stream: FetchRequests until None."""
    while True:
        request = requests.get()
        if request is None:
            return
        yield request


def _trailer(exc: grpc.RpcError, key: str) -> str:
    try:
        return dict(exc.trailing_metadata() or ()).get(key, "") or ""
    except Exception:
        return ""


def _describe(exc: grpc.RpcError) -> str:
    code = exc.code().name if exc.code() else "UNKNOWN"
    vendor = _trailer(exc, TRAILER_ERROR_CODE)
    return f"Pub/Sub {code}: {exc.details() or ''}" + (f" ({vendor})" if vendor else "")


def _replay_refused(exc: grpc.RpcError) -> bool:
    text = f"{_trailer(exc, TRAILER_ERROR_CODE)} {exc.details() or ''}".lower()
    return exc.code() == grpc.StatusCode.INVALID_ARGUMENT and ("replayid" in text or "replay id" in text)


# --- all tenants ------------------------------------------------------------------------------------


def receive_with_desk(tenant: Tenant, fields: dict) -> None:
    """One platform event, handed to the tenant's desk (``relay.desks``), which records what it says."""
    desk_for(tenant.salesforce).receive(fields)


class Listener:
    """One :class:`TenantSubscriber` per active tenant with a complete connection that this process holds
    (``owns``, relay/salesforce/shards.py; None: every tenant), kept in step with the database by :meth:`sync`
    (called every ``refresh_seconds`` by :meth:`run`). The ``pubsub`` agent feed of ``relay_listen``
    (``relay.desks.base.AgentFeed``); ``handler`` defaults to the tenant's desk's ``receive``.

    All database work, the subscribers' and the tenant list's, runs on one :class:`DatabaseThreads` of
    ``db_threads`` threads (``RELAY_LISTENER_DB_THREADS``), so the listener holds at most that many
    database connections, and the streams share a few gRPC channels (:class:`Channels`). :meth:`shutdown`
    ends them; a listener runs once.
    """

    def __init__(
        self,
        handler: EventHandler | None = None,
        *,
        refresh_seconds: float = 5.0,
        tenant_slugs: list[str] | None = None,
        owns: Owns | None = None,
        db_threads: int | None = None,
        max_backoff: float | None = None,
        **subscriber_options,
    ) -> None:
        self.handler = handler or receive_with_desk
        self.refresh_seconds = refresh_seconds
        self.tenant_slugs = tenant_slugs
        self.owns = owns
        if max_backoff is not None:
            subscriber_options.setdefault("backoff", Backoff(initial=1.0, maximum=max_backoff))
        self.channels = Channels(
            subscriber_options.get("endpoint"),
            subscriber_options.get("tls"),
            streams_per_channel=settings.RELAY_PUBSUB_STREAMS_PER_CHANNEL,
        )
        subscriber_options.setdefault("channels", self.channels)
        subscriber_options.setdefault("owns", owns)
        self.subscriber_options = subscriber_options
        self.db = DatabaseThreads(
            settings.RELAY_LISTENER_DB_THREADS if db_threads is None else db_threads, name="pubsub-db"
        )
        self.subscribers: dict[int, tuple[tuple, TenantSubscriber]] = {}
        self._stop = threading.Event()

    def wanted(self) -> dict[int, tuple]:
        """Tenant id → what its subscription depends on (a change restarts it)."""
        tenants = Tenant.objects.filter(active=True, salesforce__isnull=False).select_related("salesforce")
        if self.tenant_slugs:
            tenants = tenants.filter(slug__in=self.tenant_slugs)
        if self.owns is not None:  # only the tenants this process holds (their secrets are decrypted on load)
            owns = self.owns
            tenants = tenants.filter(pk__in=[pk for pk in tenants.values_list("pk", flat=True) if owns(pk)])
        found = {}
        for tenant in tenants:
            connection = tenant.salesforce
            if is_complete(connection):
                found[tenant.pk] = (
                    tenant.org_id,
                    topic_name(connection),
                    connection.instance_url,
                    cache_key(connection),
                )
        return found

    def sync(self) -> None:
        wanted = self.db.run(self.wanted)
        stopping = []
        for tenant_id, (fingerprint, subscriber) in list(self.subscribers.items()):
            if wanted.get(tenant_id) != fingerprint or not subscriber.alive:
                reason = (
                    "disabled, removed or held by another listener" if tenant_id not in wanted else "changed"
                )
                log.info("tenant %s: %s; stopping its subscription", tenant_id, reason)
                subscriber.stop()
                stopping.append(subscriber)
                del self.subscribers[tenant_id]
        for (
            subscriber
        ) in stopping:  # all cancelled first, then waited for: hundreds move at once in a rebalance
            subscriber.join(timeout=10)
        for tenant_id, fingerprint in wanted.items():
            if tenant_id not in self.subscribers:
                log.info("tenant %s: starting its subscription to %s", tenant_id, fingerprint[1])
                subscriber = TenantSubscriber(
                    tenant_id, self.handler, db=self.db, **self.subscriber_options
                ).start()
                self.subscribers[tenant_id] = (fingerprint, subscriber)

    def run(self) -> None:
        """Keep the subscriptions in step with the database until :meth:`stop`."""
        try:
            while not self._stop.is_set():
                try:
                    self.sync()
                except Exception:  # a database hiccup must not end the listener
                    log.exception("reading the tenant list failed; trying again")
                self._stop.wait(self.refresh_seconds)
        finally:
            self.shutdown()

    def stop(self) -> None:
        self._stop.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        for _, subscriber in self.subscribers.values():
            subscriber.stop()
        for _, subscriber in self.subscribers.values():
            subscriber.join(timeout)
        self.subscribers.clear()
        self.db.shutdown(timeout)
        self.channels.close()
