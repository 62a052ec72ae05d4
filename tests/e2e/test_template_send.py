"""A template from the panel, end to end with a real Celery worker: it is a row first, survives a provider
outage by retrying, reaches the phone, and its delivery and read reports come back to the panel. On a CCaaS
org it also lands in the Salesforce conversation under the agent's name."""

import httpx
import pytest

from relay.models import DeliveryAttempt, Message
from relay.outbound.template_sync import sync_sender
from tenants.models import Sender, WhatsAppTemplate
from tests.console.templates_panel_support import add_template, token
from tests.e2e.conftest import (
    CUSTOMER,
    console_sessions,
    customer_writes,
    phone_received,
    session_entries,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VALUES = {
    "header_media_url": "https://cdn.example.com/parcel.jpg",
    "body_1": "Frank",
    "url_1": "10234",
    "reply_1": "call-me",
}


def _session_of_customer(wired) -> str:
    customer_writes(wired.sim, "Hello, where is my parcel?")

    def found():
        sessions = console_sessions(wired.sim, wired.org_id)
        return [s for s in sessions if (s.get("endUserClientId") or "").lstrip("+") == CUSTOMER]

    return wait_for(found, what="the customer's Messaging Session")[0]["id"]


def _send_from_panel(wired, session_id: str) -> httpx.Response:
    whatsapp = Sender.objects.get(tenant=wired.tenant, channel="whatsapp")
    add_template(wired.sim)
    sync_sender(whatsapp)
    template = WhatsAppTemplate.objects.get(sender=whatsapp, name="delivery_update")
    return httpx.post(
        f"{wired.live_server.url}/console/templates/send/",
        data={"sender": whatsapp.pk, "customer": "+" + CUSTOMER, "template": template.pk, **VALUES},
        headers={"X-Console-Token": token(wired.tenant, session_id)},
        timeout=10,
    )


def test_template_survives_a_provider_outage_and_reports_read(wired):
    session_id = _session_of_customer(wired)
    outage = wired.sim.post(
        "/__sim/faults",
        json={"service": "infobip", "path": "/whatsapp/1/message/template", "status": 503, "outage": True},
    ).json()
    response = _send_from_panel(wired, session_id)
    assert response.status_code == 200, response.text
    message = Message.objects.get(kind="template")
    wait_for(
        lambda: DeliveryAttempt.objects.filter(message=message, outcome="transient").exists(),
        what="a failed attempt during the outage",
    )
    assert not [m for m in phone_received(wired.sim) if m["kind"] == "TEMPLATE"]
    wired.sim.delete(f"/__sim/faults/{outage['id']}")

    def on_phone():
        return [m for m in phone_received(wired.sim) if m["kind"] == "TEMPLATE"]

    shown = wait_for(on_phone, what="the template on the phone")[0]["rendered"]
    assert shown["body"] == "Hi Frank, your parcel is at the depot."
    message = wait_for(
        lambda: Message.objects.filter(pk=message.pk, status="read").first(), what="the read report"
    )
    assert message.delivered_at and message.read_at
    assert len(on_phone()) == 1  # retried, never duplicated
    history = httpx.get(
        f"{wired.live_server.url}/console/templates/history/",
        headers={"X-Console-Token": token(wired.tenant, session_id)},
        timeout=10,
    )
    assert 'data-status="read"' in history.text and "delivery_update" in history.text


def test_on_a_ccaas_org_the_template_joins_the_salesforce_conversation_as_the_agents(wired):
    wired.sandbox.call(lambda: setattr(wired.sandbox.world.orgs.get(wired.org_id), "ccaas_enabled", True))
    session_id = _session_of_customer(wired)
    assert _send_from_panel(wired, session_id).status_code == 200

    def recorded():
        entries = session_entries(wired.sim, wired.org_id, session_id)
        return [e for e in entries if (e.get("sender") or {}).get("role") == "Chatbot"]

    entry = wait_for(recorded, what="the template in the Salesforce conversation")[0]
    assert entry["senderDisplayName"] == "Ada Agent (WhatsApp template)"
    text = entry["entryPayload"]["abstractMessage"]["staticContent"]["text"]
    assert "Hi Frank, your parcel is at the depot." in text
    # The worker stores the entry id once Salesforce has answered, a moment after the sandbox shows the entry.
    message = wait_for(
        lambda: Message.objects.filter(kind="template", content__has_key="salesforce_history_entry").first(),
        what="the history entry stored on the message",
    )
    assert message.content["salesforce_history_entry"] == entry["identifier"]
