"""The Legacy Chat desk's own steps against the sandbox's Chat REST API, without a worker: routing into
ChasitorInit, the customer ending the chat, a session gone, and a 503 answered while a message is half sent."""

from __future__ import annotations

import pytest
from django.utils import timezone

from relay.desks.livechat import LiveChatDesk
from relay.desks.livechat_models import LiveChatSession
from relay.desks.livechat_poll import ChatPoller, poll_chat
from relay.errors import ExternalError
from relay.lines.pipeline import RetryLater
from relay.models import Conversation, Message
from tenants.models import RoutingRule, SalesforceConnection
from tests.factories import make_account, make_sender, make_tenant
from tests.sandbox.livechat_support import ORG_ID, REST, create_chat_org

pytestmark = pytest.mark.django_db(transaction=True)
HOOKS = "/__sim/livechat"


@pytest.fixture
def setup(sandbox, sim):
    ids = create_chat_org(sim)
    tenant = make_tenant("Chatty", org_id=ORG_ID, no_agent_text="Nobody is here yet.", closing_text="Bye!")
    SalesforceConnection.objects.create(
        tenant=tenant,
        desk=SalesforceConnection.Desk.LIVECHAT,
        instance_url="https://chatty.my.salesforce.com",
        chat_api_endpoint=f"{sandbox.base_url}{REST}/",
        chat_deployment_id=ids["deployment"],
        chat_button_id=ids["buttons"]["Support_Chat"],
    )
    sender = make_sender(make_account(tenant))
    conversation = Conversation.objects.create(tenant=tenant, sender=sender, customer="+447700900123")
    return ids, tenant, sender, conversation


def inbound(conversation: Conversation, text: str) -> Message:
    now = timezone.now()
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        sequence=Message.objects.filter(conversation=conversation).count() + 1,
        kind="text",
        text=text,
        content={"kind": "text", "text": text},
        provider="infobip",
        provider_message_id=f"in-{text}",
        expires_at=now + conversation.tenant.delivery_window,
    )


def desk(tenant) -> LiveChatDesk:
    return LiveChatDesk(SalesforceConnection.objects.select_related("tenant").get(tenant=tenant))


def sim_chat(sim, chat: LiveChatSession) -> dict:
    return sim.get(f"{HOOKS}/chats/{chat.session_id}").json()


def test_an_agent_rule_goes_first_through_button_overrides(setup, sim):
    ids, tenant, sender, conversation = setup
    RoutingRule.objects.create(
        tenant=tenant, sender=sender, target_type=RoutingRule.Target.AGENT, target_id=ids["agents"]["linus"]
    )
    desk(tenant).deliver(inbound(conversation, "hello"))
    chat = LiveChatSession.objects.get()
    body = sim_chat(sim, chat)["chasitorInit"]
    button = ids["buttons"]["Support_Chat"]
    assert body["buttonOverrides"] == [f"{ids['agents']['linus'][:15]}_{button}", button]
    assert sim_chat(sim, chat)["visitorMessages"] == ["hello"]


def test_no_agent_holds_the_message_and_tells_the_customer_once(setup, sim):
    ids, tenant, sender, conversation = setup
    for user in ("ada", "linus"):
        sim.post(f"{HOOKS}/orgs/{ORG_ID}/agents/{user}@chatty.test/presence", json={"online": False})
    message = inbound(conversation, "anyone?")
    for _ in range(2):
        with pytest.raises(RetryLater):
            desk(tenant).deliver(message)
    told = Message.objects.filter(direction=Message.Direction.OUTBOUND, content__system="no_agent")
    assert told.count() == 1 and told.get().text == "Nobody is here yet."
    assert not LiveChatSession.objects.exists()


def test_the_customer_ends_the_chat_and_the_next_message_opens_a_new_one(setup, sim):
    ids, tenant, sender, conversation = setup
    desk(tenant).deliver(inbound(conversation, "first"))
    chat = LiveChatSession.objects.get()
    desk(tenant).end_session(conversation)
    assert sim_chat(sim, chat)["endedBy"] == "Visitor"
    chat.refresh_from_db()
    assert chat.status == LiveChatSession.Status.ENDED and chat.end_reason == "customer"
    desk(tenant).deliver(inbound(conversation, "second"))
    assert LiveChatSession.objects.filter(status__in=LiveChatSession.OPEN).count() == 1
    assert LiveChatSession.objects.count() == 2


