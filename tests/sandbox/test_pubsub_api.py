"""The Pub/Sub API simulator driven by a real gRPC client (sync channel, shared pubsub_api stubs)."""

from __future__ import annotations

import json

import grpc
import pytest

from pubsub_api import pb2, pb2_grpc
from tests.sandbox.pubsub_support import (
    EVENT,
    TOPIC,
    Codec,
    SubscribeStream,
    make_org,
    publish,
    trailer,
    wait_for_subscribers,
)

AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
UNAVAILABLE = "sfdc.platform.eventbus.grpc.service.unavailable"


@pytest.fixture
def stub(sandbox):
    with grpc.insecure_channel(sandbox.world.config.grpc_target) as channel:
        yield pb2_grpc.PubSubStub(channel)


@pytest.fixture
def session(sandbox):
    return make_org(sandbox)


@pytest.fixture
def streams():
    """Subscribe streams opened by a test, cancelled at its end."""
    opened: list[SubscribeStream] = []
    yield opened
    for stream in opened:
        stream.close()


def subscribe(stub, session, streams, *, preset=pb2.LATEST, replay_id=b"", num_requested=10, metadata=None):
    first = pb2.FetchRequest(
        topic_name=TOPIC, replay_preset=preset, replay_id=replay_id, num_requested=num_requested
    )
    stream = SubscribeStream(stub, session, first, metadata=metadata)
    streams.append(stream)
    return stream


def codec_for(stub, session) -> Codec:
    topic = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    schema = stub.GetSchema(pb2.SchemaRequest(schema_id=topic.schema_id), metadata=session.metadata())
    return Codec(schema.schema_json)


def texts(codec, events) -> list[str]:
    return [codec.decode(e.event.payload)["Payload__c"] for e in events]


# --- GetTopic / GetSchema -----------------------------------------------------------------------


def test_get_topic_describes_the_orgs_platform_event(stub, session):
    info = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    assert info.topic_name == TOPIC
    assert info.tenant_guid == session.org_id
    assert info.can_publish and info.can_subscribe
    assert len(info.schema_id) == 22
    assert info.rpc_id
    again = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    assert again.schema_id == info.schema_id  # stable for an unchanged event
    assert again.rpc_id != info.rpc_id  # one per call


def test_get_schema_returns_the_avro_record_salesforce_sends(stub, session):
    info = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    schema_info = stub.GetSchema(pb2.SchemaRequest(schema_id=info.schema_id), metadata=session.metadata())
    assert schema_info.schema_id == info.schema_id and schema_info.rpc_id
    schema = json.loads(schema_info.schema_json)
    assert (schema["type"], schema["name"], schema["namespace"]) == ("record", EVENT, "com.sforce.eventbus")
    fields = {f["name"]: f for f in schema["fields"]}
    assert list(fields) == ["CreatedDate", "CreatedById", "EventType__c", "Payload__c"]
    assert fields["CreatedDate"] == {"name": "CreatedDate", "type": "long", "doc": "CreatedDate:DateTime"}
    assert fields["CreatedById"] == {"name": "CreatedById", "type": "string", "doc": "CreatedBy:EntityId"}
    assert fields["EventType__c"]["type"] == ["null", "string"] and fields["EventType__c"]["default"] is None
    assert fields["EventType__c"]["doc"].startswith("Data:Text:00N")
    assert fields["Payload__c"]["doc"].startswith("Data:LongTextArea:00N")


def test_schema_maps_salesforce_field_types_to_nullable_avro_types(sandbox, stub):
    fields = {"Amount__c": "Number", "Urgent__c": "Checkbox", "When__c": "DateTime", "Note__c": "Text"}
    session = make_org(sandbox, "00D8d000000PubT", events={"Typed__e": fields})
    info = stub.GetTopic(pb2.TopicRequest(topic_name="/event/Typed__e"), metadata=session.metadata())
    schema = json.loads(
        stub.GetSchema(pb2.SchemaRequest(schema_id=info.schema_id), metadata=session.metadata()).schema_json
    )
    types = {f["name"]: f["type"] for f in schema["fields"]}
    assert types == {
        "CreatedDate": "long",
        "CreatedById": "string",
        "Amount__c": ["null", "double"],
        "Urgent__c": ["null", "boolean"],
        "When__c": ["null", "long"],
        "Note__c": ["null", "string"],
    }


def test_get_schema_with_an_unknown_id_is_not_found(stub, session):
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetSchema(pb2.SchemaRequest(schema_id="nope"), metadata=session.metadata())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "rpcId:" in caught.value.details()


