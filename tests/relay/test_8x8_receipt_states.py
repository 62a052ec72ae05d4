"""8x8 receipts that are not the end of the road change nothing the agent sees: WhatsApp's
``delivered_to_operator`` (sent "before the message reaches WhatsApp", delivery-receipts-for-outbound-chatapps.mdx
v9) and the ``unknown`` state ("exceptional/intermediate", MessageStatus.state in business_messaging_api.json)
were a Delivered acknowledgement and a permanent failure with a MessageDeliveryFailed to the agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relay.inbound.ingest import ingest
from relay.models import Conversation, Message, SalesforceNotice
from relay.providers.eightbyeight.parser import parse_webhook
from tests.api.conftest import make_message
from tests.factories import make_account, make_sender, make_tenant

FIXTURES = Path(__file__).resolve().parents[2] / "relay" / "providers" / "eightbyeight" / "fixtures"
UMID = "82188ee0-109f-e811-8150-020897df5459"  # the fixtures' umid


def receipt(name: str, **status) -> dict:
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    body["payload"]["status"].update(status)
    return body


@pytest.fixture
def sent_message(db):
    tenant = make_tenant()
    account = make_account(tenant, provider="8x8", name="Acme 8x8", base_url="https://chatapps.8x8.com")
    sender = make_sender(account, address="ec36a867-3dd4-e911-814a-02d85f55fce8")
    conversation = Conversation.objects.create(tenant=tenant, sender=sender, customer="+447400123456")
    message = make_message(
        conversation,
        direction=Message.Direction.OUTBOUND,
        provider="8x8",
        provider_message_id=UMID,
        status=Message.Status.SENT,
        content={"entry_identifier": "agent-entry-1", "text": "Hi"},
    )
    return account, message


@pytest.mark.parametrize(
    "body",
    [
        receipt("receipt_whatsapp_delivered_to_operator"),
        receipt("receipt_whatsapp_undelivered", state="unknown", detail="", errorCode=0, errorMessage=""),
    ],
    ids=["whatsapp delivered_to_operator", "unknown"],
)
def test_an_intermediate_receipt_leaves_the_message_sent_and_tells_salesforce_nothing(sent_message, body):
    account, message = sent_message
    ingest(account, parse_webhook(body))
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.delivered_at is None
    assert not SalesforceNotice.objects.filter(message=message).exists()
    # The recipient's receipt that follows is the one that counts.
    ingest(account, parse_webhook(receipt("receipt_whatsapp_delivered")))
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert list(SalesforceNotice.objects.filter(message=message).values_list("kind", flat=True)) == [
        SalesforceNotice.Kind.DELIVERED
    ]
