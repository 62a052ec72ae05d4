"""Sandbox fidelity found with independent clients (a plain gRPC client, plain HTTP): each behaves as the
vendor documents (sources in sandbox/README.md, "Fidelity notes")."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import grpc
import httpx
import pytest

from pubsub_api import pb2, pb2_grpc
from tests.e2e.conftest import wait_for
from tests.sandbox.pubsub_support import TOPIC, SubscribeStream, make_org, publish, wait_for_subscribers
from tests.sandbox.scrt_support import Salesforce, text_interaction

# --- Pub/Sub: num_requested above 100 counts as 100 ---------------------------------------------------------


@pytest.fixture
def stub(sandbox):
    with grpc.insecure_channel(sandbox.world.config.grpc_target) as channel:
        yield pb2_grpc.PubSubStub(channel)


@pytest.fixture
def stream(sandbox, stub):
    session = make_org(sandbox)
    opened = SubscribeStream(stub, session, pb2.FetchRequest(topic_name=TOPIC, num_requested=500))
    wait_for_subscribers(sandbox, session, 1)
    yield session, opened
    opened.close()


def test_num_requested_above_100_is_taken_as_100(sandbox, stream):
    session, subscription = stream
    assert subscription.keepalive().pending_num_requested == 100
    for index in range(101):
        publish(sandbox, session, {"Payload__c": f"m{index}"})
    assert len(subscription.events(100)) == 100
    assert subscription.keepalive().pending_num_requested == 0  # the 101st waits for the next request
    subscription.fetch(1)
    assert len(subscription.events(1)) == 1


def test_later_requests_add_up_to_at_most_100(sandbox, stream):
    session, subscription = stream
    for index in range(40):
        publish(sandbox, session, {"Payload__c": f"m{index}"})
    assert len(subscription.events(40)) == 40
    assert subscription.keepalive().pending_num_requested == 60
    subscription.fetch(80)  # 60 owed + 80 asked: 100, not 140
    assert subscription.keepalive().pending_num_requested == 100


# --- faults: clearing them while an answer is held ------------------------------------------------------------


def test_clearing_faults_while_an_answer_is_held_delivers_that_answer(sandbox, sim):
    plain = sim.get("/sim/infobip/numbers/1/numbers")  # the answer without faults (no key: Infobip's 401)
    sim.post(
        "/__sim/faults",
        json={"service": "infobip", "latency_ms": 1500, "delay_response": True, "error_rate": 0},
    )
    held: dict = {}

    def call() -> None:
        with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
            held["response"] = client.get("/sim/infobip/numbers/1/numbers")

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: sim.get("/__sim/faults/delayed").json().get("infobip"), what="the answer held")
    assert sim.delete("/__sim/faults").status_code == 200
    caller.join(timeout=10)
    assert held["response"].status_code == plain.status_code
    assert held["response"].json() == plain.json()
    assert sim.get("/__sim/faults/delayed").json().get("infobip") == 0  # counted out, not crashed
    assert sim.get("/sim/infobip/numbers/1/numbers").status_code == plain.status_code  # still serving


# --- Interaction Service: timestamp is epoch milliseconds -------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp, shown_date",
    [
        (int(time.time() * 1000), datetime.now(UTC).strftime("%Y-%m-%d")),
        (int(time.time()), "1970-01-"),  # seconds read as milliseconds: January 1970, as in a real org
    ],
    ids=["milliseconds", "seconds"],
)
def test_interaction_timestamp_is_read_as_milliseconds(sandbox, sim, timestamp, shown_date):
    sf = Salesforce(sandbox, sim)
    data = text_interaction("When was this?")
    data["interactions"][0]["timestamp"] = timestamp
    assert sf.post_interaction(data).status_code == 202
    query = "SELECT EntryTime, Message FROM ConversationEntry WHERE ActorType = 'EndUser'"
    records = sim.get(
        "/sim/core/services/data/v63.0/query",
        params={"q": query},
        headers={"Authorization": f"Bearer {sf.token}"},
    ).json()["records"]
    assert [r["EntryTime"][: len(shown_date)] for r in records] == [shown_date]
    [session] = sim.get(sf.api("/sessions")).json()
    transcript = sim.get(
        "/__sim/console/fragments/transcript", params={"org": sf.org_id, "session": session["id"]}
    ).text
    if shown_date.startswith("1970"):
        assert "· 1970-01-" in transcript  # the console shows the date of an entry not sent today
    else:
        assert "· 1970-" not in transcript and "When was this?" in transcript
