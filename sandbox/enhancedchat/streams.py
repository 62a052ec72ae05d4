"""Server-sent events per end-user subject: numbered events, a replay window and the open streams.

Every event gets the next number of one sandbox-wide counter, started at this boot's block
(sandbox/epoch.py) so ids keep growing across sandbox restarts too, and a client resuming with
``Last-Event-Id: N`` is replayed what it missed: the retained events above N, in
order, before the live ones. A stream is an asyncio queue on the sandbox's single loop; dropping it
(control API, revoked or expired token) puts the end marker in its queue.

Salesforce documents an event id only as a string (S3, ``Last-Event-Id: String``). With ``opaque_ids`` (control
API ``PUT /__sim/enhancedchat/event-ids``) the wire ids are random numbers in no order, so a client that reads an
order into them (even into ids that look like numbers) is caught: ``Last-Event-Id`` then names a retained event, and the ones after it are replayed; an
id the sandbox does not know (too old, or a token's "0" before any event) replays every retained event (our
choice: a client recognises a repeat, it cannot recover a gap).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from dataclasses import dataclass, field

from .. import epoch

RETAINED_EVENTS = 1000  # per subject: how far back Last-Event-Id can resume (undocumented: our choice)
END = object()  # queued to end a stream


@dataclass
class Event:
    id: int
    type: str
    data: dict
    wire_id: str = ""  # the id on the wire: str(id), or a random string with opaque ids

    def wire(self) -> bytes:
        return (
            f"id: {self.wire_id or self.id}\nevent: {self.type}\ndata: {json.dumps(self.data)}\n\n".encode()
        )


@dataclass(eq=False)  # each stream is itself (identity hash): kept in a set
class Stream:
    org_id: str
    subject: str
    token: str
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    def drop(self) -> None:
        self.queue.put_nowait(END)


class EventLog:
    """Numbered events and open streams of every subject."""

    def __init__(self) -> None:
        self._last_id = epoch.first_id() - 1
        self._events: dict[tuple[str, str], deque[Event]] = {}
        self.streams: set[Stream] = set()
        self._listening: dict[tuple[str, str], set[Stream]] = {}  # (org, subject) -> its open streams
        self.opaque_ids = False

    def reset(self) -> None:
        for stream in list(self.streams):
            stream.drop()
        self.streams.clear()
        self._listening.clear()
        self._events.clear()  # ids keep growing: a client's old Last-Event-Id never names a new event
        self.opaque_ids = False

    def last_id(self, org_id: str, subject: str) -> str:
        """The wire id of the subject's last event ("0" when none), as a token answer's lastEventId."""
        events = self._events.get((org_id, subject))
        return (events[-1].wire_id or str(events[-1].id)) if events else "0"

    def emit(self, org_id: str, subject: str, event_type: str, data: dict) -> Event:
        self._last_id += 1
        event = Event(
            self._last_id, event_type, data, str(secrets.randbelow(10**15)) if self.opaque_ids else ""
        )
        self._events.setdefault((org_id, subject), deque(maxlen=RETAINED_EVENTS)).append(event)
        for stream in self._listening.get((org_id, subject), ()):
            stream.queue.put_nowait(event)
        return event

    def since(self, org_id: str, subject: str, after: str) -> list[Event]:
        """The retained events after the one whose wire id is ``after``. A counter id replays the events above
        it; an opaque id names a retained event (replayed after it), or, unknown, replays them all."""
        events = list(self._events.get((org_id, subject), ()))
        for index, event in enumerate(events):
            if event.wire_id and event.wire_id == after:
                return events[index + 1 :]
        if after.isascii() and after.isdigit() and not any(e.wire_id for e in events):
            return [e for e in events if e.id > int(after)]
        return events

    def events(self, org_id: str, subject: str) -> list[Event]:
        return list(self._events.get((org_id, subject), ()))

    def open(self, org_id: str, subject: str, token: str, after: str | None) -> Stream:
        """A new stream, already holding the missed events when ``after`` (Last-Event-Id) is given."""
        stream = Stream(org_id, subject, token)
        if after is not None:
            for event in self.since(org_id, subject, after):
                stream.queue.put_nowait(event)
        self.streams.add(stream)
        self._listening.setdefault((org_id, subject), set()).add(stream)
        return stream

    def close(self, stream: Stream) -> None:
        self.streams.discard(stream)
        listening = self._listening.get((stream.org_id, stream.subject))
        if listening is not None:
            listening.discard(stream)
            if not listening:
                del self._listening[(stream.org_id, stream.subject)]

    def drop(self, *, org_id: str | None = None, token: str | None = None) -> int:
        """End open streams (of one org, or opened with one token); returns how many."""
        dropped = [
            s
            for s in self.streams
            if (org_id is None or s.org_id == org_id) and (token is None or s.token == token)
        ]
        for stream in dropped:
            stream.drop()
            self.close(stream)
        return len(dropped)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for stream in self.streams:
            counts[stream.org_id] = counts.get(stream.org_id, 0) + 1
        return counts