def test_get_schema_of_another_orgs_event_is_not_visible(sandbox, stub, session):
    other = make_org(sandbox, "00D8d000000PubB")
    other_schema = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=other.metadata()).schema_id
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetSchema(pb2.SchemaRequest(schema_id=other_schema), metadata=session.metadata())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


# --- authentication and authorization ---------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"accesstoken": "00D8d000000PubA!not-a-token"},
        {"accesstoken": None},
        {"tenantid": None},
        {"instanceurl": None},
    ],
    ids=["unknown-token", "no-token", "no-tenantid", "no-instanceurl"],
)
def test_bad_credentials_are_unauthenticated_with_salesforces_error_code(stub, session, overrides):
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata(**overrides))
    error = caught.value
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details().startswith("An authentication exception occurred.")
    assert trailer(error, "error-code") == AUTH_ERROR
    assert trailer(error, "rpc-id") and f"rpcId: {trailer(error, 'rpc-id')}" in error.details()


def test_revoked_token_is_unauthenticated(sandbox, stub, session):
    def revoke():
        sandbox.world.orgs.by_token(session.access_token)[1].revoked = True

    sandbox.call(revoke)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_token_without_api_or_interaction_api_scope_is_unauthenticated(sandbox, stub):
    session = make_org(sandbox, "00D8d000000PubS", scopes=("refresh_token",))
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_interaction_api_token_is_enough_for_pubsub(sandbox, stub):
    session = make_org(sandbox, "00D8d000000PubI", scopes=("interaction_api",))
    assert stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata()).can_subscribe


def test_tenant_id_of_another_org_is_permission_denied(sandbox, stub, session):
    other = make_org(sandbox, "00D8d000000PubB")
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata(tenantid=other.org_id))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_fifteen_character_tenant_id_is_accepted(stub, session):
    info = stub.GetTopic(
        pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata(tenantid=session.org_id[:15])
    )
    assert info.tenant_guid == session.org_id


@pytest.mark.parametrize(
    "topic", ["/event/Other_Org_Only__e", "/data/CaseChangeEvent", "Acme_Msg_Event__e", ""]
)
def test_topic_outside_the_org_is_permission_denied(sandbox, stub, session, topic):
    make_org(sandbox, "00D8d000000PubB", events={"Other_Org_Only__e": {"Payload__c": "LongTextArea"}})
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb2.TopicRequest(topic_name=topic), metadata=session.metadata())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "rpcId:" in caught.value.details()


def test_subscribe_to_a_topic_outside_the_org_is_permission_denied(stub, session, streams):
    stream = SubscribeStream(stub, session, pb2.FetchRequest(topic_name="/event/Nope__e", num_requested=1))
    streams.append(stream)
    assert stream.error().code() == grpc.StatusCode.PERMISSION_DENIED


def test_subscribe_with_a_bad_token_is_unauthenticated(stub, session, streams):
    stream = subscribe(stub, session, streams, metadata=session.metadata(accesstoken="bad"))
    error = stream.error()
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert trailer(error, "error-code") == AUTH_ERROR


# --- Subscribe: delivery, replay, flow control, keep-alive ------------------------------------


def test_subscribe_latest_receives_an_event_published_after_it(sandbox, stub, session, streams):
    codec = codec_for(stub, session)
    publish(sandbox, session, {"EventType__c": "Interaction", "Payload__c": "before"})
    stream = subscribe(stub, session, streams, num_requested=1)
    wait_for_subscribers(sandbox, session, 1)
    replay_id = publish(sandbox, session, {"EventType__c": "Interaction", "Payload__c": '{"text": "hi"}'})

    response = stream.next()
    assert len(response.events) == 1
    consumer_event = response.events[0]
    assert consumer_event.replay_id == replay_id and len(replay_id) == 8
    record = codec.decode(consumer_event.event.payload)
    assert record["EventType__c"] == "Interaction" and record["Payload__c"] == '{"text": "hi"}'
    assert record["CreatedById"] == session.user_id and record["CreatedDate"] > 1_600_000_000_000
    assert consumer_event.event.id
    assert response.latest_replay_id == replay_id
    assert response.pending_num_requested == 0
    assert response.rpc_id


def test_event_schema_id_matches_the_topic(sandbox, stub, session, streams):
    topic = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    stream = subscribe(stub, session, streams, num_requested=1)
    wait_for_subscribers(sandbox, session, 1)
    publish(sandbox, session, {"Payload__c": "x"})
    assert stream.events(1)[0].event.schema_id == topic.schema_id


