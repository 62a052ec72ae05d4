"""The Enhanced Chat desk through the whole product: Infobip webhooks, a real worker, relay_listen holding the
sandbox's Enhanced Chat event streams, and the sandbox's agent console."""

from __future__ import annotations

import base64

import pytest

from relay.desks.enhanced_chat_check import check_enhanced_chat
from relay.desks.enhanced_chat_models import EnhancedChatPrechatField, EnhancedChatSession
from relay.models import Message
from tenants.models import SalesforceConnection
from tests.e2e.conftest import (
    SMS,
    VIBER,
    WHATSAPP,
    ListenerProcess,
    agent_id,
    customer_writes,
    phone_received,
)
from tests.e2e.conftest import wait_for as wait_up_to

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DEPLOYMENT = (
    "Switchboard_Enhanced_Chat"  # the demo org's Custom Client deployment (sandbox/fixtures/demo.json)
)
LIMITS = "/__sim/enhancedchat/limits"
#: What the worker and the listener answer can wait behind a shared machine's load (and, with the file broker, for
#: the sweeper to re-queue a task whose broker message was lost): a deadline, never a sleep.
DEADLINE_SECONDS = 60.0


def wait_for(predicate, *, timeout: float = DEADLINE_SECONDS, what: str):
    return wait_up_to(predicate, timeout=timeout, what=what)


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def enhanced(wired):
    """The demo tenant switched to the Enhanced Chat desk, its settings checked live first."""
    scrt = f"{wired.sandbox.base_url}/sim/scrt"
    assert check_enhanced_chat(scrt, wired.org_id, DEPLOYMENT).ok
    connection = wired.tenant.salesforce
    connection.desk = SalesforceConnection.Desk.ENHANCED_CHAT
    connection.scrt_url = scrt
    connection.es_developer_name = DEPLOYMENT
    connection.full_clean()
    connection.save()
    EnhancedChatPrechatField.objects.create(tenant=wired.tenant, name="Brand", value="Acme Mobile")
    wired.ada = agent_id(wired.sim, wired.org_id)
    yield wired
    wired.sim.put(LIMITS, json={"messages_per_conversation_per_minute": 60, "window_seconds": 60})


@pytest.fixture
def stream_listener(enhanced):
    """``manage.py relay_listen`` as its own process; ``restart()`` stops and starts it."""
    with ListenerProcess(
        enhanced, log_name="listener-enhanced-chat.log", max_backoff=1, timeout=DEADLINE_SECONDS
    ) as process:
        yield process


def conversation_of(wired, customer: str) -> dict | None:
    """The customer's newest Enhanced Chat conversation in the sandbox (by the Switchboard_Phone pre-chat field)."""
    found = None
    for conversation in wired.sim.get(f"/__sim/enhancedchat/orgs/{wired.org_id}/conversations").json():
        phone = conversation["routingAttributes"].get("Switchboard_Phone", "")
        if phone.lstrip("+") == customer.lstrip("+"):
            found = conversation
    return found


def customer_entries(conversation: dict) -> list[dict]:
    return [
        e
        for e in conversation["entries"]
        if e.get("entryType") == "Message" and e["sender"]["role"] == "EndUser"
    ]


def attachments(entry: dict) -> list[dict]:
    static = (entry.get("entryPayload") or {}).get("abstractMessage", {}).get("staticContent") or {}
    return static.get("attachments") or [] if static.get("formatType") == "Attachments" else []


