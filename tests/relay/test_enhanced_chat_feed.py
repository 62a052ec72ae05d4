"""relay_listen's Enhanced Chat runner against the sandbox: agent replies recorded once each through a stream
dropped mid-conversation and a runner restarted while the agent kept writing; the close with its closing text;
only the tenants this process holds."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from relay import http
from relay.desks.enhanced_chat import EnhancedChatDesk
from relay.desks.enhanced_chat_feed import EnhancedChatFeed
from relay.desks.enhanced_chat_models import EnhancedChatSession
from relay.models import Message
from tenants.models import SalesforceConnection

from .enhanced_chat_support import Org, inbound, make_conversation, make_enhanced_chat_tenant, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class Running:
    """The runner in a thread, as relay_listen runs it."""

    def __init__(self, **options) -> None:
        self.feed = EnhancedChatFeed(refresh_seconds=0.2, max_backoff=1.0, **options)
        self.thread = threading.Thread(target=self.feed.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.feed.stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def chat(sandbox, sim):
    org = Org(sim)
    tenant = make_enhanced_chat_tenant(sandbox, closing_text="Thanks for chatting!")
    conversation = make_conversation(tenant)
    desk = EnhancedChatDesk(SalesforceConnection.objects.get(tenant=tenant))
    desk.deliver(inbound(conversation, "hello"))
    session = EnhancedChatSession.objects.get()
    org.accept(session.conversation_uuid)
    return org, conversation, session


def agent_texts(conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, direction=Message.Direction.OUTBOUND)
        .order_by("sequence")
        .values_list("text", flat=True)
    )


def test_a_dropped_stream_and_a_restart_lose_and_duplicate_nothing(chat, sim):
    org, conversation, session = chat
    running = Running()
    try:
        wait_for(lambda: running.feed.connected == 1, what="the stream")
        org.reply(session.conversation_uuid, "one")
        wait_for(lambda: agent_texts(conversation) == ["one"], what="the first reply")
        assert sim.post("/__sim/enhancedchat/streams/drop", json={}).status_code == 200
        org.reply(session.conversation_uuid, "two")  # while the stream is down or coming back
        wait_for(lambda: agent_texts(conversation) == ["one", "two"], what="the reply after the drop")
    finally:
        running.stop()
    org.reply(session.conversation_uuid, "three")  # no listener at all
    org.reply(session.conversation_uuid, "four")
    running = Running()
    try:
        wait_for(lambda: agent_texts(conversation) == ["one", "two", "three", "four"], what="the replay")
        session.refresh_from_db()
        assert session.agent_name == "Ada Agent"
        conversation.refresh_from_db()
        assert conversation.last_agent_id == org.ada[:15]  # the participant subject, as the stream names it
        org.end(session.conversation_uuid)
        wait_for(lambda: agent_texts(conversation)[-1:] == ["Thanks for chatting!"], what="the closing text")
        session.refresh_from_db()
        assert session.status == EnhancedChatSession.Status.CLOSED
        wait_for(lambda: running.feed.holding == 0, what="the closed conversation's stream to end")
    finally:
        running.stop()
    assert agent_texts(conversation) == ["one", "two", "three", "four", "Thanks for chatting!"]


def test_event_ids_in_no_order_lose_and_duplicate_nothing_through_drops_and_a_restart(sandbox, sim):
    """Salesforce documents event ids only as strings ("Server-Sent Events", Last-Event-Id: String). With the
    sandbox's ids random numbers in no order, a drop, replies while no listener runs and a restart still give
    every reply once: no event is taken for an old one because its id sorts before the last."""
    assert sim.put("/__sim/enhancedchat/event-ids", json={"format": "opaque"}).status_code == 200
    org = Org(sim)
    tenant = make_enhanced_chat_tenant(sandbox)
    conversation = make_conversation(tenant)
    EnhancedChatDesk(SalesforceConnection.objects.get(tenant=tenant)).deliver(inbound(conversation, "hello"))
    session = EnhancedChatSession.objects.get()
    org.accept(session.conversation_uuid)
    texts = [f"reply {n}" for n in range(12)]
    running = Running()
    try:
        wait_for(lambda: running.feed.connected == 1, what="the stream")
        for text in texts[:4]:
            org.reply(session.conversation_uuid, text)
        wait_for(lambda: agent_texts(conversation) == texts[:4], what="the first replies")
        assert sim.post("/__sim/enhancedchat/streams/drop", json={}).status_code == 200
        for text in texts[4:8]:
            org.reply(session.conversation_uuid, text)
        wait_for(lambda: agent_texts(conversation) == texts[:8], what="the replies after the drop")
    finally:
        running.stop()
    for text in texts[8:]:
        org.reply(session.conversation_uuid, text)
    running = Running()
    try:
        wait_for(lambda: agent_texts(conversation) == texts, what="the replay after the restart")
    finally:
        running.stop()
    session.refresh_from_db()
    assert len(session.recent_event_ids) > 12 and session.last_event_id == session.recent_event_ids[-1]


def test_a_tenant_this_process_does_not_hold_gets_no_stream(chat):
    org, conversation, session = chat
    running = Running(owns=lambda tenant_id: tenant_id != conversation.tenant_id)
    try:
        org.reply(session.conversation_uuid, "not for us")
        # The runner has had several refreshes (it reads the list every 0.2 s) and holds nothing.
        wait_for(lambda: running.feed.refreshes >= 3, what="three refreshes")
        assert running.feed.holding == 0 and agent_texts(conversation) == []
    finally:
        running.stop()


def test_an_agent_end_without_session_based_chat_sends_the_closing_text_and_the_next_message_starts_anew(
    sandbox, sim
):
    """Without Session-Based Chat the agent's End leaves the Salesforce conversation open and says so only
    with CONVERSATION_SESSION_STATUS_CHANGED (no CLOSE): the closing text goes once, our side ends, and the
    customer's next message is delivered, in a new conversation routed afresh."""
    org = Org(sim, session_based_chat=False)
    tenant = make_enhanced_chat_tenant(sandbox, closing_text="Thanks for chatting!")
    conversation = make_conversation(tenant)
    desk = EnhancedChatDesk(SalesforceConnection.objects.get(tenant=tenant))
    desk.deliver(inbound(conversation, "hello"))
    first = EnhancedChatSession.objects.get()
    org.accept(first.conversation_uuid)
    running = Running()
    try:
        wait_for(lambda: running.feed.connected == 1, what="the stream")
        org.end(first.conversation_uuid)
        wait_for(lambda: agent_texts(conversation) == ["Thanks for chatting!"], what="the closing text")
        first.refresh_from_db()
        assert first.status == EnhancedChatSession.Status.CLOSED and first.end_reason == "session ended"
        assert org.conversation(first.conversation_uuid)["status"] == "Open"  # Salesforce's stays open
        events = [e["type"] for e in org.conversation(first.conversation_uuid)["events"]]
        assert "CONVERSATION_SESSION_STATUS_CHANGED" in events
        assert "CONVERSATION_CLOSE_CONVERSATION" not in events
        desk.deliver(inbound(conversation, "one more thing"))
        second = EnhancedChatSession.objects.get(status=EnhancedChatSession.Status.OPEN)
        assert second.conversation_uuid != first.conversation_uuid
        assert org.customer_texts(second.conversation_uuid) == ["one more thing"]
        assert [s["status"] for s in org.conversation(second.conversation_uuid)["sessions"]] == ["Waiting"]
        wait_for(lambda: running.feed.holding == 1, what="the new conversation's stream only")
    finally:
        running.stop()
    assert agent_texts(conversation) == ["Thanks for chatting!"]