def test_flow_control_never_sends_more_than_requested(sandbox, stub, session, streams):
    codec = codec_for(stub, session)
    stream = subscribe(stub, session, streams, num_requested=2)
    wait_for_subscribers(sandbox, session, 1)
    replay_ids = [publish(sandbox, session, {"Payload__c": f"m{i}"}) for i in range(5)]

    first = stream.events(2)
    assert texts(codec, first) == ["m0", "m1"]
    # The server owes nothing now, so what follows is a keep-alive that does not skip past m1.
    idle = stream.keepalive()
    assert idle.pending_num_requested == 0
    assert idle.latest_replay_id == replay_ids[1]

    stream.fetch(2)
    stream.fetch(5)  # requests add up: 7 outstanding, 3 events available
    rest = stream.events(3)
    assert texts(codec, rest) == ["m2", "m3", "m4"]
    assert [e.replay_id for e in rest] == replay_ids[2:]
    assert stream.keepalive().pending_num_requested == 4


def test_pending_num_requested_counts_down_per_batch(sandbox, stub, session, streams):
    stream = subscribe(stub, session, streams, num_requested=3)
    wait_for_subscribers(sandbox, session, 1)
    publish(sandbox, session, {"Payload__c": "a"})
    assert stream.next().pending_num_requested == 2


def test_subscribe_earliest_replays_every_retained_event(sandbox, stub, session, streams):
    codec = codec_for(stub, session)
    for text in ("one", "two", "three"):
        publish(sandbox, session, {"Payload__c": text})
    stream = subscribe(stub, session, streams, preset=pb2.EARLIEST, num_requested=10)
    assert texts(codec, stream.events(3)) == ["one", "two", "three"]
    assert stream.keepalive().pending_num_requested == 7


def test_resume_from_a_custom_replay_id_without_loss_or_duplicate(sandbox, stub, session, streams):
    codec = codec_for(stub, session)
    first = subscribe(stub, session, streams, num_requested=10)
    wait_for_subscribers(sandbox, session, 1)
    publish(sandbox, session, {"Payload__c": "a"})
    publish(sandbox, session, {"Payload__c": "b"})
    received = first.events(2)
    stored = received[-1].replay_id
    first.close()

    # Published while the subscriber is away.
    for text in ("c", "d", "e"):
        publish(sandbox, session, {"Payload__c": text})

    resumed = subscribe(stub, session, streams, preset=pb2.CUSTOM, replay_id=stored, num_requested=10)
    again = resumed.events(3)
    assert texts(codec, again) == ["c", "d", "e"]
    assert not {e.replay_id for e in received} & {e.replay_id for e in again}
    assert resumed.keepalive().latest_replay_id == again[-1].replay_id


def test_resume_from_a_keepalive_latest_replay_id_loses_nothing(sandbox, stub, session, streams):
    codec = codec_for(stub, session)
    publish(sandbox, session, {"Payload__c": "old"})
    stream = subscribe(stub, session, streams, num_requested=5)
    position = stream.keepalive().latest_replay_id
    stream.close()
    publish(sandbox, session, {"Payload__c": "new"})
    resumed = subscribe(stub, session, streams, preset=pb2.CUSTOM, replay_id=position, num_requested=5)
    assert texts(codec, resumed.events(1)) == ["new"]


@pytest.mark.parametrize("replay_id", [b"", b"\x00\x01\x02", b"\xff" * 8], ids=["empty", "short", "future"])
def test_invalid_custom_replay_id_fails_replay_id_validation(sandbox, stub, session, streams, replay_id):
    publish(sandbox, session, {"Payload__c": "x"})
    stream = subscribe(stub, session, streams, preset=pb2.CUSTOM, replay_id=replay_id)
    error = stream.error()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("The Replay ID validation failed.")
    assert trailer(error, "error-code") == REPLAY_CORRUPTED


def test_replay_id_outside_the_retention_window_fails_validation(sandbox, stub, session, streams):
    stored = publish(sandbox, session, {"Payload__c": "old"})
    publish(sandbox, session, {"Payload__c": "older than the window"})
    config = sandbox.world.config
    retention = config.event_retention_seconds

    def set_retention(seconds):
        config.event_retention_seconds = seconds

    sandbox.call(set_retention, 0)  # everything published so far is now past the window
    try:
        stream = subscribe(stub, session, streams, preset=pb2.CUSTOM, replay_id=stored)
        error = stream.error()
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert trailer(error, "error-code") == REPLAY_CORRUPTED
        assert sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT) == []
    finally:
        sandbox.call(set_retention, retention)


