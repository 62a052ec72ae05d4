"""The Enhanced Chat desk against the sandbox's Enhanced Chat API, without a worker: a conversation per customer
with routing from the sender's rules, a retry that is the same message, a rate limit that holds the line and
then delivers in order, tokens renewed or replaced, a conversation the agent closed, and the live check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from relay.desks.enhanced_chat import EnhancedChatDesk
from relay.desks.enhanced_chat_check import check_enhanced_chat
from relay.desks.enhanced_chat_models import EnhancedChatPrechatField, EnhancedChatSession
from relay.errors import ExternalError
from relay.inbound.deliver import deliver, on_failed
from relay.lines import pipeline
from relay.models import Message
from tenants.models import RoutingRule, SalesforceConnection

from .enhanced_chat_support import (
    DEPLOYMENT,
    ORG_ID,
    Org,
    inbound,
    make_conversation,
    make_enhanced_chat_tenant,
)

pytestmark = pytest.mark.django_db(transaction=True)
LIMITS = "/__sim/enhancedchat/limits"


@pytest.fixture
def org(sandbox, sim):
    yield Org(sim)
    sim.put(LIMITS, json={"messages_per_conversation_per_minute": 60, "tokens_per_org_per_minute": 10000})


@pytest.fixture
def conversation(sandbox, org):
    tenant = make_enhanced_chat_tenant(sandbox)
    return make_conversation(tenant)


def desk(conversation) -> EnhancedChatDesk:
    return EnhancedChatDesk(
        SalesforceConnection.objects.select_related("tenant").get(tenant=conversation.tenant)
    )


def run_line(conversation):
    return pipeline.run(conversation.pk, Message.Direction.INBOUND, deliver, on_failed)


def test_a_customer_gets_a_conversation_routed_by_the_senders_rule_and_a_retry_is_the_same_message(
    conversation, org
):
    EnhancedChatPrechatField.objects.create(tenant=conversation.tenant, name="Brand", value="Acme Mobile")
    RoutingRule.objects.create(
        tenant=conversation.tenant,
        sender=conversation.sender,
        target_type=RoutingRule.Target.AGENT,
        target_id=org.linus,
    )
    message = inbound(conversation, "hello")
    desk(conversation).deliver(message)
    desk(conversation).deliver(message)  # a retry after a lost answer
    session = EnhancedChatSession.objects.get()
    assert session.status == EnhancedChatSession.Status.OPEN
    assert session.conversation_uuid == session.conversation_uuid.lower()
    found = org.conversation(session.conversation_uuid)
    assert found["routingAttributes"] == {
        "Brand": "Acme Mobile",
        "Switchboard_AgentId": org.linus,
        "Switchboard_Phone": "+447700900123",
        "Switchboard_Channel": "WhatsApp (+447860099299)",
        "Switchboard_Name": "Cai",
    }
    assert found["sessions"][-1]["requestedRouting"]  # routed to the agent the rule names
    assert org.customer_texts(session.conversation_uuid) == ["hello"]
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    # the token is stored encrypted: not in the row's column as it was sent
    assert "access_token" not in repr(session) and str(session.access_token)


def test_a_rate_limit_holds_the_line_says_so_and_then_delivers_in_order(conversation, org, sim):
    sim.put(LIMITS, json={"messages_per_conversation_per_minute": 2})
    messages = [inbound(conversation, f"m{i}") for i in range(1, 5)]
    due = run_line(conversation)
    assert due is not None and due > timezone.now()
    third = Message.objects.get(pk=messages[2].pk)
    assert third.status == Message.Status.PENDING
    assert third.waiting_reason.startswith("Held back by Salesforce's rate limit")
    fourth = Message.objects.get(pk=messages[3].pk)
    assert fourth.waiting_reason.startswith("waiting behind message #3: Held back by Salesforce's rate limit")
    # The limit frees: the line goes on, in order, nothing dropped or repeated.
    sim.put(LIMITS, json={"messages_per_conversation_per_minute": 60})
    Message.objects.filter(pk=third.pk).update(next_attempt_at=timezone.now())
    assert run_line(conversation) is None
    session = EnhancedChatSession.objects.get()
    assert org.customer_texts(session.conversation_uuid) == ["m1", "m2", "m3", "m4"]
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.DELIVERED}


def test_a_token_about_to_expire_is_renewed_for_the_same_end_user(conversation, org):
    desk(conversation).deliver(inbound(conversation, "first"))
    session = EnhancedChatSession.objects.get()
    old = str(session.access_token)
    EnhancedChatSession.objects.filter(pk=session.pk).update(
        token_expires_at=timezone.now() + timedelta(minutes=5)
    )
    desk(conversation).deliver(inbound(conversation, "second"))
    session.refresh_from_db()
    assert str(session.access_token) != old
    assert session.token_expires_at > timezone.now() + timedelta(hours=1)
    assert org.customer_texts(session.conversation_uuid) == ["first", "second"]


def test_an_expired_end_user_loses_nothing_the_message_goes_to_a_new_conversation(conversation, org, sim):
    desk(conversation).deliver(inbound(conversation, "first"))
    first = EnhancedChatSession.objects.get()
    assert sim.post(f"/__sim/enhancedchat/orgs/{ORG_ID}/tokens/expire").status_code == 200
    message = inbound(conversation, "second")
    with pytest.raises(ExternalError) as refused:
        desk(conversation).deliver(message)
    assert not refused.value.permanent
    first.refresh_from_db()
    assert first.status == EnhancedChatSession.Status.CLOSED and first.end_reason == "token refused"
    desk(conversation).deliver(message)  # the retry
    second = EnhancedChatSession.objects.get(status=EnhancedChatSession.Status.OPEN)
    assert org.customer_texts(second.conversation_uuid) == ["second"]


def test_a_conversation_the_agent_closed_is_replaced_for_the_next_message(conversation, org):
    desk(conversation).deliver(inbound(conversation, "first"))
    first = EnhancedChatSession.objects.get()
    org.accept(first.conversation_uuid)
    org.end(first.conversation_uuid)  # closed at Salesforce; the listener has not told us yet
    message = inbound(conversation, "again")
    with pytest.raises(ExternalError) as refused:
        desk(conversation).deliver(message)
    assert not refused.value.permanent
    desk(conversation).deliver(message)
    second = EnhancedChatSession.objects.get(status=EnhancedChatSession.Status.OPEN)
    assert second.pk != first.pk and org.customer_texts(second.conversation_uuid) == ["again"]


def test_the_customer_ending_closes_the_conversation(conversation, org):
    desk(conversation).deliver(inbound(conversation, "bye"))
    session = EnhancedChatSession.objects.get()
    desk(conversation).end_session(conversation)
    session.refresh_from_db()
    assert session.status == EnhancedChatSession.Status.CLOSED
    assert org.conversation(session.conversation_uuid)["status"] == "Closed"


def test_the_live_check_names_the_wrong_value(sandbox, org):
    scrt = f"{sandbox.base_url}/sim/scrt"
    assert check_enhanced_chat(scrt, ORG_ID, DEPLOYMENT).ok
    assert set(check_enhanced_chat(scrt, ORG_ID, "No_Such_Deployment").errors) == {"es_developer_name"}
    assert set(check_enhanced_chat(scrt, "00D8d000000NoNe", DEPLOYMENT).errors) <= {
        "org_id",
        "es_developer_name",
    }
    assert set(check_enhanced_chat(f"{sandbox.base_url}/sim/nowhere", ORG_ID, DEPLOYMENT).errors) == {
        "scrt_url"
    }


def test_the_customers_delivery_and_read_reports_become_acknowledgements(conversation, org):
    desk(conversation).deliver(inbound(conversation, "hello"))
    session = EnhancedChatSession.objects.get()
    org.accept(session.conversation_uuid)
    org.reply(session.conversation_uuid, "Hi, Ada here")
    agent_entry = next(
        e for e in org.conversation(session.conversation_uuid)["entries"] if e.get("text") == "Hi, Ada here"
    )
    entry = agent_entry["identifier"]
    items = [(entry, "Delivered", 1), (entry, "Read", 2)]
    desk(conversation).acknowledge(conversation, items)
    desk(conversation).acknowledge(
        conversation, items
    )  # a retry after a lost answer: the same acknowledgements
    acknowledged = next(
        e for e in org.conversation(session.conversation_uuid)["entries"] if e.get("identifier") == entry
    )
    assert [a["type"] for a in acknowledged["acknowledgements"]] == ["Delivered", "Read"]


def test_a_report_on_an_earlier_conversation_s_message_is_acknowledged_in_that_conversation(
    conversation, org
):
    """The agent replies and ends the conversation; the customer answers, which opens a new one; then the phone
    reports the agent's earlier message read. Its acknowledgement goes to the conversation the message came in:
    in the newest one Salesforce refused it (and the rest of the call with it)."""
    from relay.desks.enhanced_chat_events import record_event
    from tests.relay.test_enhanced_chat_events import message_event

    desk(conversation).deliver(inbound(conversation, "hello"))
    first = EnhancedChatSession.objects.get()
    org.accept(first.conversation_uuid)
    org.reply(first.conversation_uuid, "Hi, Ada here")
    entry = next(
        e for e in org.conversation(first.conversation_uuid)["entries"] if e.get("text") == "Hi, Ada here"
    )["identifier"]
    event = message_event(entry, "Hi, Ada here", conversation=first.conversation_uuid)
    record_event(first.pk, "9", "CONVERSATION_MESSAGE", event)  # as the listener records it
    org.end(first.conversation_uuid)
    message = inbound(conversation, "thanks")
    with pytest.raises(ExternalError):
        desk(conversation).deliver(message)
    desk(conversation).deliver(message)
    second = EnhancedChatSession.objects.get(status=EnhancedChatSession.Status.OPEN)
    assert second.pk != first.pk

    desk(conversation).acknowledge(conversation, [(entry, "Delivered", 1), (entry, "Read", 2)])
    acknowledged = next(
        e for e in org.conversation(first.conversation_uuid)["entries"] if e.get("identifier") == entry
    )
    assert [a["type"] for a in acknowledged["acknowledgements"]] == ["Delivered", "Read"]
