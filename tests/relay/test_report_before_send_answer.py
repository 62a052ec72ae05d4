"""A provider's receipt can reach us before the send's answer (with the provider's id in it) is stored: 8x8
sends a WhatsApp message outside the 24-hour window with 200 and fails it at once in a receipt. The receipt
echoes our own id (``clientMessageId``), so it still finds our row instead of being dropped as unknown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.utils import timezone

from relay.inbound.ingest import ingest
from relay.models import Conversation, Message, SalesforceNotice
from relay.outbound.send import send
from relay.providers.base import SendResult
from relay.providers.eightbyeight.client import EightByEightProvider
from relay.providers.eightbyeight.parser import parse_webhook
from tests.api.conftest import make_message
from tests.factories import make_account, make_sender, make_tenant

FIXTURES = Path(__file__).resolve().parents[2] / "relay" / "providers" / "eightbyeight" / "fixtures"
OUR_ID = "0f6c1a52-9d7e-4b1a-8c3d-5e6f7a8b9c0d"  # the fixture's clientMessageId
UMID = "82188ee0-109f-e811-8150-020897df5459"  # the fixture's umid


def agent_message_on_8x8(provider_message_id: str, status: str) -> tuple:
    """An 8x8 account and an agent's outbound message on it (Salesforce hears what became of it)."""
    tenant = make_tenant()
    account = make_account(tenant, provider="8x8", name="Acme 8x8", base_url="https://chatapps.8x8.com")
    sender = make_sender(account, address="ec36a867-3dd4-e911-814a-02d85f55fce8")
    conversation = Conversation.objects.create(tenant=tenant, sender=sender, customer="+447400123456")
    message = make_message(
        conversation,
        direction=Message.Direction.OUTBOUND,
        provider="8x8",
        provider_message_id=provider_message_id,
        status=status,
        content={"entry_identifier": "agent-entry-1", "text": "Hi"},
    )
    return account, message


@pytest.fixture
def agent_message(db):
    # OUR_ID: what the row carries until the send's answer is stored
    return agent_message_on_8x8(OUR_ID, Message.Status.PENDING)


def receipt(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_a_failed_receipt_before_the_send_answer_fails_the_message_and_tells_salesforce(agent_message):
    account, message = agent_message
    ingest(account, parse_webhook(receipt("receipt_whatsapp_session_expired")))
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert SalesforceNotice.objects.filter(message=message, kind=SalesforceNotice.Kind.FAILED).count() == 1


@pytest.mark.parametrize("known_by", [OUR_ID, UMID])
def test_a_receipt_finds_the_row_by_either_id(agent_message, known_by):
    account, message = agent_message
    Message.objects.filter(pk=message.pk).update(provider_message_id=known_by, status=Message.Status.SENT)
    ingest(account, parse_webhook(receipt("receipt_whatsapp_delivered")))
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_a_receipt_naming_neither_id_changes_nothing(agent_message):
    account, message = agent_message
    body = receipt("receipt_whatsapp_delivered")
    body["payload"]["clientMessageId"] = "someone-else"
    ingest(account, parse_webhook(body))
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING


class ReceiptFirst(EightByEightProvider):
    """8x8 as it can happen: its delivered receipt reaches our webhook while the send's answer is on its way."""

    def send(self, account, sender, to, content, *, message_id, notify_url=""):
        ingest(account, parse_webhook(receipt("receipt_whatsapp_delivered")))  # matched by our own id
        return SendResult(provider_message_id=UMID, status="SENT")


def test_the_send_answer_after_its_receipt_still_gives_the_row_the_providers_id(agent_message, settings):
    settings.SWITCHBOARD_PROVIDERS = {
        **settings.SWITCHBOARD_PROVIDERS,
        "8x8": f"{__name__}.ReceiptFirst",
    }
    account, message = agent_message
    Message.objects.filter(pk=message.pk).update(content={"entry_identifier": "agent-entry-1", "text": "Hi"})
    Conversation.objects.filter(pk=message.conversation_id).update(last_inbound_at=timezone.now())
    message.refresh_from_db()
    send(message)
    message.refresh_from_db()
    # The receipt's status stays (no step back to "sent"), and the row carries 8x8's id from now on.
    assert (message.status, message.provider_message_id) == (Message.Status.DELIVERED, UMID)
    # So a later receipt that names only 8x8's id still finds it.
    body = receipt("receipt_whatsapp_delivered")
    body["payload"]["clientMessageId"] = "not-echoed"
    body["payload"]["status"]["state"] = "read"
    ingest(account, parse_webhook(body))
    message.refresh_from_db()
    assert message.status == Message.Status.READ