def test_replay_id_from_before_a_reset_is_refused(sandbox, stub, streams):
    session = make_org(sandbox)
    stored = publish(sandbox, session, {"Payload__c": "x"})
    publish(sandbox, session, {"Payload__c": "lost in the reset"})
    sandbox.call(sandbox.world.reset)
    session = make_org(sandbox)
    stream = subscribe(stub, session, streams, preset=pb2.CUSTOM, replay_id=stored)
    assert stream.error().code() == grpc.StatusCode.INVALID_ARGUMENT


def test_keepalive_arrives_with_the_latest_replay_id(sandbox, stub, session, streams):
    replay_id = publish(sandbox, session, {"Payload__c": "before"})
    stream = subscribe(stub, session, streams, num_requested=3)
    keepalive = stream.keepalive(timeout=3)  # keepalive_seconds is 0.5 in tests
    assert keepalive.latest_replay_id == replay_id
    assert keepalive.pending_num_requested == 3
    assert keepalive.rpc_id
    assert stream.keepalive(timeout=3).rpc_id == keepalive.rpc_id  # one rpc id per stream


def test_keepalive_on_an_empty_topic_carries_a_replay_id_to_resume_from(sandbox, stub, session, streams):
    stream = subscribe(stub, session, streams, num_requested=1)
    position = stream.keepalive().latest_replay_id
    assert len(position) == 8
    stream.close()
    publish(sandbox, session, {"Payload__c": "first ever"})
    resumed = subscribe(stub, session, streams, preset=pb2.CUSTOM, replay_id=position, num_requested=1)
    assert len(resumed.events(1)) == 1


def test_two_subscribers_both_receive_every_event(sandbox, stub, session, streams):
    codec = codec_for(stub, session)
    one = subscribe(stub, session, streams)
    two = subscribe(stub, session, streams)
    wait_for_subscribers(sandbox, session, 2)
    publish(sandbox, session, {"Payload__c": "p"})
    publish(sandbox, session, {"Payload__c": "q"})
    assert texts(codec, one.events(2)) == ["p", "q"]
    assert texts(codec, two.events(2)) == ["p", "q"]


def test_subscribers_of_two_orgs_see_only_their_own_events(sandbox, stub, session, streams):
    other = make_org(sandbox, "00D8d000000PubB")
    mine = subscribe(stub, session, streams)
    theirs = subscribe(stub, other, streams)
    wait_for_subscribers(sandbox, session, 1)
    wait_for_subscribers(sandbox, other, 1)
    publish(sandbox, other, {"Payload__c": "for B"})
    assert len(theirs.events(1)) == 1
    assert mine.keepalive().events == []


def test_changing_the_topic_in_a_later_fetch_request_is_invalid_argument(sandbox, stub, session, streams):
    stream = subscribe(stub, session, streams, num_requested=1)
    wait_for_subscribers(sandbox, session, 1)
    stream.fetch(1, topic_name="/event/Other__e")
    assert stream.error().code() == grpc.StatusCode.INVALID_ARGUMENT


def test_later_fetch_request_with_the_same_topic_is_accepted(sandbox, stub, session, streams):
    stream = subscribe(stub, session, streams, num_requested=0)
    wait_for_subscribers(sandbox, session, 1)
    publish(sandbox, session, {"Payload__c": "x"})
    stream.fetch(1, topic_name=TOPIC)
    assert len(stream.events(1)) == 1


def test_revoking_the_token_ends_an_open_stream(sandbox, stub, session, streams):
    stream = subscribe(stub, session, streams)
    wait_for_subscribers(sandbox, session, 1)

    def revoke():
        sandbox.world.orgs.by_token(session.access_token)[1].revoked = True

    sandbox.call(revoke)
    assert stream.error().code() == grpc.StatusCode.UNAUTHENTICATED


# --- faults -----------------------------------------------------------------------------------


def test_outage_fault_makes_rpcs_unavailable(sandbox, stub, session, streams):
    rule = sandbox.call(sandbox.world.faults.add, service="pubsub", outage=True)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert trailer(caught.value, "error-code") == UNAVAILABLE
    assert subscribe(stub, session, streams).error().code() == grpc.StatusCode.UNAVAILABLE

    sandbox.call(sandbox.world.faults.remove, rule.id)
    assert stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata()).can_subscribe


