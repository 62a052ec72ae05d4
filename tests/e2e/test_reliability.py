"""Never lose, never duplicate: replays, a listener restart, a Salesforce outage, a killed worker."""

import json
import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from relay.inbound.auth import expected_signature
from relay.models import Conversation, Message
from relay.tasks import sweep
from tests.e2e.conftest import (
    agent_replies,
    console_sessions,
    customer_entries,
    customer_writes,
    entry_texts,
    open_session,
    phone_received,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def delivered_inbound(count: int):
    return lambda: Message.objects.filter(direction="in", status="delivered").count() >= count


def test_the_same_webhook_twice_gives_one_entry_in_salesforce(wired):
    customer_writes(wired.sim, "Only once, please")
    wait_for(delivered_inbound(1), what="the first delivery")
    delivery = next(d for d in wired.sim.get("/__sim/infobip/webhooks", params={"kind": "MO"}).json())
    body = json.dumps(delivery["body"]).encode()
    again = httpx.post(
        delivery["url"],
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": expected_signature("demo-webhook-secret", body),
        },
    )
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    session = console_sessions(wired.sim, wired.org_id)[0]
    assert entry_texts(customer_entries(wired, session["id"])) == ["Only once, please"]
    assert Message.objects.filter(direction="in").count() == 1


def test_a_listener_restart_loses_and_duplicates_no_agent_message(wired, listener):
    session, ada = open_session(wired, "Tell me everything", customer="385919998810")
    expected = [f"Part {n}" for n in range(1, 7)]
    for text in expected[:2]:
        agent_replies(wired, session, ada, text=text)
    listener.stop()  # down while the agent keeps typing: events wait in the Pub/Sub retention
    for text in expected[2:4]:
        agent_replies(wired, session, ada, text=text)
    listener.start()
    for text in expected[4:]:
        agent_replies(wired, session, ada, text=text)

    def parts_on_phone():
        return [
            m["content"].get("text")
            for m in phone_received(wired.sim, "385919998810")
            if (m["content"].get("text") or "").startswith("Part ")
        ]

    wait_for(lambda: len(parts_on_phone()) >= 6, timeout=30, what="all six parts on the phone")
    assert parts_on_phone() == expected  # each once, in the order the agent sent them


def test_salesforce_down_for_a_minute_then_everything_arrives_in_order(wired):
    rule = wired.sim.post("/__sim/faults", json={"service": "scrt", "status": 503, "outage": True}).json()
    texts = [f"Message {n} during the outage" for n in range(1, 4)]
    for text in texts:
        customer_writes(wired.sim, text, customer="385919998811")
    wait_for(lambda: Message.objects.filter(direction="in").count() == 3, what="three stored messages")
    outage_ends = time.monotonic() + 60
    wait_for(
        lambda: Message.objects.filter(direction="in", attempts__gte=2).exists(),
        what="retries during the outage",
    )
    assert not Message.objects.filter(direction="in", status="delivered").exists()
    wait_for(lambda: time.monotonic() >= outage_ends, timeout=70, interval=1, what="the end of the outage")
    assert not Message.objects.filter(direction="in", status="failed").exists()  # still trying, not given up
    wired.sim.delete(f"/__sim/faults/{rule['id']}")

    wait_for(delivered_inbound(3), timeout=30, what="delivery after the outage")
    session = console_sessions(wired.sim, wired.org_id)[0]
    assert entry_texts(customer_entries(wired, session["id"])) == texts


def test_a_worker_killed_mid_delivery_delivers_exactly_once(wired):
    wired.sim.post(
        "/__sim/faults",
        json={
            "service": "scrt",
            "path": "/interactions",
            "latency_ms": 3000,
            "error_rate": 0,
            "delay_response": True,
        },
    )
    customer_writes(wired.sim, "Are you there?", customer="385919998812")
    wait_for(
        lambda: wired.sim.get("/__sim/faults/delayed").json().get("scrt"),
        what="the call to Salesforce in flight",
    )
    wired.worker.kill()  # SIGKILL while Salesforce is taking the message
    wired.sim.delete("/__sim/faults")
    message = Message.objects.get(direction="in")
    assert message.status == "pending"  # we never heard Salesforce's answer

    def salesforce_has_it():
        sessions = console_sessions(wired.sim, wired.org_id)
        return sessions and entry_texts(customer_entries(wired, sessions[0]["id"]))

    assert wait_for(salesforce_has_it, what="Salesforce to finish the call") == ["Are you there?"]
    wired.worker.start()
    wait_for(
        lambda: not Conversation.objects.filter(inbound_lease_until__gt=timezone.now()).exists(),
        timeout=15,
        what="the dead worker's lease to expire",
    )
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    sweep.delay()  # what the periodic sweeper does
    wait_for(delivered_inbound(1), what="the sweeper to finish the delivery")
    session = console_sessions(wired.sim, wired.org_id)[0]
    assert entry_texts(customer_entries(wired, session["id"])) == ["Are you there?"]  # once, not twice


def test_free_text_outside_the_24_hour_window_is_refused_with_the_reason_in_the_console(wired, listener):
    session, ada = open_session(wired, "Hello", customer="385919998813")
    Conversation.objects.filter(customer="+385919998813").update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )
    agent_replies(wired, session, ada, text="Sorry for the late answer")

    def failures():
        return wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/delivery-failures").json()

    failure = wait_for(failures, what="MessageDeliveryFailed in Salesforce")[0]
    assert "24 hours" in failure["errorMessage"] and "template" in failure["errorMessage"]
    assert failure["errorCode"] == "OUTSIDE_24H_WINDOW"
    assert not [
        m
        for m in phone_received(wired.sim, "385919998813")
        if m["content"].get("text") == "Sorry for the late answer"
    ]
