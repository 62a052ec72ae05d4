"""The Pub/Sub simulator as the listener relies on it (docs/listener.md): a revoked or expired session ends
an open stream with UNAUTHENTICATED without waiting for an event or a keep-alive, and EARLIEST after a purge
starts at the oldest event still retained."""

from __future__ import annotations

import time

import grpc
import httpx
import pytest

from pubsub_api import pb2, pb2_grpc
from tests.sandbox.pubsub_support import (
    EVENT,
    TOPIC,
    Codec,
    SubscribeStream,
    make_org,
    publish,
    wait_for_subscribers,
)

AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"


@pytest.fixture
def stub(sandbox):
    with grpc.insecure_channel(sandbox.world.config.grpc_target) as channel:
        yield pb2_grpc.PubSubStub(channel)


@pytest.fixture
def quiet(sandbox):
    """Keep-alives as rare as Salesforce's, so only the session can end the stream."""
    config = sandbox.world.config
    before, config.keepalive_seconds = config.keepalive_seconds, 300.0
    yield
    config.keepalive_seconds = before


def open_stream(stub, session, preset=pb2.LATEST) -> SubscribeStream:
    return SubscribeStream(
        stub, session, pb2.FetchRequest(topic_name=TOPIC, replay_preset=preset, num_requested=10)
    )


@pytest.mark.parametrize("action", ["revoke", "expire"])
def test_the_control_route_ends_the_orgs_open_streams_at_once(sandbox, stub, quiet, action):
    session = make_org(sandbox)
    stream = open_stream(stub, session)
    try:
        wait_for_subscribers(sandbox, session, 1)
        response = httpx.post(f"{sandbox.base_url}/__sim/orgs/{session.org_id}/tokens/{action}", json={})
        assert response.status_code == 200
        error = stream.error(timeout=5)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert dict(error.trailing_metadata())["error-code"] == AUTH_ERROR
    finally:
        stream.close()


def test_a_session_that_expires_while_the_stream_waits_ends_it(sandbox, stub, quiet):
    session = make_org(sandbox)

    def shorten():
        sandbox.world.orgs.by_token(session.access_token)[1].expires_at = time.time() + 0.5

    sandbox.call(shorten)
    stream = open_stream(stub, session)
    try:
        assert stream.error(timeout=5).code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        stream.close()


def test_earliest_after_a_purge_starts_at_the_oldest_retained_event(sandbox, stub):
    session = make_org(sandbox)
    config = sandbox.world.config
    publish(sandbox, session, {"Payload__c": "purged"})
    oldest = sandbox.call(lambda: sandbox.world.pubsub.retained(session.org_id, EVENT))
    before, config.event_retention_seconds = config.event_retention_seconds, 0.0
    try:
        assert sandbox.call(sandbox.world.pubsub.retained, session.org_id, EVENT) == []
    finally:
        config.event_retention_seconds = before
    publish(sandbox, session, {"Payload__c": "kept"})
    topic = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    codec = Codec(
        stub.GetSchema(pb2.SchemaRequest(schema_id=topic.schema_id), metadata=session.metadata()).schema_json
    )
    stream = open_stream(stub, session, preset=pb2.EARLIEST)
    try:
        events = stream.events(1)
        assert [codec.decode(e.event.payload)["Payload__c"] for e in events] == ["kept"]
        assert events[0].replay_id != oldest[0].replay_id
    finally:
        stream.close()