def test_outage_on_subscribe_drops_an_open_stream_and_resume_recovers(sandbox, stub, session, streams):
    codec = codec_for(stub, session)
    stream = subscribe(stub, session, streams)
    wait_for_subscribers(sandbox, session, 1)
    publish(sandbox, session, {"Payload__c": "before outage"})
    stored = stream.events(1)[0].replay_id

    rule = sandbox.call(sandbox.world.faults.add, service="pubsub", path="^/Subscribe$", outage=True)
    assert stream.error().code() == grpc.StatusCode.UNAVAILABLE
    publish(sandbox, session, {"Payload__c": "during outage"})
    # GetTopic is not covered by that rule.
    assert stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata()).can_subscribe
    sandbox.call(sandbox.world.faults.remove, rule.id)

    resumed = subscribe(stub, session, streams, preset=pb2.CUSTOM, replay_id=stored)
    assert texts(codec, resumed.events(1)) == ["during outage"]


def test_fault_status_429_maps_to_resource_exhausted(sandbox, stub, session):
    sandbox.call(sandbox.world.faults.add, service="pubsub", path="GetTopic", status=429)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_drop_route_closes_open_streams_with_unavailable(sandbox, sim, stub, session, streams):
    stream = subscribe(stub, session, streams)
    wait_for_subscribers(sandbox, session, 1)
    response = sim.post("/__sim/pubsub/drop", json={"org": session.org_id})
    assert response.status_code == 200 and response.json() == {"dropped": 1}
    assert stream.error().code() == grpc.StatusCode.UNAVAILABLE


# --- Publish / PublishStream ------------------------------------------------------------------


def _producer_event(codec, schema_id, payload_text, event_id="evt-1"):
    record = {"CreatedDate": 0, "CreatedById": "", "EventType__c": "Interaction", "Payload__c": payload_text}
    return pb2.ProducerEvent(id=event_id, schema_id=schema_id, payload=codec.encode(record))


def test_publish_rpc_stores_the_event_and_subscribers_receive_it(sandbox, stub, session, streams):
    codec = codec_for(stub, session)
    schema_id = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata()).schema_id
    stream = subscribe(stub, session, streams)
    wait_for_subscribers(sandbox, session, 1)
    response = stub.Publish(
        pb2.PublishRequest(topic_name=TOPIC, events=[_producer_event(codec, schema_id, "via grpc")]),
        metadata=session.metadata(),
    )
    assert response.schema_id == schema_id and response.rpc_id
    [result] = response.results
    assert not result.HasField("error") and len(result.replay_id) == 8 and result.correlation_key == "evt-1"
    [received] = stream.events(1)
    assert received.replay_id == result.replay_id and received.event.id == "evt-1"
    record = codec.decode(received.event.payload)
    assert record["Payload__c"] == "via grpc" and record["CreatedById"] == session.user_id
    assert sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT)[-1]["Payload__c"] == "via grpc"


def test_publish_rpc_reports_a_payload_that_does_not_fit_the_schema(stub, session):
    schema_id = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata()).schema_id
    bad = pb2.ProducerEvent(id="bad-1", schema_id=schema_id, payload=b"\x01\x02garbage")
    response = stub.Publish(pb2.PublishRequest(topic_name=TOPIC, events=[bad]), metadata=session.metadata())
    [result] = response.results
    assert result.error.code == pb2.PUBLISH and result.error.msg
    assert result.replay_id == b"" and result.correlation_key == "bad-1"


def test_publish_rpc_refuses_a_foreign_schema_id(stub, session):
    codec = codec_for(stub, session)
    event = _producer_event(codec, "not-the-schema-id", "x")
    [result] = stub.Publish(
        pb2.PublishRequest(topic_name=TOPIC, events=[event]), metadata=session.metadata()
    ).results
    assert result.error.code == pb2.PUBLISH


def test_publish_rpc_to_a_topic_outside_the_org_is_permission_denied(stub, session):
    with pytest.raises(grpc.RpcError) as caught:
        stub.Publish(pb2.PublishRequest(topic_name="/event/Nope__e"), metadata=session.metadata())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_publish_stream_answers_each_request(sandbox, stub, session):
    codec = codec_for(stub, session)
    schema_id = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata()).schema_id
    requests = [
        pb2.PublishRequest(topic_name=TOPIC, events=[_producer_event(codec, schema_id, "s1", "e1")]),
        pb2.PublishRequest(
            events=[_producer_event(codec, schema_id, "s2", "e2")]
        ),  # topic may be omitted later
    ]
    responses = list(stub.PublishStream(iter(requests), metadata=session.metadata(), timeout=10))
    assert [r.results[0].correlation_key for r in responses] == ["e1", "e2"]
    assert [e["Payload__c"] for e in sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT)] == [
        "s1",
        "s2",
    ]
