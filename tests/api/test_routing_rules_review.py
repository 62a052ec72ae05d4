"""Routing rules and senders as the partner API stores them, and what the relay then sends Salesforce (the README's
"Routing" table): what a review of 2026-12-06 found, each case failing before.

- a sender PATCHed from Viber to WhatsApp keeps its address E.164 (clean() normalized it, the answer dropped it:
  the relay never found the sender, and a second WhatsApp sender of the same number was accepted);
- a customer pattern written without + (Infobip's form) matches the E.164 customers of WhatsApp and SMS;
- the channel's own routing takes no fallback, and sends no attributes;
- a fallback equal to its target is refused, as the wizard refuses it;
- a sticky agent on a rule that pins an agent keeps the pinned agent, as the fallback.
"""

from __future__ import annotations

import pytest

from relay.desks.routing import routing_attributes
from relay.models import Conversation
from tenants import lookups
from tenants.models import RoutingRule, Sender

from .conftest import api

pytestmark = pytest.mark.django_db

QUEUE = "00G8d000000AbCd"
AGENT_A, AGENT_B = "0058d000000AgtA", "0058d000000AgtB"
RULES = "/api/v1/routing-rules/"


def test_a_sender_patched_to_whatsapp_is_stored_in_e164_and_found(world):
    client = api(world.a1.key)
    made = client.post(
        "/api/v1/senders/",
        {"account": world.a1.account.pk, "channel": "viber", "address": "+44 7860 044444"},
        format="json",
    )
    assert made.status_code == 201, made.content
    patched = client.patch(f"/api/v1/senders/{made.json()['id']}/", {"channel": "whatsapp"}, format="json")
    assert patched.status_code == 200 and patched.json()["address"] == "+447860044444"
    sender = Sender.objects.get(pk=made.json()["id"])
    assert ("whatsapp", "+447860044444") in lookups.senders_by_address(sender.account)
    again = client.post(
        "/api/v1/senders/",
        {"account": world.a1.account.pk, "channel": "whatsapp", "address": "+447860044444"},
        format="json",
    )
    assert again.status_code == 400


def test_a_pattern_without_plus_matches_the_e164_customers(world):
    RoutingRule.objects.filter(sender=world.a1.sender).delete()
    made = api(world.a1.key).post(
        RULES,
        {
            "sender": world.a1.sender.pk,
            "target_type": "queue",
            "target_id": QUEUE,
            "customer_pattern": "385*",
        },
        format="json",
    )
    assert made.status_code == 201 and made.json()["customer_pattern"] == "+385*"
    assert world.a1.conversation.customer == "+385919998888"
    assert routing_attributes(world.a1.conversation)["Switchboard_QueueId"].startswith(QUEUE)


def test_the_channel_s_own_routing_takes_no_fallback_and_sends_nothing(world):
    RoutingRule.objects.filter(sender=world.a1.sender).delete()
    refused = api(world.a1.key).post(
        RULES,
        {
            "sender": world.a1.sender.pk,
            "target_type": "channel",
            "fallback_type": "queue",
            "fallback_id": QUEUE,
        },
        format="json",
    )
    assert refused.status_code == 400 and "fallback_type" in refused.json()["error"]["fields"]
    # a row stored before the check: still nothing sent
    RoutingRule.objects.create(
        tenant=world.a1.tenant,
        sender=world.a1.sender,
        target_type="channel",
        fallback_type="queue",
        fallback_id=QUEUE,
    )
    assert routing_attributes(world.a1.conversation) == {}


def test_a_fallback_equal_to_its_target_is_refused(world):
    refused = api(world.a1.key).post(
        RULES,
        {
            "sender": world.a1.sender.pk,
            "target_type": "queue",
            "target_id": QUEUE,
            "fallback_type": "queue",
            "fallback_id": QUEUE,
        },
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["fallback_id"] == ["The fallback is the same as the target."]


def test_a_sticky_agent_keeps_the_pinned_agent_as_the_fallback(world):
    sender = world.a1.sender
    RoutingRule.objects.filter(sender=sender).delete()
    rule = RoutingRule(
        tenant=sender.tenant, sender=sender, target_type="agent", target_id=AGENT_A, sticky_agent=True
    )
    rule.full_clean()
    rule.save()
    conversation = Conversation.objects.create(
        tenant=sender.tenant, sender=sender, customer="+385911112222", last_agent_id=AGENT_B + "AAA"
    )
    assert routing_attributes(conversation) == {
        "Switchboard_AgentId": AGENT_B + "AAA",
        "Switchboard_FallbackType": "agent",
        "Switchboard_FallbackId": rule.target_id,
    }
    Conversation.objects.filter(pk=conversation.pk).update(last_agent_id=rule.target_id)
    conversation.refresh_from_db()
    assert routing_attributes(conversation) == {
        "Switchboard_AgentId": rule.target_id
    }  # the same agent: no fallback