def test_a_conversation_the_flow_does_not_route_tells_the_customer_and_the_next_message_opens_anew(
    sandbox, sim
):
    """The channel's Omni-Channel flow ends without Route Work and returns its reasonForNotRouting ("Create the
    reasonForNotRouting", help.salesforce.com, service.omnichannel_create_reasonfornotrouting.htm): the stream's
    CONVERSATION_ROUTING_RESULT says failureType RoutingError with that failureReason. The customer gets the
    reason once, our side ends, and the next message opens a new conversation that is routed afresh."""
    org = Org(sim, reason_for_not_routing="We're closed. Back at 8:00.")
    tenant = make_enhanced_chat_tenant(sandbox, closing_text="Thanks for chatting!")
    conversation = make_conversation(tenant)
    desk = EnhancedChatDesk(SalesforceConnection.objects.get(tenant=tenant))
    desk.deliver(inbound(conversation, "hello"))
    first = EnhancedChatSession.objects.get()
    running = Running()
    try:
        wait_for(lambda: agent_texts(conversation) == ["We're closed. Back at 8:00."], what="the reason")
        first.refresh_from_db()
        assert first.status == EnhancedChatSession.Status.CLOSED
        assert first.end_reason == "not routed (RoutingError)"
        wait_for(lambda: running.feed.holding == 0, what="the unrouted conversation's stream to end")
        desk.deliver(inbound(conversation, "hello again"))
        second = EnhancedChatSession.objects.get(status=EnhancedChatSession.Status.OPEN)
        assert second.conversation_uuid != first.conversation_uuid
        assert org.customer_texts(second.conversation_uuid) == ["hello again"]
        # Still closed: the new conversation is not routed either, and the customer hears it for that one too.
        reasons = ["We're closed. Back at 8:00."] * 2
        wait_for(lambda: agent_texts(conversation) == reasons, what="the second conversation's reason")
    finally:
        running.stop()


