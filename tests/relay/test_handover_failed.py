"""A chatbot handover whose transcript fails for good (here: its delivery window ends while no agent comes online)
fails too, with the reason: before, it said "waiting" for ever, to the admin, the history panel and a bot
posting the same handover again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from relay import tasks
from relay.handover import presence
from relay.handover.models import Handover
from relay.models import Conversation, Message
from tenants.models import SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_handover_whose_transcript_fails_fails_with_the_reason(monkeypatch):
    tenant = make_tenant()
    SalesforceConnection.objects.create(
        tenant=tenant, instance_url="https://example.my.salesforce.com", consumer_key="ck"
    )
    conversation = Conversation.objects.create(
        tenant=tenant, sender=make_sender(make_account(tenant)), customer="+385919990500"
    )
    now = timezone.now()
    handover = Handover.objects.create(
        tenant=tenant,
        conversation=conversation,
        key="h-1",
        entries=[{"id": "e1", "speaker": "customer", "text": "hi", "time": int(now.timestamp() * 1000)}],
        transcript_ready=True,
        received_at=now,
    )
    line = Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction="in",
        sequence=1,
        kind="history",
        text="Bot transcript",
        content={"handover": handover.pk},
        provider="handover",
        provider_message_id=handover.line_message_id,
        received_at=now,
        expires_at=now + timedelta(days=3),
        next_attempt_at=now,
    )
    monkeypatch.setattr(presence, "agent_available", lambda conversation: False)  # nobody online

    tasks.deliver_inbound(conversation.pk)
    handover.refresh_from_db()
    assert handover.status == Handover.Status.WAITING

    Message.objects.filter(pk=line.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1), next_attempt_at=None
    )
    tasks.deliver_inbound(conversation.pk)
    handover.refresh_from_db()
    line.refresh_from_db()
    assert line.status == Message.Status.FAILED
    assert handover.status == Handover.Status.FAILED
    assert handover.last_error == "not delivered within the tenant's delivery window"
