"""8x8 Chat Apps through the whole product (real worker, listener, webhook): SMS, Viber and WhatsApp customers
chat with a sandbox agent both ways, media and receipts included; a WhatsApp free text outside the 24-hour
window is refused with the reason the agent sees; a replayed webhook changes nothing; a wrong Authorization
value gets 401 and no row."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from relay.models import Message
from tenants.models import ProviderAccount, Sender
from tests.e2e.conftest import (
    agent_id,
    agent_replies,
    console_sessions,
    customer_entries,
    entry_texts,
    session_entries,
    wait_for,
)
from tests.relay.eightbyeight_support import ACCOUNT_ID, KEY, SMS, SUB, VIBER, WA, simulator_account

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
CHANNEL_IDS = {"whatsapp": WA, "viber": VIBER, "sms": SMS}


@pytest.fixture
def eight(wired):
    """The demo tenant's 8x8 account (its senders feed the demo org's Messaging channels), and the same
    account in the simulator, its webhooks pointed at Switchboard with the account's Basic value."""
    demo_senders = {s.channel: s for s in Sender.objects.filter(tenant=wired.tenant)}
    account = ProviderAccount(
        tenant=wired.tenant,
        provider="8x8",
        name="Acme 8x8",
        base_url=f"{wired.sandbox.base_url}/sim/8x8",
        api_key=KEY,
        subaccount_id=SUB,
        provider_account_id=ACCOUNT_ID,
        webhook_auth=ProviderAccount.WebhookAuth.BASIC,
    )
    secret = account.rotate_webhook_credentials()
    account.full_clean()
    account.save()
    for channel, channel_id in CHANNEL_IDS.items():
        Sender.objects.create(
            tenant=wired.tenant,
            account=account,
            channel=channel,
            address=channel_id,
            display_name=f"Acme 8x8 {channel}",
            channel_address_identifier=demo_senders[channel].channel_address_identifier,
        )
    authorization = "Basic " + base64.b64encode(f"{account.webhook_username}:{secret}".encode()).decode()
    url = f"{wired.live_server.url}{account.webhook_path}"
    simulator_account(wired.sim, url, authorization)
    wired.account, wired.authorization, wired.webhook_url = account, authorization, url
    return wired


