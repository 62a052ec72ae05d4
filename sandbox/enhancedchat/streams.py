"""Server-sent events per end-user subject: numbered events, a replay window and the open streams.

Every event gets the next number of one sandbox-wide counter, started at this boot's block
(sandbox/epoch.py) so ids keep growing across sandbox restarts too, and a client resuming with
``Last-Event-Id: N`` is replayed what it missed: the retained events above N, in
order, before the live ones. A stream is an asyncio queue on the sandbox's single loop; dropping it
(control API, revoked or expired token) puts the end marker in its queue.
"""

from __future__ import annotations

import asyncio
import json
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

    def wire(self) -> bytes:
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data)}\n\n".encode()


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

    def reset(self) -> None:
        for stream in list(self.streams):
            stream.drop()
        self.streams.clear()
        self._listening.clear()
        self._events.clear()  # ids keep growing: a client's old Last-Event-Id never names a new event

    def last_id(self, org_id: str, subject: str) -> int:
        events = self._events.get((org_id, subject))
        return events[-1].id if events else 0

    def emit(self, org_id: str, subject: str, event_type: str, data: dict) -> Event:
        self._last_id += 1
        event = Event(self._last_id, event_type, data)
        self._events.setdefault((org_id, subject), deque(maxlen=RETAINED_EVENTS)).append(event)
        for stream in self._listening.get((org_id, subject), ()):
            stream.queue.put_nowait(event)
        return event

    def since(self, org_id: str, subject: str, after: int) -> list[Event]:
        return [e for e in self._events.get((org_id, subject), ()) if e.id > after]

    def events(self, org_id: str, subject: str) -> list[Event]:
        return list(self._events.get((org_id, subject), ()))

    def open(self, org_id: str, subject: str, token: str, after: int | None) -> Stream:
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