def test_a_session_gone_ends_the_chat(setup, sim, sandbox):
    ids, tenant, sender, conversation = setup
    desk(tenant).deliver(inbound(conversation, "first"))
    chat = LiveChatSession.objects.get()
    session = sandbox.call(lambda: sandbox.world.livechat.session_by_id(chat.session_id))
    sandbox.call(lambda: sandbox.world.livechat.drop_session(session))  # Salesforce timed it out
    assert poll_chat(chat.pk) is False
    chat.refresh_from_db()
    assert chat.status == LiveChatSession.Status.ENDED and chat.end_reason == "timeout"


def test_a_503_during_a_half_sent_transcript_resends_only_the_rest(setup, sim):
    ids, tenant, sender, conversation = setup
    the_desk = desk(tenant)
    the_desk.deliver(inbound(conversation, "first"))
    chat = LiveChatSession.objects.get()
    message = inbound(conversation, "history")
    # Two of three texts went through before the session moved to another server.
    the_desk._post(chat, message, ["one", "two"])
    LiveChatSession.objects.filter(pk=chat.pk).update(
        pending={"message": message.pk, "first": chat.sequence + 1 - 2, "done": 2, "count": 3}
    )
    sim.post(f"{HOOKS}/sessions/{chat.session_id}/affinity-change")
    assert poll_chat(chat.pk) is True  # 503 → ReconnectSession
    chat.refresh_from_db()
    assert chat.pending["first"] == -1 and chat.sequence == 1
    the_desk._post(chat, message, ["one", "two", "three"])
    assert sim_chat(sim, chat)["visitorMessages"] == ["first", "one", "two", "three"]


def test_only_the_chats_of_tenants_this_listener_holds_are_polled(setup, sim, sandbox):
    """Several relay_listen processes share the tenants (relay/salesforce/shards.py): a chat whose tenant another
    process holds is neither polled nor ended here, even when its session is gone; once held, it is."""
    ids, tenant, sender, conversation = setup
    desk(tenant).deliver(inbound(conversation, "first"))
    chat = LiveChatSession.objects.get()
    session = sandbox.call(lambda: sandbox.world.livechat.session_by_id(chat.session_id))
    sandbox.call(lambda: sandbox.world.livechat.drop_session(session))
    assert poll_chat(chat.pk, held=lambda tenant_id: False) is False  # not ours: not polled, nothing recorded
    chat.refresh_from_db()
    assert chat.status in (LiveChatSession.Status.WAITING, LiveChatSession.Status.ESTABLISHED)

    poller = ChatPoller(threads=1, owns=lambda tenant_id: False)
    try:
        poller.refresh()  # another process's tenant: nothing submitted
        assert poller._polling == set()
    finally:
        poller.stop()
        poller._pool.shutdown()
    assert poll_chat(chat.pk, held=lambda tenant_id: tenant_id == tenant.pk) is False  # ours: polled, ended
    chat.refresh_from_db()
    assert chat.status == LiveChatSession.Status.ENDED and chat.end_reason == "timeout"


