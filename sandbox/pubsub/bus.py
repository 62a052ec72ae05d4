"""Platform events per org and topic, with replay ids and retention (the Pub/Sub API's event bus).

Other simulators publish with :meth:`EventBus.publish` (on the sandbox loop); the gRPC service in
``server.py`` reads topics through :class:`Subscription`, which also carries the wake-up signal a
waiting Subscribe stream sleeps on.

Replay ids. Every event gets a position from one counter shared by all topics of the bus, so
consecutive events of one topic need not have consecutive ids (as on Salesforce, where ids are
"not guaranteed to be contiguous"). On the wire the position is 8 bytes, big-endian
(:func:`encode_replay_id`): Salesforce documents replay ids as opaque bytes and its own sample reads
them as a big-endian uint64, so both kinds of client work. Clients must treat them as opaque.
The counter never restarts, even on :meth:`EventBus.reset`, so a replay id kept from before a reset
is refused instead of silently pointing at unrelated new events.

A replay id is valid for CUSTOM replay while nothing after it has been purged and it is not past
the newest event of the topic (see :meth:`Topic.accepts`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import epoch
from . import cdc
from .avro import EventSchema

if TYPE_CHECKING:
    from ..world import World

REPLAY_ID_BYTES = 8


def encode_replay_id(position: int) -> bytes:
    return position.to_bytes(REPLAY_ID_BYTES, "big")


def decode_replay_id(replay_id: bytes) -> int | None:
    """The position inside a replay id, or None when the bytes cannot be one of ours."""
    if len(replay_id) != REPLAY_ID_BYTES:
        return None
    return int.from_bytes(replay_id, "big")


class UnknownTopic(LookupError):
    """The org has no such platform event (or there is no such org)."""


@dataclass
class RetainedEvent:
    position: int
    event_id: str  # ProducerEvent.id: client supplied or a UUID
    schema_id: str
    payload: bytes  # Avro binary
    record: dict  # the decoded record, for inspection
    published_at: float  # epoch seconds

    @property
    def replay_id(self) -> bytes:
        return encode_replay_id(self.position)


class Topic:
    """``/event/<api_name>`` of one org: the events inside the retention window."""

    def __init__(self, org_id: str, api_name: str, floor: int) -> None:
        self.org_id = org_id
        self.api_name = api_name
        self.events: deque[RetainedEvent] = deque()
        # Position just before the oldest event still retained: everything at or below is gone.
        self.floor = floor
        self.tip = floor  # position of the newest event (the floor while there is none)
        self.subscriptions: set[Subscription] = set()

    @property
    def name(self) -> str:
        # Change Data Capture channels are /data/<Entity>ChangeEvent (sandbox/pubsub/cdc.py)
        return f"/{'data' if cdc.entity_of(self.api_name) else 'event'}/{self.api_name}"

    def accepts(self, position: int) -> bool:
        """Whether a subscription may start after ``position`` without losing events."""
        return self.floor <= position <= self.tip

    def after(self, position: int, limit: int) -> list[RetainedEvent]:
        """Up to ``limit`` retained events after ``position``, oldest first."""
        found = []
        for event in self.events:
            if len(found) >= limit:
                break
            if event.position > position:
                found.append(event)
        return found


# "The maximum number of events that can be requested in a Subscribe call across all requests is 100. If a
# client requests more than 100 events [...] the server considers the number of requested events to be 100."
# (Pub/Sub API, Pull Subscription and Flow Control.)
MAX_REQUESTED = 100


@dataclass(eq=False)
class Subscription:
    """One open Subscribe stream: where it stands and what it may still receive."""

    topic: Topic
    position: int  # the last event delivered (or the starting point)
    pending: int = 0  # events requested by the client and not delivered yet
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: str | None = None  # why the sandbox is closing this stream, when it is

    def request(self, count: int) -> None:
        """A FetchRequest's ``num_requested``: added to what is still owed, the total capped at 100."""
        if count > 0:
            self.pending = min(self.pending + count, MAX_REQUESTED)

    def take(self, limit: int = 100) -> list[RetainedEvent]:
        """The next events to send (never more than requested), marking them delivered."""
        batch = self.topic.after(self.position, min(self.pending, limit)) if self.pending > 0 else []
        if batch:
            self.position = batch[-1].position
            self.pending -= len(batch)
        return batch

    @property
    def latest_replay_id(self) -> bytes:
        """Where a client may safely resume: past everything delivered, never past anything undelivered."""
        if not self.topic.after(self.position, 1):
            # Caught up: the tip of the topic (tightened past purged or other topics' positions).
            return encode_replay_id(max(self.position, self.topic.tip))
        return encode_replay_id(self.position)


