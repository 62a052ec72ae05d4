"""When an inbound message fails for good, the customer hears it once, not once per failure."""

from datetime import timedelta

import pytest
from django.utils import timezone

from relay.inbound import deliver as inbound
from relay.models import Conversation, Message
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    tenant = make_tenant(no_agent_text="All our agents are busy; we will answer as soon as we can.")
    return Conversation.objects.create(
        tenant=tenant, sender=make_sender(make_account(tenant)), customer="+385919998888"
    )


def failed_inbound(conversation, sequence):
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction="in",
        sequence=sequence,
        kind="text",
        text="hello?",
        provider="infobip",
        provider_message_id=f"m{sequence}",
        status="failed",
        expires_at=timezone.now() - timedelta(seconds=1),
    )


def told(conversation):
    return list(
        Message.objects.filter(conversation=conversation, direction="out").values_list("text", flat=True)
    )


def test_the_customer_is_told_once(conversation):
    inbound.on_failed(
        failed_inbound(conversation, 1), "not delivered within the tenant's delivery window", None
    )
    inbound.on_failed(
        failed_inbound(conversation, 2), "not delivered within the tenant's delivery window", None
    )
    assert told(conversation) == [conversation.tenant.no_agent_text]


def test_no_second_text_after_a_handover_already_said_no_agent_is_available(conversation):
    Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction="out",
        sequence=1,
        kind="text",
        text=conversation.tenant.no_agent_text,
        content={"kind": "text", "system": "no_agent"},
        provider="infobip",
        expires_at=timezone.now() + timedelta(days=1),
    )
    inbound.on_failed(
        failed_inbound(conversation, 1), "not delivered within the tenant's delivery window", None
    )
    assert told(conversation) == [conversation.tenant.no_agent_text]