@pytest.mark.parametrize("moved_before", ["ChasitorInit", "Messages"])
def test_a_503_while_the_chat_is_requested_reconnects_and_requests_it_once(setup, sim, sandbox, moved_before):
    """The session moves to another server while the chat request waits for its answer (Chat REST API: a 503
    "is returned when the affinity token has changed; call ReconnectSession"). relay_listen polls only chats
    that have their answer, so the desk reconnects itself: before, every retry re-sent ChasitorInit with the
    old affinity and met the same 503, and the open REQUESTED chat held every message of the conversation
    for good. ChasitorInit goes once: again only if the 503 came before it was taken."""
    ids, tenant, sender, conversation = setup
    message = inbound(conversation, "hello")
    path = "System/Messages" if moved_before == "Messages" else "Chasitor/ChasitorInit"
    rule = sim.post("/__sim/faults", json={"service": "livechat", "path": path, "status": 500}).json()
    with pytest.raises(ExternalError):
        desk(tenant).deliver(message)  # the chat request's answer lost
    sim.delete(f"/__sim/faults/{rule['id']}")
    chat = LiveChatSession.objects.get()
    assert chat.status == LiveChatSession.Status.REQUESTED
    sim.post(f"{HOOKS}/sessions/{chat.session_id}/affinity-change")

    for _ in range(3):
        try:
            desk(tenant).deliver(message)
            break
        except ExternalError as exc:
            assert not exc.permanent, exc
    else:
        pytest.fail("the message never reached the chat")
    chat.refresh_from_db()
    assert chat.status in (LiveChatSession.Status.WAITING, LiveChatSession.Status.ESTABLISHED)
    assert sim_chat(sim, chat)["visitorMessages"] == ["hello"]
    # "ChasitorResyncState: Reestablishes the chat visitor's state ... after a ReconnectSession request is
    # completed" (Chat REST API): once after the reconnect, when there is a chat to restore (a 503 before
    # ChasitorInit was taken leaves none: refused, and ChasitorInit goes again)
    session = sandbox.call(lambda: sandbox.world.livechat.session_by_id(chat.session_id))
    assert session.resyncs == (1 if moved_before == "Messages" else 0)


def test_a_requested_chat_whose_session_is_gone_takes_its_message_to_a_new_chat(setup, sim, sandbox):
    """The session ends (a 403: timed out, or ended by Salesforce) while the chat request waits for its
    answer: the message goes to a new chat on the next try, as it does when a posted message meets a 403.
    Before, the 403 failed the customer's message for good."""
    ids, tenant, sender, conversation = setup
    message = inbound(conversation, "hello")
    rule = sim.post(
        "/__sim/faults", json={"service": "livechat", "path": "System/Messages", "status": 500}
    ).json()
    with pytest.raises(ExternalError):
        desk(tenant).deliver(message)
    sim.delete(f"/__sim/faults/{rule['id']}")
    first = LiveChatSession.objects.get()
    session = sandbox.call(lambda: sandbox.world.livechat.session_by_id(first.session_id))
    sandbox.call(lambda: sandbox.world.livechat.drop_session(session))

    with pytest.raises(ExternalError) as gone:
        desk(tenant).deliver(message)
    assert not gone.value.permanent, gone.value
    first.refresh_from_db()
    assert first.status == LiveChatSession.Status.ENDED
    desk(tenant).deliver(message)
    second = LiveChatSession.objects.exclude(pk=first.pk).get()
    assert sim_chat(sim, second)["visitorMessages"] == ["hello"]


def test_a_requested_chat_ended_by_a_duplicate_long_poll_takes_its_message_to_a_new_chat(setup, sim):
    """409: "A duplicate long poll using the same session ID has caused the chat to terminate. Reestablish the
    chat in a new session." (Chat REST API, status codes). As with a 403, the chat is ended and the message goes
    to a new one; before, the 409 was retried on the dead session until the delivery window ran out."""
    ids, tenant, sender, conversation = setup
    message = inbound(conversation, "hello")
    rule = sim.post(
        "/__sim/faults", json={"service": "livechat", "path": "System/Messages", "status": 500}
    ).json()
    with pytest.raises(ExternalError):
        desk(tenant).deliver(message)
    sim.delete(f"/__sim/faults/{rule['id']}")
    first = LiveChatSession.objects.get()
    sim.post(
        "/__sim/faults", json={"service": "livechat", "path": "System/Messages", "status": 409, "times": 1}
    )

    with pytest.raises(ExternalError) as gone:
        desk(tenant).deliver(message)
    assert not gone.value.permanent, gone.value
    first.refresh_from_db()
    assert first.status == LiveChatSession.Status.ENDED
    desk(tenant).deliver(message)
    second = LiveChatSession.objects.exclude(pk=first.pk).get()
    assert sim_chat(sim, second)["visitorMessages"] == ["hello"]