def writes(wired, channel: str, customer: str, **spec) -> dict:
    body = {"channel_id": CHANNEL_IDS[channel], "from": customer, **spec}
    response = wired.sim.post("/__sim/8x8/inbound", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def accepted_session(wired, customer: str) -> tuple[dict, str]:
    def waiting():
        return [s for s in console_sessions(wired.sim, wired.org_id) if s.get("endUserClientId") == customer]

    session = wait_for(waiting, what="a waiting session for the 8x8 customer")[0]
    ada = agent_id(wired.sim, wired.org_id)
    response = wired.sim.post(
        f"/__sim/console/api/orgs/{wired.org_id}/sessions/{session['id']}/accept", json={"agent": ada}
    )
    assert response.status_code == 200, response.text
    return session, ada


def sent_by_8x8(wired, customer: str) -> list[dict]:
    return [
        m
        for m in wired.sim.get("/__sim/8x8/messages").json()
        if m["direction"] == "out" and m["customer"] == customer
    ]


def acknowledgements(wired) -> set[tuple[str, str]]:
    rows = wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/acknowledgements").json()
    return {(row["acknowledgedEntryIdentifier"], row["type"]) for row in rows}


@pytest.mark.parametrize(
    ("channel", "customer"),
    [("whatsapp", "+447400123451"), ("viber", "+447400123452"), ("sms", "+447400123453")],
)
def test_text_both_ways_with_receipts(eight, listener, channel, customer):
    writes(eight, channel, customer, text=f"Hello over 8x8 {channel}")
    session, ada = accepted_session(eight, customer)
    assert wait_for(
        lambda: entry_texts(customer_entries(eight, session["id"])), what="the customer's text"
    ) == [f"Hello over 8x8 {channel}"]
    reply = agent_replies(eight, session, ada, text=f"Answer over 8x8 {channel}")

    def answered():
        return [
            m
            for m in sent_by_8x8(eight, customer)
            if m["content"].get("text") == f"Answer over 8x8 {channel}"
        ]

    [sent] = wait_for(answered, what="the agent's answer at 8x8")
    assert sent["channel"] == channel and sent["channelId"] == CHANNEL_IDS[channel]
    wait_for(lambda: sent_by_8x8(eight, customer)[-1]["state"] == "delivered", what="8x8's delivered receipt")
    assert eight.sim.post(f"/__sim/8x8/messages/{sent['umid']}/read").status_code == 200
    identifier = reply.get("identifier") or reply.get("id")
    wait_for(
        lambda: {(identifier, "Delivered"), (identifier, "Read")} <= acknowledgements(eight),
        what="Delivered and Read in Salesforce",
    )
    row = Message.objects.get(direction="out", text=f"Answer over 8x8 {channel}")
    assert row.status == "read" and row.provider_message_id == sent["umid"]


def test_media_both_ways(eight, listener):
    customer = "+447400123454"
    media = {"content_b64": base64.b64encode(PNG).decode(), "mime_type": "image/png", "filename": "box.png"}
    writes(eight, "whatsapp", customer, type="Image", text="the damaged box", media=media)
    session, ada = accepted_session(eight, customer)

    def files():
        return [e for e in session_entries(eight.sim, eight.org_id, session["id"]) if e.get("files")]

    entry = wait_for(files, what="the customer's image in Salesforce")[0]
    assert entry["files"][0].get("mimeType", entry["files"][0].get("mime_type")) == "image/png"
    agent_replies(
        eight,
        session,
        ada,
        text="Here it is",
        attachment={
            "name": "invoice.pdf",
            "mimeType": "application/pdf",
            "contentBase64": base64.b64encode(b"%PDF-1.4 invoice").decode(),
        },
    )
    sent = wait_for(
        lambda: [m for m in sent_by_8x8(eight, customer) if m["type"] == "file"],
        what="the agent's file at 8x8",
    )
    assert "/sim/files/" in sent[0]["content"]["url"]


def test_whatsapp_free_text_outside_the_window_is_refused_with_the_reason(eight, listener):
    customer = "+447400123455"
    writes(eight, "whatsapp", customer, text="Hi, one question")
    session, ada = accepted_session(eight, customer)
    wait_for(lambda: entry_texts(customer_entries(eight, session["id"])), what="the customer's text")
    window = {"sub_account_id": SUB, "channel_id": WA, "customer": customer, "hours": 25}
    assert eight.sim.post("/__sim/8x8/window", json=window).status_code == 200
    reply = agent_replies(eight, session, ada, text="Sorry for the wait")
    identifier = reply.get("identifier") or reply.get("id")

    def failures():
        rows = eight.sim.get(f"/__sim/console/api/orgs/{eight.org_id}/delivery-failures").json()
        return [row for row in rows if row["failedEntryIdentifier"] == identifier]

    [failure] = wait_for(failures, what="MessageDeliveryFailed in Salesforce")
    assert "24 hours" in failure["errorMessage"] and "Send a template instead" in failure["errorMessage"]
    row = Message.objects.get(direction="out", text="Sorry for the wait")
    assert row.status == Message.Status.FAILED


def _delivered_inbound(eight) -> dict | None:
    deliveries = eight.sim.get("/__sim/8x8/deliveries").json()
    return next((d for d in deliveries if d["kind"] == "MSG" and d["state"] == "delivered"), None)


def test_a_replayed_webhook_changes_nothing(eight):
    writes(eight, "viber", "+447400123456", text="only once")
    delivery = wait_for(lambda: _delivered_inbound(eight), what="the webhook")
    # settled first: the worker delivers the row to Salesforce (and sends the welcome text) meanwhile
    wait_for(
        lambda: Message.objects.filter(text="only once", status="delivered").count() == 1,
        what="the row delivered to Salesforce",
    )
    rows = Message.objects.filter(direction="in").count()
    before = list(Message.objects.filter(text="only once").values_list("pk", "status", "text", "attempts"))
    raw = json.dumps(delivery["body"]).encode()
    headers = {"Authorization": eight.authorization, "Content-Type": "application/json"}
    for _ in range(2):
        again = httpx.post(eight.webhook_url, content=raw, headers=headers, timeout=10)
        assert again.status_code == 200 and again.json()["duplicates"] == 1 and again.json()["accepted"] == 0
    assert Message.objects.filter(direction="in").count() == rows
    assert (
        list(Message.objects.filter(text="only once").values_list("pk", "status", "text", "attempts"))
        == before
    )


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic d3Jvbmc6d3Jvbmc=", "Bearer something", "Basic !!!", "basic"],
)
def test_a_wrong_authorization_value_gets_401_and_no_row(eight, authorization):
    body = {
        "version": 3,
        "namespace": "ChatApps",
        "eventType": "inbound_message_received",
        "payload": {
            "umid": "d2ad0a0e-4a5d-4a3b-9c1e-6f7a8b9c0d1e",
            "subAccountId": SUB,
            "user": {"msisdn": "+447400123457"},
            "recipient": {"channel": "sms", "channelId": SMS},
            "type": "Text",
            "content": {"text": "forged"},
        },
    }
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.post(eight.webhook_url, json=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert not Message.objects.filter(text="forged").exists()