class EventBus:
    def __init__(self, world: World) -> None:
        self.world = world
        self._positions = itertools.count(epoch.first_id())  # never reused across restarts either
        self._last_position = 0
        self._topics: dict[tuple[str, str], Topic] = {}
        self._schemas: dict[tuple[str, str], EventSchema] = {}
        self._schemas_by_id: dict[str, EventSchema] = {}
        self._schema_orgs: dict[str, set[str]] = {}  # schema id -> orgs that have used it

    # --- topics and schemas ---------------------------------------------------------------------

    def _event_def(self, org_id: str, api_name: str):
        org = self.world.orgs.get(org_id)
        entity = cdc.entity_of(api_name)
        if entity is not None:  # a change event channel: open when the org selected the entity
            if org is None or entity not in org.change_events:
                raise UnknownTopic(f"/data/{api_name}")
            return org, None
        event = org.platform_events.get(api_name) if org is not None else None
        if event is None:
            raise UnknownTopic(f"/event/{api_name}")
        return org, event

    def schema(self, org_id: str, api_name: str) -> EventSchema:
        """The current schema of an org's platform event (rebuilt when its fields change)."""
        org, event = self._event_def(org_id, api_name)
        key = (org.org_id, api_name)
        if event is None:  # a change event: its schema follows the object's fields
            return self._register(key, self.world.cdc.schema(cdc.entity_of(api_name) or ""))
        schema = self._schemas.get(key)
        if schema is None or schema.field_names[2:] != list(event.fields):
            schema = EventSchema.build(org.org_id, api_name, event.fields)
            self._schemas[key] = schema
            self._schemas_by_id[schema.schema_id] = schema
            self._schema_orgs.setdefault(schema.schema_id, set()).add(org.org_id)
        return schema

    def _register(self, key: tuple[str, str], schema: EventSchema) -> EventSchema:
        self._schemas[key] = schema
        self._schemas_by_id[schema.schema_id] = schema
        self._schema_orgs.setdefault(schema.schema_id, set()).add(key[0])
        return schema

    def schema_by_id(self, schema_id: str, org_id: str) -> EventSchema | None:
        """A schema the org's events have (or had), by id; other orgs' schemas are not visible."""
        org = self.world.orgs.get(org_id)
        if org is None or org.org_id not in self._schema_orgs.get(schema_id, ()):
            return None
        return self._schemas_by_id.get(schema_id)

    def topic(self, org_id: str, api_name: str) -> Topic:
        """The org's topic for a platform event, after purging what fell out of the retention window."""
        org, _ = self._event_def(org_id, api_name)
        key = (org.org_id, api_name)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = Topic(org.org_id, api_name, floor=self._last_position)
        self.purge(topic)
        return topic

    def purge(self, topic: Topic) -> None:
        """Drop the topic's events that are older than the retention window."""
        cutoff = time.time() - self.world.config.event_retention_seconds
        while topic.events and topic.events[0].published_at <= cutoff:
            topic.floor = topic.events.popleft().position

    # --- publishing -----------------------------------------------------------------------------

    def publish(self, org_id: str, event_api_name: str, fields: dict, *, created_by_id: str) -> bytes:
        """Publish one platform event (custom field values by API name); returns its replay id.

        Raises :class:`UnknownTopic` for an event the org does not define and
        :class:`~sandbox.pubsub.avro.PayloadError` for unknown fields or values of the wrong type.
        Must run on the sandbox loop (it wakes subscribers waiting there).
        """
        schema = self.schema(org_id, event_api_name)
        record = {name: None for name in schema.field_names[2:]}
        record.update(fields)  # unknown names stay in, so encode() refuses them by name
        record["CreatedDate"] = int(time.time() * 1000)
        record["CreatedById"] = created_by_id
        return self.append(org_id, event_api_name, schema, schema.encode(record), event_id=None).replay_id

    def append_change(self, org_id: str, api_name: str, schema: EventSchema, payload: bytes) -> None:
        """Store a change event (sandbox/pubsub/cdc.py) on its /data/ channel."""
        self._register((org_id, api_name), schema)
        self.append(org_id, api_name, schema, payload, event_id=None)

    def append(
        self, org_id: str, api_name: str, schema: EventSchema, payload: bytes, *, event_id: str | None
    ) -> RetainedEvent:
        """Store an already encoded event and wake the topic's subscribers."""
        record = schema.decode(payload)
        topic = self.topic(org_id, api_name)
        position = next(self._positions)
        self._last_position = position
        event = RetainedEvent(
            position=position,
            event_id=event_id or str(uuid.uuid4()),
            schema_id=schema.schema_id,
            payload=payload,
            record=record,
            published_at=time.time(),
        )
        topic.events.append(event)
        topic.tip = position
        for subscription in topic.subscriptions:
            subscription.wake.set()
        return event

    # --- subscribing ----------------------------------------------------------------------------

    def subscribe(self, topic: Topic, position: int) -> Subscription:
        subscription = Subscription(topic=topic, position=position)
        topic.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.topic.subscriptions.discard(subscription)

    def subscriptions(self, org_id: str | None = None) -> list[Subscription]:
        return [
            s
            for topic in self._topics.values()
            if org_id is None or topic.org_id == org_id
            for s in topic.subscriptions
        ]

    def wake(self, org_id: str) -> None:
        """Make the org's open streams look at their session again (a token was revoked or expired)."""
        for subscription in self.subscriptions(org_id):
            subscription.wake.set()

    def drop_streams(self, org_id: str | None = None, reason: str = "stream dropped by the sandbox") -> int:
        """Close open Subscribe streams (all, or one org's) with UNAVAILABLE, as a network drop would."""
        dropped = self.subscriptions(org_id)
        for subscription in dropped:
            subscription.dropped = reason
            subscription.wake.set()
        return len(dropped)

    # --- inspection -----------------------------------------------------------------------------

    def retained(self, org_id: str, api_name: str) -> list[RetainedEvent]:
        """The events of a topic still inside the retention window, oldest first."""
        return list(self.topic(org_id, api_name).events)

    def events(self, org_id: str, api_name: str) -> list[dict]:
        """The decoded records (``CreatedDate``, ``CreatedById`` and the custom fields), oldest first."""
        return [dict(event.record) for event in self.retained(org_id, api_name)]

    def reset(self) -> None:
        """Forget topics, events and schemas; open streams are closed. Positions keep counting."""
        self.drop_streams(reason="sandbox reset")
        self._topics.clear()
        self._schemas.clear()
        self._schemas_by_id.clear()
        self._schema_orgs.clear()
