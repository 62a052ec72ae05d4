"""Helpers for the Pub/Sub API tests: an org with a token, and a Subscribe stream read with timeouts.

The client side is a real gRPC client (``grpc.insecure_channel`` and the shared ``pubsub_api``
stubs); a background thread pumps the server's responses into a queue so tests wait on it with
deadlines instead of sleeping.
"""

from __future__ import annotations

import io
import json
import queue
import threading
import time
from dataclasses import dataclass

import grpc
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from pubsub_api import pb2
from sandbox.salesforce.orgs_fixture import create_org

EVENT = "Acme_Msg_Event__e"
TOPIC = f"/event/{EVENT}"
EVENT_FIELDS = {"EventType__c": "Text", "Payload__c": "LongTextArea"}


@dataclass
class OrgSession:
    org_id: str
    user_id: str
    access_token: str
    instance_url: str

    def metadata(self, **overrides) -> tuple[tuple[str, str], ...]:
        values = {"accesstoken": self.access_token, "instanceurl": self.instance_url, "tenantid": self.org_id}
        values.update(overrides)
        return tuple((k, v) for k, v in values.items() if v is not None)


def make_org(
    sandbox, org_id: str = "00D8d000000PubA", *, events: dict | None = None, scopes=None
) -> OrgSession:
    """An org with an integration user, a Connected App and platform events; a token for the user."""
    events = events if events is not None else {EVENT: EVENT_FIELDS}
    spec = {
        "org_id": org_id,
        "name": f"Pub/Sub org {org_id}",
        "users": [{"username": f"integration@{org_id.lower()}.test", "name": "Integration User"}],
        "connected_apps": [
            {"consumer_key": f"key-{org_id}", "preauthorized": [f"integration@{org_id.lower()}.test"]}
        ],
        "platform_events": [{"api_name": name, "fields": fields} for name, fields in events.items()],
    }

    def build():
        org = create_org(sandbox.world, spec)
        user = org.records.all("User")[0]
        app = org.connected_apps[f"key-{org_id}"]
        token = org.issue_token(user=user, app=app, scopes=scopes)
        return OrgSession(org.org_id, user["Id"], token.access_token, sandbox.world.config.url("core"))

    return sandbox.call(build)


def publish(sandbox, session: OrgSession, fields: dict, event: str = EVENT) -> bytes:
    """Publish through the bus, as the agent console does; returns the replay id."""
    return sandbox.call(
        sandbox.world.pubsub.publish, session.org_id, event, fields, created_by_id=session.user_id
    )


def wait_for_subscribers(sandbox, session: OrgSession, count: int, timeout: float = 5.0) -> None:
    """Poll (with a deadline) until ``count`` Subscribe streams of the org are registered on the bus."""
    deadline = time.monotonic() + timeout
    while len(sandbox.call(sandbox.world.pubsub.subscriptions, session.org_id)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} subscriber(s) did not register within {timeout} s")
        time.sleep(0.01)


class Codec:
    """Avro codec built from a GetSchema answer, as a Pub/Sub client builds it."""

    def __init__(self, schema_json: str) -> None:
        self.schema = json.loads(schema_json)
        self.parsed = parse_schema(self.schema)

    def decode(self, payload: bytes) -> dict:
        return schemaless_reader(io.BytesIO(payload), self.parsed, None)

    def encode(self, record: dict) -> bytes:
        buffer = io.BytesIO()
        schemaless_writer(buffer, self.parsed, record)
        return buffer.getvalue()


class Ended(Exception):
    """The server closed the stream without an error."""


class SubscribeStream:
    """One Subscribe call: write FetchRequests with :meth:`fetch`, read responses with deadlines."""

    def __init__(self, stub, session: OrgSession, first: pb2.FetchRequest, metadata=None) -> None:
        self._requests: queue.Queue = queue.Queue()
        self._responses: queue.Queue = queue.Queue()
        self._requests.put(first)
        self.call = stub.Subscribe(self._request_iterator(), metadata=metadata or session.metadata())
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _request_iterator(self):
        while True:
            request = self._requests.get()
            if request is None:
                return
            yield request

    def _pump(self) -> None:
        try:
            for response in self.call:
                self._responses.put(response)
        except grpc.RpcError as exc:
            self._responses.put(exc)
        else:
            self._responses.put(Ended())

    def fetch(self, num_requested: int, topic_name: str = "") -> None:
        self._requests.put(pb2.FetchRequest(topic_name=topic_name, num_requested=num_requested))

    def next(self, timeout: float = 5.0) -> pb2.FetchResponse:
        """The next response (events or keep-alive); raises the RPC error if the stream failed."""
        item = self._responses.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def events(self, count: int, timeout: float = 5.0) -> list[pb2.ConsumerEvent]:
        """Exactly the next ``count`` events, skipping keep-alives; fails if more arrive in a batch."""
        deadline = time.monotonic() + timeout
        received: list[pb2.ConsumerEvent] = []
        while len(received) < count:
            response = self.next(timeout=max(deadline - time.monotonic(), 0.01))
            received.extend(response.events)
        assert len(received) == count, f"expected {count} events, got {len(received)}"
        return received

    def keepalive(self, timeout: float = 5.0) -> pb2.FetchResponse:
        """The next response, which must be an empty keep-alive batch."""
        response = self.next(timeout=timeout)
        assert list(response.events) == [], f"expected a keep-alive, got {len(response.events)} event(s)"
        return response

    def error(self, timeout: float = 5.0) -> grpc.RpcError:
        """Read until the stream fails; return the error."""
        deadline = time.monotonic() + timeout
        while True:
            item = self._responses.get(timeout=max(deadline - time.monotonic(), 0.01))
            if isinstance(item, grpc.RpcError):
                return item
            if isinstance(item, Ended):
                raise AssertionError("stream ended without an error")

    def close(self) -> None:
        self.call.cancel()
        self._requests.put(None)
        self._pump_thread.join(timeout=5)


def trailer(error: grpc.RpcError, key: str) -> str | None:
    return dict(error.trailing_metadata() or ()).get(key)
