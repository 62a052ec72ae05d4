"""The Pub/Sub API (gRPC service ``eventbus.v1.PubSub``) on the sandbox loop, backed by the EventBus.

Every RPC first applies the fault board (service ``pubsub``, path ``/<Method>``), then authenticates
from the call metadata (``accesstoken``, ``instanceurl``, ``tenantid``). Failures are gRPC status
errors the way Salesforce sends them: the message ends with ``rpcId: <id>`` and the trailers carry
``error-code`` (Salesforce's code) and ``rpc-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc

from pubsub_api import pb2, pb2_grpc

from ..salesforce.ids import same
from .avro import PayloadError
from .bus import Subscription, Topic, UnknownTopic, decode_replay_id

if TYPE_CHECKING:
    from ..salesforce.org import IssuedToken, Org
    from ..world import World

# Salesforce's error codes (the `error-code` trailer) and the texts that go with them. The first
# three are in Salesforce's "Handle Errors" table; the topic and schema codes are our assumption.
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
SERVICE_UNAVAILABLE = "sfdc.platform.eventbus.grpc.service.unavailable"
REPLAY_ID_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
TOPIC_NOT_FOUND = "sfdc.platform.eventbus.grpc.topic.notfound"
SCHEMA_NOT_FOUND = "sfdc.platform.eventbus.grpc.schema.notfound"

AUTH_TEXT = "An authentication exception occurred. Provide valid authentication via metadata headers."
UNAVAILABLE_TEXT = "The service is unavailable. Try again later."
REPLAY_TEXT = "The Replay ID validation failed."

# Scopes that let a token use the Pub/Sub API. Salesforce's BYOC sample subscribes with its
# interaction_api token, so that scope is enough here too (open question 3).
PUBSUB_SCOPES = {"api", "interaction_api", "full"}

# Fault statuses (HTTP-style, as on the fault board) to gRPC codes.
FAULT_CODES = {
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}

TOPIC_PATTERN = re.compile(
    r"/event/(?P<api_name>[A-Za-z][A-Za-z0-9_]*__e)|/data/(?P<change>[A-Za-z][A-Za-z0-9_]*ChangeEvent)"
)  # platform events, and Change Data Capture channels (sandbox/pubsub/cdc.py)
MAX_BATCH = 100  # events per FetchResponse


@dataclass
class Caller:
    org: Org
    token: IssuedToken
    rpc_id: str


class PubSubService(pb2_grpc.PubSubServicer):
    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def bus(self):
        return self.world.pubsub

    # --- shared checks ------------------------------------------------------------------------

    async def _fail(self, context, code: grpc.StatusCode, text: str, error_code: str, rpc_id: str):
        await context.abort(
            code,
            f"{text} rpcId: {rpc_id}",
            trailing_metadata=(("error-code", error_code), ("rpc-id", rpc_id)),
        )

    async def _apply_faults(self, context, method: str, rpc_id: str) -> None:
        decision = self.world.faults.decide("pubsub", f"/{method}")
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.fail_status is not None:
            code = FAULT_CODES.get(decision.fail_status, grpc.StatusCode.UNAVAILABLE)
            await self._fail(context, code, UNAVAILABLE_TEXT, SERVICE_UNAVAILABLE, rpc_id)

    async def _caller(self, context, method: str) -> Caller:
        """Faults, then authentication: the org and token of the call, or an aborted RPC."""
        rpc_id = str(uuid.uuid4())
        await self._apply_faults(context, method, rpc_id)
        metadata = {key.lower(): value for key, value in (context.invocation_metadata() or ())}
        access_token = metadata.get("accesstoken", "")
        found = self.world.orgs.by_token(access_token) if access_token else None
        if (
            found is None
            or not found[1].valid
            or not PUBSUB_SCOPES & set(found[1].scopes)
            or not metadata.get("instanceurl")
            or not metadata.get("tenantid")
        ):
            await self._fail(context, grpc.StatusCode.UNAUTHENTICATED, AUTH_TEXT, AUTH_ERROR, rpc_id)
        org, token = found
        if not same(metadata["tenantid"], org.org_id):
            await self._fail(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"The tenant id {metadata['tenantid']} does not match the org of the access token.",
                AUTH_ERROR,
                rpc_id,
            )
        return Caller(org=org, token=token, rpc_id=rpc_id)

    async def _topic(self, context, caller: Caller, topic_name: str) -> Topic:
        match = TOPIC_PATTERN.fullmatch(topic_name or "")
        try:
            if match is None:
                raise UnknownTopic(topic_name)
            return self.bus.topic(caller.org.org_id, match["api_name"] or match["change"])
        except UnknownTopic:
            await self._fail(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"Topic {topic_name!r} does not exist or you don't have access to it.",
                TOPIC_NOT_FOUND,
                caller.rpc_id,
            )
            raise  # unreachable: abort raises

    def _outage(self, method: str) -> bool:
        """Whether an outage rule covers ``method`` now (checked while a stream is open)."""
        return any(
            rule["service"] == "pubsub"
            and rule["outage"]
            and (not rule["path"] or re.search(rule["path"], f"/{method}"))
            for rule in self.world.faults.list()
        )

    # --- unary RPCs ---------------------------------------------------------------------------

    async def GetTopic(self, request, context):  # noqa: N802 - gRPC method names
        caller = await self._caller(context, "GetTopic")
        topic = await self._topic(context, caller, request.topic_name)
        schema = self.bus.schema(caller.org.org_id, topic.api_name)
        return pb2.TopicInfo(
            topic_name=topic.name,
            tenant_guid=caller.org.org_id,
            can_publish=True,
            can_subscribe=True,
            schema_id=schema.schema_id,
            rpc_id=caller.rpc_id,
        )

    async def GetSchema(self, request, context):  # noqa: N802
        caller = await self._caller(context, "GetSchema")
        # Topics' schemas are built on first use; build this org's so a fresh schema id is known.
        for api_name in caller.org.platform_events:
            self.bus.schema(caller.org.org_id, api_name)
        schema = self.bus.schema_by_id(request.schema_id, caller.org.org_id)
        if schema is None:
            # Not in Salesforce's error table: NOT_FOUND and this trailer code are our assumption.
            await self._fail(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"Schema {request.schema_id!r} was not found.",
                SCHEMA_NOT_FOUND,
                caller.rpc_id,
            )
        return pb2.SchemaInfo(
            schema_json=schema.schema_json, schema_id=schema.schema_id, rpc_id=caller.rpc_id
        )

    async def Publish(self, request, context):  # noqa: N802
        caller = await self._caller(context, "Publish")
        return await self._publish(context, caller, request)

    async def _publish(self, context, caller: Caller, request) -> pb2.PublishResponse:
        topic = await self._topic(context, caller, request.topic_name)
        schema = self.bus.schema(caller.org.org_id, topic.api_name)
        results = []
        for producer_event in request.events:
            event_id = producer_event.id or str(uuid.uuid4())
            try:
                if producer_event.schema_id != schema.schema_id:
                    raise PayloadError(
                        f"schema id {producer_event.schema_id!r} is not the topic's ({schema.schema_id})"
                    )
                record = schema.decode(producer_event.payload)
                # Salesforce stamps who published and when, whatever the client wrote there.
                record.update(CreatedDate=_now_ms(), CreatedById=caller.token.user_id)
                stored = self.bus.append(
                    caller.org.org_id, topic.api_name, schema, schema.encode(record), event_id=event_id
                )
            except PayloadError as exc:
                error = pb2.Error(code=pb2.PUBLISH, msg=str(exc))
                results.append(pb2.PublishResult(error=error, correlation_key=event_id))
            else:
                results.append(pb2.PublishResult(replay_id=stored.replay_id, correlation_key=event_id))
        return pb2.PublishResponse(results=results, schema_id=schema.schema_id, rpc_id=caller.rpc_id)

    async def PublishStream(self, request_iterator, context):  # noqa: N802
        caller = await self._caller(context, "PublishStream")
        topic_name = None
        async for request in request_iterator:
            if topic_name is None:
                topic_name = request.topic_name
            elif request.topic_name and request.topic_name != topic_name:
                await self._fail(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"The topic name {request.topic_name!r} differs from the stream's topic {topic_name!r}.",
                    TOPIC_NOT_FOUND,
                    caller.rpc_id,
                )
            yield await self._publish(context, caller, _with_topic(request, topic_name))

    # --- Subscribe ----------------------------------------------------------------------------

    async def Subscribe(self, request_iterator, context):  # noqa: N802
        caller = await self._caller(context, "Subscribe")
        requests = request_iterator.__aiter__()
        try:
            first = await anext(requests)
        except StopAsyncIteration:
            return
        topic = await self._topic(context, caller, first.topic_name)
        start = await self._start_position(context, caller, topic, first)
        subscription = self.bus.subscribe(topic, start)
        subscription.request(first.num_requested)
        problem: list[tuple[grpc.StatusCode, str, str]] = []
        reader = asyncio.create_task(self._read_requests(requests, subscription, topic.name, problem))
        keepalive = self.world.config.keepalive_seconds
        loop = asyncio.get_running_loop()
        last_sent = loop.time()
        try:
            while True:
                subscription.wake.clear()
                if problem:
                    await self._fail(context, *problem[0], caller.rpc_id)
                if subscription.dropped or self._outage("Subscribe"):
                    await self._fail(
                        context,
                        grpc.StatusCode.UNAVAILABLE,
                        UNAVAILABLE_TEXT,
                        SERVICE_UNAVAILABLE,
                        caller.rpc_id,
                    )
                if not caller.token.valid:  # revoked or expired while subscribed
                    await self._fail(
                        context, grpc.StatusCode.UNAUTHENTICATED, AUTH_TEXT, AUTH_ERROR, caller.rpc_id
                    )
                self.bus.purge(topic)  # what left the retention window is not sent any more
                batch = subscription.take(MAX_BATCH)
                if batch:
                    yield _fetch_response(subscription, caller.rpc_id, batch)
                    last_sent = loop.time()
                    continue
                remaining = last_sent + keepalive - loop.time()
                if remaining <= 0:
                    # Nothing to send for a whole interval: an empty batch keeps the stream alive.
                    yield _fetch_response(subscription, caller.rpc_id, [])
                    last_sent = loop.time()
                    continue
                # A session that expires while the stream waits ends it then, not at the next event.
                expires_in = caller.token.expires_at - time.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        subscription.wake.wait(), timeout=max(0, min(remaining, expires_in))
                    )
        finally:
            reader.cancel()
            self.bus.unsubscribe(subscription)

    async def _start_position(self, context, caller: Caller, topic: Topic, first) -> int:
        if first.replay_preset == pb2.EARLIEST:
            return topic.floor
        if first.replay_preset == pb2.CUSTOM:
            position = decode_replay_id(first.replay_id)
            if position is None or not topic.accepts(position):
                await self._fail(
                    context, grpc.StatusCode.INVALID_ARGUMENT, REPLAY_TEXT, REPLAY_ID_CORRUPTED, caller.rpc_id
                )
            return position
        return topic.tip

    async def _read_requests(
        self, requests, subscription: Subscription, topic_name: str, problem: list
    ) -> None:
        """Adds each later FetchRequest's num_requested to what the stream may send."""
        try:
            async for request in requests:
                if request.topic_name and request.topic_name != topic_name:
                    problem.append(
                        (
                            grpc.StatusCode.INVALID_ARGUMENT,
                            f"The topic name {request.topic_name!r} differs from the subscription's {topic_name!r}.",
                            TOPIC_NOT_FOUND,
                        )
                    )
                else:
                    subscription.request(request.num_requested)
                subscription.wake.set()
        except Exception:  # the client went away; the writer side ends with the call
            return


def _fetch_response(subscription: Subscription, rpc_id: str, batch: list) -> pb2.FetchResponse:
    return pb2.FetchResponse(
        events=[
            pb2.ConsumerEvent(
                event=pb2.ProducerEvent(id=event.event_id, schema_id=event.schema_id, payload=event.payload),
                replay_id=event.replay_id,
            )
            for event in batch
        ],
        latest_replay_id=subscription.latest_replay_id,
        rpc_id=rpc_id,
        pending_num_requested=subscription.pending,
    )


def _with_topic(request, topic_name: str):
    if request.topic_name:
        return request
    return pb2.PublishRequest(topic_name=topic_name, events=request.events, auth_refresh=request.auth_refresh)


def _now_ms() -> int:
    return int(time.time() * 1000)


async def start_grpc_server(world: World, address: str) -> grpc.aio.Server:
    """Start ``eventbus.v1.PubSub`` on ``address`` (host:port, plaintext); return the grpc.aio server.

    Port 0 picks a free port; the port actually bound is ``server.bound_port``.
    """
    server = grpc.aio.server()
    pb2_grpc.add_PubSubServicer_to_server(PubSubService(world), server)
    port = server.add_insecure_port(address)
    await server.start()
    server.bound_port = port
    return server
