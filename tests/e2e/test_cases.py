"""The Cases desk end to end (issue 20): the sandbox (Salesforce with Change Data Capture on Case, Infobip),
Switchboard's web server, a real worker and relay_listen subscribed to /data/CaseChangeEvent.

One story: a WhatsApp message creates a Case routed to the Sales queue with the message on its feed; the
agent closes the Case and the customer gets the closing text; the next message reopens it (the window);
after a listener restart a status change reaches the customer once and nothing earlier is replayed twice;
a Salesforce outage delays the next message and loses nothing."""

from __future__ import annotations

import pytest

from relay.desks.cases_models import CaseLink
from relay.lines import wake
from relay.models import Conversation, Message
from tenants.models import RoutingRule, SalesforceConnection, Sender
from tests.e2e.conftest import CUSTOMER, WHATSAPP, agent_id, customer_writes, phone_received, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CLOSING = "Thanks for contacting Acme. This conversation is now closed."
WORKING = "An agent is looking at your request."


@pytest.fixture
def cases(wired):
    """The demo tenant on the Cases desk; the demo org has Case selected for Change Data Capture."""
    sim, org_id = wired.sim, wired.org_id
    assert (
        sim.post(f"/__sim/orgs/{org_id}/settings", json={"change_data_capture": ["Case"]}).status_code == 200
    )
    org = wired.sandbox.world.orgs.get(org_id)
    queue = wired.sandbox.call(lambda: org.records.first("Group", Name="Sales"))["Id"]
    connection = SalesforceConnection.objects.get(tenant=wired.tenant)
    connection.desk = SalesforceConnection.Desk.CASES
    connection.case_reopen_hours = 24
    connection.case_status_texts = {"Working": WORKING}
    connection.save()  # through save(): the listener's cursor moves to the new topic from now
    wired.tenant.closing_text = CLOSING
    wired.tenant.save()
    sender = Sender.objects.get(tenant=wired.tenant, channel="whatsapp", address__endswith=WHATSAPP)
    RoutingRule.objects.filter(sender=sender).delete()  # the demo's "leave it to the channel" rule
    RoutingRule.objects.create(
        tenant=wired.tenant, sender=sender, target_type=RoutingRule.Target.QUEUE, target_id=queue
    )
    wired.queue, wired.org = queue, org
    return wired


def cases_of(wired) -> list[dict]:
    return wired.sandbox.call(
        lambda: [dict(r) for r in wired.org.records.filter("Case", SuppliedPhone="+" + CUSTOMER)]
    )


def feed_of(wired, case_id: str) -> list[str]:
    return [
        item["body"]
        for item in wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/cases/{case_id}").json()["feed"]
    ]


def texts_on_phone(wired) -> list[str]:
    return [m["content"].get("text") for m in phone_received(wired.sim) if m["content"].get("text")]


def agent_saves(wired, case_id: str, **values) -> None:
    body = {"agent": agent_id(wired.sim, wired.org_id), **values}
    response = wired.sim.post(f"/__sim/console/api/orgs/{wired.org_id}/cases/{case_id}", json=body)
    assert response.status_code == 200, response.text


def test_a_whatsapp_conversation_as_a_case(cases, listener):
    customer_writes(cases.sim, "My parcel 1234 has not arrived")
    [case] = wait_for(lambda: cases_of(cases), what="the Case")
    assert case["OwnerId"] == cases.queue and case["Origin"] == "WhatsApp"
    assert case["Subject"] == "WhatsApp: My parcel 1234 has not arrived"
    wait_for(
        lambda: any("My parcel 1234" in body for body in feed_of(cases, case["Id"])), what="the feed item"
    )

    agent_saves(cases, case["Id"], Status="Closed")
    wait_for(lambda: CLOSING in texts_on_phone(cases), what="the closing text on the phone")
    wait_for(
        lambda: f"Switchboard to the customer:\n{CLOSING}" in feed_of(cases, case["Id"]),
        what="the closing text on the Case's feed (written by the worker)",
    )
    conversation = Conversation.objects.get(tenant=cases.tenant, customer="+" + CUSTOMER)
    wait_for(
        lambda: Conversation.objects.get(pk=conversation.pk).status == "closed", what="the conversation end"
    )

    customer_writes(cases.sim, "One more question")
    wait_for(lambda: not CaseLink.objects.get(case_id=case["Id"]).is_closed, what="the Case reopened")
    assert len(cases_of(cases)) == 1
    wait_for(
        lambda: any("One more question" in body for body in feed_of(cases, case["Id"])), what="the feed item"
    )

    listener.restart()  # resumes from its cursor: the close above must not be applied again
    agent_saves(cases, case["Id"], Status="Working")
    wait_for(lambda: WORKING in texts_on_phone(cases), what="the status text on the phone")
    texts = texts_on_phone(cases)
    assert texts.count(CLOSING) == 1 and texts.count(WORKING) == 1

    fault = cases.sim.post(
        "/__sim/faults", json={"service": "core", "path": "sobjects", "outage": True}
    ).json()
    customer_writes(cases.sim, "Hello? Anyone?")
    waiting = wait_for(
        lambda: Message.objects.filter(text="Hello? Anyone?", attempts__gte=1, status="pending").first(),
        what="the message held while Salesforce is away",
    )
    assert "will retry" in waiting.last_error
    cases.sim.delete(f"/__sim/faults/{fault['id']}")
    Message.objects.filter(pk=waiting.pk).update(next_attempt_at=None)  # the sweeper's next pass, now
    wake.inbound_line(conversation.pk)
    wait_for(
        lambda: any("Hello? Anyone?" in b for b in feed_of(cases, case["Id"])),
        timeout=40,
        what="the held message",
    )
    bodies = feed_of(cases, case["Id"])
    assert sum("Hello? Anyone?" in b for b in bodies) == 1 and len(cases_of(cases)) == 1