def test_a_rate_limited_token_renewal_pauses_that_orgs_renewals_until_salesforce_allows(sandbox, sim):
    """Salesforce limits token renewals per org ("Rate Limits for Enhanced Chat",
    https://help.salesforce.com/apex/HTViewHelpDoc?id=service.miaw_rate_limits.htm: Renew Token, 200 a minute per
    org) and answers 429 with Retry-After past it. The runner renews the soonest-expiring token first, and after a
    429 asks for none of that org's renewals again until Retry-After has passed: not the other due ones in the same
    round, and not every refresh."""
    Org(sim)
    tenant = make_enhanced_chat_tenant(sandbox)
    desk = EnhancedChatDesk(SalesforceConnection.objects.get(tenant=tenant))
    for customer in ("+447700900001", "+447700900002", "+447700900003"):
        desk.deliver(inbound(make_conversation(tenant, customer=customer), "hello"))
    soonest, *later = EnhancedChatSession.objects.order_by("pk")
    now = timezone.now()
    EnhancedChatSession.objects.filter(pk=soonest.pk).update(token_expires_at=now + timedelta(minutes=2))
    EnhancedChatSession.objects.exclude(pk=soonest.pk).update(token_expires_at=now + timedelta(minutes=5))
    assert sim.put("/__sim/enhancedchat/limits", json={"renewals_per_org_per_minute": 1}).status_code == 200
    asked: list[str] = []

    def count(request) -> None:
        if request.url.path.endswith("/authorization/continuation-access-token"):
            asked.append(request.url.path)

    hooks = http.client("salesforce").event_hooks["request"]
    hooks.append(count)
    running = Running()
    try:
        wait_for(lambda: running.feed.refreshes >= 10, what="ten refreshes")
    finally:
        running.stop()
        hooks.remove(count)
    assert len(asked) == 2  # the soonest renewed, the next refused (429); nothing more asked of that org
    soonest.refresh_from_db()
    assert soonest.token_expires_at > timezone.now() + timedelta(hours=1)
    assert (
        EnhancedChatSession.objects.filter(token_expires_at__gt=timezone.now() + timedelta(hours=1)).count()
        == 1
    )


@pytest.mark.parametrize("status", [429, 503])
def test_a_stream_refused_with_retry_after_waits_that_long_before_connecting_again(
    chat, sandbox, sim, monkeypatch, status
):
    """A custom client must reconnect a dropped stream ("Server-Sent Events",
    https://developer.salesforce.com/docs/service/messaging-api/references/about/server-sent-events.html), but a
    429 or 503 that says Retry-After is waited out, not retried on the backoff's own, shorter, schedule."""
    rule = {"service": "scrt", "path": "^/eventrouter/", "status": status, "outage": True, "retry_after": 60}
    assert sim.post("/__sim/faults", json=rule).status_code in (200, 201)
    board, asked = sandbox.world.faults, []
    decide = board.decide

    def counting(service, path):  # the sandbox's fault board sees every request that reaches the router
        if service == "scrt" and path.startswith("/eventrouter/"):
            asked.append(path)
        return decide(service, path)

    monkeypatch.setattr(board, "decide", counting)
    running = Running()  # its own backoff is at most 1 s
    try:
        wait_for(lambda: asked, what="the first connection")
        start = running.feed.refreshes
        wait_for(lambda: running.feed.refreshes >= start + 20, what="twenty more refreshes (4 s)")
    finally:
        running.stop()
    assert len(asked) == 1
