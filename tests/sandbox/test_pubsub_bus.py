"""The event bus as other simulators use it (publish on the loop) and its JSON control routes."""

from __future__ import annotations

import pytest

from sandbox.pubsub.avro import EventSchema, PayloadError
from sandbox.pubsub.bus import UnknownTopic, decode_replay_id, encode_replay_id
from tests.sandbox.pubsub_support import EVENT, make_org, publish


def test_publish_returns_an_8_byte_big_endian_replay_id_and_keeps_the_event(sandbox):
    session = make_org(sandbox)
    first = publish(sandbox, session, {"EventType__c": "Interaction", "Payload__c": "{}"})
    second = publish(sandbox, session, {"Payload__c": "x"})
    assert len(first) == len(second) == 8
    assert int.from_bytes(second, "big") > int.from_bytes(first, "big")
    events = sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT)
    assert [e["Payload__c"] for e in events] == ["{}", "x"]
    assert events[0]["EventType__c"] == "Interaction" and events[1]["EventType__c"] is None
    assert events[0]["CreatedById"] == session.user_id


def test_publish_refuses_unknown_fields_and_wrong_types(sandbox):
    session = make_org(sandbox)
    with pytest.raises(PayloadError, match="Bogus__c"):
        publish(sandbox, session, {"Bogus__c": "x"})
    with pytest.raises(PayloadError):
        publish(sandbox, session, {"Payload__c": 42})
    assert sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT) == []


def test_publish_to_an_event_the_org_does_not_define_is_refused(sandbox):
    session = make_org(sandbox)
    with pytest.raises(UnknownTopic):
        publish(sandbox, session, {"Payload__c": "x"}, event="Missing__e")
    with pytest.raises(UnknownTopic):
        sandbox.call(sandbox.world.pubsub.publish, "00D000000000001", EVENT, {}, created_by_id="005")


def test_reset_forgets_events(sandbox):
    session = make_org(sandbox)
    publish(sandbox, session, {"Payload__c": "x"})
    sandbox.call(sandbox.world.pubsub.reset)
    assert sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT) == []


def test_replay_id_encoding_round_trips_and_refuses_other_lengths():
    assert encode_replay_id(258) == b"\x00\x00\x00\x00\x00\x00\x01\x02"
    assert decode_replay_id(encode_replay_id(2**40 + 7)) == 2**40 + 7
    assert decode_replay_id(b"\x01\x02") is None


def test_identical_event_definitions_share_a_schema_id():
    fields = {"EventType__c": "Text", "Payload__c": "LongTextArea"}
    one = EventSchema.build("00D8d000000PubA", EVENT, fields)
    same = EventSchema.build("00D8d000000PubA", EVENT, dict(fields))
    changed = EventSchema.build("00D8d000000PubA", EVENT, {**fields, "Extra__c": "Text"})
    assert one.schema_id == same.schema_id != changed.schema_id


def test_schema_follows_a_new_field_on_the_event(sandbox):
    session = make_org(sandbox)
    before = sandbox.call(sandbox.world.pubsub.schema, session.org_id, EVENT).schema_id

    def add_field():
        sandbox.world.orgs.get(session.org_id).platform_events[EVENT].fields["Channel__c"] = "Text"

    sandbox.call(add_field)
    publish(sandbox, session, {"Channel__c": "whatsapp"})
    after = sandbox.call(sandbox.world.pubsub.schema, session.org_id, EVENT).schema_id
    assert after != before
    assert sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT)[-1]["Channel__c"] == "whatsapp"


def test_decode_refuses_trailing_bytes():
    schema = EventSchema.build("00D8d000000PubA", EVENT, {"Payload__c": "LongTextArea"})
    payload = schema.encode({"CreatedDate": 1, "CreatedById": "005", "Payload__c": None})
    assert schema.decode(payload)["CreatedById"] == "005"
    with pytest.raises(PayloadError, match="trailing"):
        schema.decode(payload + b"\x00")


# --- JSON control routes ------------------------------------------------------------------------


def test_events_route_lists_retained_events(sandbox, sim):
    session = make_org(sandbox)
    replay_id = publish(sandbox, session, {"EventType__c": "Interaction", "Payload__c": "hello"})
    response = sim.get("/__sim/pubsub/events", params={"org": session.org_id, "event": EVENT})
    assert response.status_code == 200
    [event] = response.json()
    assert event["replay_id"] == replay_id.hex()
    assert event["fields"]["Payload__c"] == "hello" and event["event_id"] and event["schema_id"]


def test_events_route_accepts_the_15_character_org_id(sandbox, sim):
    session = make_org(sandbox)
    publish(sandbox, session, {"Payload__c": "x"})
    response = sim.get("/__sim/pubsub/events", params={"org": session.org_id[:15], "event": EVENT})
    assert len(response.json()) == 1


def test_events_route_for_an_unknown_event_is_404(sandbox, sim):
    session = make_org(sandbox)
    response = sim.get("/__sim/pubsub/events", params={"org": session.org_id, "event": "Nope__e"})
    assert response.status_code == 404 and "Nope__e" in response.json()["error"]


def test_events_route_publishes_an_event(sandbox, sim):
    session = make_org(sandbox)
    response = sim.post(
        "/__sim/pubsub/events",
        json={
            "org": session.org_id,
            "event": EVENT,
            "fields": {"EventType__c": "Interaction", "Payload__c": "p"},
        },
    )
    assert response.status_code == 201 and len(bytes.fromhex(response.json()["replay_id"])) == 8
    [event] = sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT)
    assert event["Payload__c"] == "p" and event["CreatedById"] == session.user_id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"org": "00D000000000001", "event": EVENT, "fields": {}}, 404),
        ({"event": EVENT, "fields": {}}, 404),
        ({"org": None, "event": "Nope__e", "fields": {}}, 404),
        ({"org": None, "event": EVENT, "fields": {"Bogus__c": "x"}}, 400),
        ({"org": None, "event": EVENT, "fields": ["not", "a", "dict"]}, 400),
    ],
    ids=["unknown-org", "no-org", "unknown-event", "unknown-field", "fields-not-object"],
)
def test_events_route_refuses_bad_publishes(sandbox, sim, body, status):
    session = make_org(sandbox)
    if "org" in body and body["org"] is None:
        body = {**body, "org": session.org_id}
    response = sim.post("/__sim/pubsub/events", json=body)
    assert response.status_code == status and response.json()["error"]
    assert sandbox.call(sandbox.world.pubsub.events, session.org_id, EVENT) == []


def test_events_route_refuses_malformed_json(sim):
    response = sim.post("/__sim/pubsub/events", content=b"{nope")
    assert response.status_code == 400


def test_drop_route_for_an_unknown_org_is_404(sim):
    assert sim.post("/__sim/pubsub/drop", json={"org": "00D000000000001"}).status_code == 404
    assert sim.post("/__sim/pubsub/drop", json={}).json() == {"dropped": 0}
