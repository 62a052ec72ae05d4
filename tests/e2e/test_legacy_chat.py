"""The Legacy Chat desk through the whole product: Infobip webhooks, a real worker, relay_listen long-polling the
sandbox's Chat REST API, and the sandbox's chat agents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from portal.console.snippets import parse_legacy_chat
from relay.desks.livechat_check import check_chat_configuration
from relay.desks.livechat_models import LiveChatCustomField, LiveChatSession
from relay.handover.models import Handover, HandoverEndpoint
from relay.models import Message
from tenants.models import SalesforceConnection
from tests.e2e.conftest import (
    CUSTOMER,
    SMS,
    VIBER,
    WHATSAPP,
    ListenerProcess,
    customer_writes,
    phone_received,
    wait_for,
)
from tests.relay.livechat_snippets import setup_snippets

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HOOKS = "/__sim/livechat"


@pytest.fixture
def chat_desk(wired):
    """The demo tenant switched to Legacy Chat from the two pasted snippets alone (Support_Chat), checked live
    first, with a custom field for the transcript."""
    state = wired.sim.get(f"{HOOKS}/orgs/{wired.org_id}").json()
    buttons = {b["developerName"]: b["id"][:15] for b in state["buttons"]}
    deployment_code, button_code = setup_snippets(
        f"{wired.sandbox.base_url}/sim/livechat/chat",
        state["deployments"][0]["id"][:15],
        wired.org_id[:15],
        buttons["Support_Chat"],
    )
    parsed = parse_legacy_chat(deployment_code, button_code)
    check = check_chat_configuration(
        parsed.chat_api_endpoint, parsed.org_id, parsed.deployment_id, parsed.button_id
    )
    assert check.ok and check.available, check.errors
    connection = wired.tenant.salesforce
    connection.desk = SalesforceConnection.Desk.LIVECHAT
    connection.chat_api_endpoint = parsed.chat_api_endpoint
    connection.chat_deployment_id = parsed.deployment_id
    connection.chat_button_id = parsed.button_id
    connection.full_clean()
    connection.save()
    LiveChatCustomField.objects.create(
        tenant=wired.tenant, label="Brand", value="Acme Mobile", transcript_field="Brand__c"
    )
    wired.buttons = buttons
    return wired


@pytest.fixture
def chat_listener(chat_desk):
    """``manage.py relay_listen`` as its own process; ``restart()`` stops and starts it."""
    with ListenerProcess(chat_desk, log_name="listener-livechat.log", max_backoff=None) as process:
        yield process


def chat_of(wired, customer: str) -> dict | None:
    """The sandbox chat whose prechat phone is ``customer`` (the latest one)."""
    found = None
    for summary in wired.sim.get(f"{HOOKS}/chats", params={"org": wired.org_id}).json():
        detail = wired.sim.get(f"{HOOKS}/chats/{summary['id']}").json()
        values = [d.get("value", "") for d in detail["prechatDetails"]]
        if values and values[0].lstrip("+") == customer.lstrip("+"):
            found = detail
    return found


def agent(wired, chat_id: str, action: str, **body) -> dict:
    response = wired.sim.post(f"{HOOKS}/chats/{chat_id}/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def phone_texts(wired, customer: str, channel: str) -> list[str]:
    return [m["content"].get("text") for m in phone_received(wired.sim, customer, channel=channel)]


@pytest.mark.parametrize(
    ("channel", "sender", "customer"),
    [("WHATSAPP", WHATSAPP, CUSTOMER), ("SMS", SMS, "385919998801"), ("VIBER", VIBER, "385919998802")],
)
def test_a_customer_chats_with_an_agent_both_ways(chat_desk, chat_listener, channel, sender, customer):
    wired = chat_desk
    customer_writes(wired.sim, f"Hi over {channel}", channel=channel, sender=sender, customer=customer)
    chat = wait_for(lambda: chat_of(wired, customer), what="a chat request for the customer")
    details = {d["label"]: d for d in chat["prechatDetails"]}
    assert details["Phone"]["value"].lstrip("+") == customer and details["Phone"]["transcriptFields"]
    assert details["Brand"]["value"] == "Acme Mobile" and details["Brand"]["transcriptFields"] == ["Brand__c"]
    assert chat["prechatEntities"][0]["entityName"] == "Contact"
    wait_for(
        lambda: chat_of(wired, customer)["visitorMessages"] == [f"Hi over {channel}"], what="the message"
    )

    agent(wired, chat["id"], "accept", agent="ada@acme.demo")
    agent(wired, chat["id"], "messages", text=f"Answer over {channel}")
    wait_for(lambda: f"Answer over {channel}" in phone_texts(wired, customer, channel), what="the answer")

    customer_writes(wired.sim, "Thanks!", channel=channel, sender=sender, customer=customer)
    wait_for(
        lambda: chat_of(wired, customer)["visitorMessages"][-1:] == ["Thanks!"], what="the second message"
    )

    agent(wired, chat["id"], "end")
    closing = wired.tenant.closing_text
    wait_for(lambda: closing in phone_texts(wired, customer, channel), what="the closing text")
    assert phone_texts(wired, customer, channel).count(f"Answer over {channel}") == 1
    wait_for(
        lambda: not LiveChatSession.objects.filter(status__in=LiveChatSession.OPEN).exists(),
        what="the chat to end in Switchboard",
    )
    # A new message after the end opens a new chat.
    customer_writes(wired.sim, "One more thing", channel=channel, sender=sender, customer=customer)
    wait_for(lambda: chat_of(wired, customer)["id"] != chat["id"], what="a new chat")


def test_no_agent_then_one_comes_online_across_a_restart_and_a_503(chat_desk, chat_listener):
    wired = chat_desk
    presence = f"{HOOKS}/orgs/{wired.org_id}/agents/ada@acme.demo/presence"
    assert wired.sim.post(presence, json={"online": False}).status_code == 200
    for text in ("first", "second", "third"):
        customer_writes(wired.sim, text)
    no_agent = wired.tenant.no_agent_text
    wait_for(lambda: no_agent in phone_texts(wired, CUSTOMER, "WHATSAPP"), what="the no-agent text")
    assert chat_of(wired, CUSTOMER) is None  # nothing was requested while nobody could take it

    chat_listener.restart()
    assert wired.sim.post(presence, json={"online": True}).status_code == 200
    chat = wait_for(
        lambda: (c := chat_of(wired, CUSTOMER)) and len(c["visitorMessages"]) == 3 and c,
        timeout=15,
        what="the held messages delivered once an agent is online",
    )
    assert chat["visitorMessages"] == ["first", "second", "third"]
    agent(wired, chat["id"], "accept", agent="ada@acme.demo")
    agent(wired, chat["id"], "messages", text="before the move")
    wait_for(lambda: "before the move" in phone_texts(wired, CUSTOMER, "WHATSAPP"), what="the first answer")

    # The session moves to another server (503 → ReconnectSession) and the listener restarts meanwhile.
    moved = wired.sim.post(f"{HOOKS}/sessions/{chat['sessionId']}/affinity-change")
    assert moved.status_code == 200, moved.text
    agent(wired, chat["id"], "messages", text="after the move")
    chat_listener.restart()
    wait_for(
        lambda: "after the move" in phone_texts(wired, CUSTOMER, "WHATSAPP"), what="the answer after a 503"
    )
    customer_writes(wired.sim, "fourth")
    wait_for(lambda: chat_of(wired, CUSTOMER)["visitorMessages"][-1:] == ["fourth"], what="a POST after it")

    texts = phone_texts(wired, CUSTOMER, "WHATSAPP")
    assert texts.count(no_agent) == 1
    assert texts.count("before the move") == 1 and texts.count("after the move") == 1
    assert chat_of(wired, CUSTOMER)["visitorMessages"] == ["first", "second", "third", "fourth"]
    assert not Message.objects.filter(
        direction=Message.Direction.INBOUND, status=Message.Status.FAILED
    ).exists()


def test_a_bot_handover_shows_the_transcript_before_the_customers_next_message(chat_desk, chat_listener):
    wired = chat_desk
    endpoint, secret = HandoverEndpoint.issue(wired.tenant)
    start = datetime.now(UTC) - timedelta(minutes=5)
    transcript = [
        {
            "id": f"m{index}",
            "speaker": "customer" if index % 2 == 0 else "bot",
            "text": f"{'Customer' if index % 2 == 0 else 'Bot'} line {index}",
            "time": (start + timedelta(seconds=20 * index)).isoformat().replace("+00:00", "Z"),
        }
        for index in range(4)
    ]
    for _ in range(2):  # a bot's retry imports nothing twice
        response = httpx.post(
            f"{wired.live_server.url}{endpoint.path}",
            json={"customer": f"+{CUSTOMER}", "sender": f"+{WHATSAPP}", "transcript": transcript},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        )
        assert response.status_code in (200, 202), response.text
    chat = wait_for(
        lambda: (c := chat_of(wired, CUSTOMER)) and len(c["visitorMessages"]) >= 4 and c,
        what="the transcript in the chat",
    )
    customer_writes(wired.sim, "Is anyone there?")
    wait_for(
        lambda: len(chat_of(wired, CUSTOMER)["visitorMessages"]) == 5, what="the customer's next message"
    )
    shown = chat_of(wired, CUSTOMER)["visitorMessages"]
    assert shown[-1] == "Is anyone there?"
    for text, entry in zip(shown[:4], transcript, strict=True):
        speaker = "Customer" if entry["speaker"] == "customer" else "Bot"
        assert text.startswith(f"[{speaker} ") and text.endswith(entry["text"])
    assert chat["id"] == chat_of(wired, CUSTOMER)["id"]  # one chat
    wait_for(lambda: Handover.objects.get().status == "delivered", what="the handover to finish")