def console(wired, conversation: dict, action: str, **body) -> dict:
    session = conversation["sessions"][-1]["id"]
    response = wired.sim.post(
        f"/__sim/console/api/orgs/{wired.org_id}/sessions/{session}/{action}",
        json={"agent": wired.ada, **body},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def phone_texts(wired, customer: str, channel: str) -> list[str]:
    return [m["content"].get("text") for m in phone_received(wired.sim, customer, channel=channel)]


def test_whatsapp_sms_and_viber_customers_chat_with_an_agent_both_ways_media_included(
    enhanced, stream_listener
):
    wired = enhanced
    for channel, sender, customer in (
        ("WHATSAPP", WHATSAPP, "385919997701"),
        ("SMS", SMS, "385919997702"),
        ("VIBER", VIBER, "385919997703"),
    ):
        customer_writes(wired.sim, f"Hi over {channel}", channel=channel, sender=sender, customer=customer)
        conversation = wait_for(
            lambda c=customer: conversation_of(wired, c), what=f"a conversation ({channel})"
        )
        assert conversation["routingAttributes"]["Brand"] == "Acme Mobile"
        assert (
            conversation["routingAttributes"]["Switchboard_Channel"].lower().startswith(channel.lower()[:3])
        )
        wait_for(
            lambda c=customer, ch=channel: (
                [e["text"] for e in customer_entries(conversation_of(wired, c))] == [f"Hi over {ch}"]
            ),
            what=f"the message in Salesforce ({channel})",
        )
        console(wired, conversation, "accept")
        console(wired, conversation, "reply", text=f"Answer over {channel}")
        wait_for(
            lambda c=customer, ch=channel: f"Answer over {ch}" in phone_texts(wired, c, ch),
            what=f"the answer on the phone ({channel})",
        )
        customer_writes(wired.sim, "Thanks!", channel=channel, sender=sender, customer=customer)
        wait_for(
            lambda c=customer: (
                [e["text"] for e in customer_entries(conversation_of(wired, c))][-1:] == ["Thanks!"]
            ),
            what=f"the second message ({channel})",
        )
        assert phone_texts(wired, customer, channel).count(f"Answer over {channel}") == 1

    # Media both ways (WhatsApp): the customer's photo reaches the agent as a file, the agent's PDF the phone.
    customer = "385919997701"
    response = wired.sim.post(
        "/__sim/infobip/inbound",
        json={
            "account": "demo-account-key",
            "channel": "WHATSAPP",
            "from": customer,
            "to": WHATSAPP,
            "name": "Frank",
            "media": {
                "type": "IMAGE",
                "caption": "the damaged box",
                "content_b64": base64.b64encode(PNG).decode(),
                "content_type": "image/png",
                "filename": "box.png",
            },
        },
    )
    assert response.status_code == 201, response.text
    files = wait_for(
        lambda: [a for e in customer_entries(conversation_of(wired, customer)) for a in attachments(e)],
        what="the photo as a file in Salesforce",
    )
    assert [(f["name"], f["mimeType"]) for f in files] == [("box.png", "image/png")]
    conversation = conversation_of(wired, customer)
    console(
        wired,
        conversation,
        "reply",
        text="Here is the label",
        attachment={
            "name": "label.pdf",
            "mimeType": "application/pdf",
            "contentBase64": base64.b64encode(b"%PDF-1.4 label").decode(),
        },
    )
    sent = wait_for(
        lambda: [m for m in phone_received(wired.sim, customer) if m["kind"] == "DOCUMENT"],
        what="the agent's PDF on the phone",
    )
    assert len(sent) == 1

    # The agent ends it: the closing text, once; the next message opens a new conversation.
    console(wired, conversation, "end")
    closing = wired.tenant.closing_text
    wait_for(lambda: closing in phone_texts(wired, customer, "WHATSAPP"), what="the closing text")
    customer_writes(wired.sim, "One more thing", customer=customer)
    wait_for(
        lambda: conversation_of(wired, customer)["conversationId"] != conversation["conversationId"],
        what="a new conversation",
    )
    assert phone_texts(wired, customer, "WHATSAPP").count(closing) == 1


def test_a_rate_limit_a_dropped_stream_and_a_restart_lose_and_duplicate_nothing(enhanced, stream_listener):
    wired = enhanced
    customer = "385919997710"
    # Salesforce takes two messages per conversation per 3 s window: the rest wait, in order, saying why.
    assert wired.sim.put(
        LIMITS, json={"messages_per_conversation_per_minute": 2, "window_seconds": 3}
    ).is_success
    texts = [f"part {n}" for n in range(1, 7)]
    for text in texts:
        customer_writes(wired.sim, text, customer=customer)
    wait_for(
        lambda: Message.objects.filter(
            last_error__startswith="Held back by Salesforce's rate limit"
        ).exists(),
        what="a message held back by the rate limit",
    )
    try:
        wait_for(
            lambda: (
                (c := conversation_of(wired, customer)) and [e["text"] for e in customer_entries(c)] == texts
            ),
            timeout=150,  # a lost task waits for the sweeper and a lease (RELAY_LEASE_SECONDS) on a loaded machine
            what="every part delivered once, in order",
        )
    except BaseException:  # say where each message stands
        rows = Message.objects.filter(direction=Message.Direction.INBOUND).order_by("sequence")
        print([(m.text, m.status, m.attempts, m.last_error, m.next_attempt_at) for m in rows])
        print([e["text"] for e in customer_entries(conversation_of(wired, customer) or {"entries": []})])
        raise
    conversation = conversation_of(wired, customer)

    # The agent answers; the stream is dropped between two answers, then the listener restarts between two more.
    console(wired, conversation, "accept")
    console(wired, conversation, "reply", text="answer 1")
    wait_for(lambda: "answer 1" in phone_texts(wired, customer, "WHATSAPP"), what="answer 1")
    assert wired.sim.post("/__sim/enhancedchat/streams/drop", json={"org_id": wired.org_id}).is_success
    console(wired, conversation, "reply", text="answer 2")
    wait_for(lambda: "answer 2" in phone_texts(wired, customer, "WHATSAPP"), what="answer 2 after the drop")
    stream_listener.stop()
    console(wired, conversation, "reply", text="answer 3")
    stream_listener.start()
    console(wired, conversation, "reply", text="answer 4")
    answers = [f"answer {n}" for n in range(1, 5)]
    wait_for(
        lambda: [t for t in phone_texts(wired, customer, "WHATSAPP") if t in answers] == answers,
        what="every answer once, in order",
    )
    session = EnhancedChatSession.objects.get(conversation_uuid=conversation["conversationId"])
    assert session.status == EnhancedChatSession.Status.OPEN and session.last_event_id
