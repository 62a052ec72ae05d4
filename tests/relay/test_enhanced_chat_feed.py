"""relay_listen's Enhanced Chat runner against the sandbox: agent replies recorded once each through a stream
dropped mid-conversation and a runner restarted while the agent kept writing; the close with its closing text;
only the tenants this process holds."""

from __future__ import annotations

import threading

import pytest

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
