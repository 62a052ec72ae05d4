"""8x8 receipts that are not the end of the road change nothing the agent sees: WhatsApp's
``delivered_to_operator`` (sent "before the message reaches WhatsApp", delivery-receipts-for-outbound-chatapps.mdx
v9) and the ``unknown`` state ("exceptional/intermediate", MessageStatus.state in business_messaging_api.json)
were a Delivered acknowledgement and a permanent failure with a MessageDeliveryFailed to the agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relay.inbound.ingest import ingest
from relay.models import Message, SalesforceNotice
from relay.providers.eightbyeight.parser import parse_webhook
from tests.relay.test_report_before_send_answer import agent_message_on_8x8

FIXTURES = Path(__file__).resolve().parents[2] / "relay" / "providers" / "eightbyeight" / "fixtures"
UMID = "82188ee0-109f-e811-8150-020897df5459"  # the fixtures' umid


def receipt(name: str, **status) -> dict:
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    body["payload"]["status"].update(status)
    return body


@pytest.fixture
def sent_message(db):
    return agent_message_on_8x8(UMID, Message.Status.SENT)


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
