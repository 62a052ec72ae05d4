"""Chatbot → agent handover through the whole product: the bot calls Switchboard, the transcript reaches
the agent console in order and once, the customer hears from Switchboard, and no agent means waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.core.cache import cache

from relay.handover.models import Handover, HandoverEndpoint
from relay.models import Message
from tests.e2e.conftest import (
    CUSTOMER,
    WHATSAPP,
    agent_id,
    console_sessions,
    customer_writes,
    entry_texts,
    phone_received,
    session_entries,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def bot_transcript(count: int = 12, *, start: datetime | None = None) -> list[dict]:
    start = start or datetime.now(UTC) - timedelta(minutes=15)
    return [
        {
            "id": f"m{index}",
            "speaker": "customer" if index % 2 == 0 else "bot",
            "text": f"{'Customer' if index % 2 == 0 else 'Bot'} line {index:02d}",
            "time": (start + timedelta(seconds=20 * index)).isoformat().replace("+00:00", "Z"),
        }
        for index in range(count)
    ]


@pytest.fixture
def bot(wired):
    """The demo tenant's handover endpoint and a client that calls it as a bot would."""
    cache.clear()  # presence answers are cached for seconds; each test starts from the sandbox's truth
    endpoint, secret = HandoverEndpoint.issue(wired.tenant)
    url = f"{wired.live_server.url}{endpoint.path}"

    def call(body: dict) -> httpx.Response:
        return httpx.post(url, json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=10)

    return type("Bot", (), {"endpoint": endpoint, "secret": secret, "url": url, "call": staticmethod(call)})


def set_ccaas(wired, enabled: bool) -> None:
    org = wired.sandbox.world.orgs.get(wired.org_id)
    wired.sandbox.call(lambda: setattr(org, "ccaas_enabled", enabled))


def customer_session(wired) -> dict | None:
    sessions = [
        s
        for s in console_sessions(wired.sim, wired.org_id)
        if (s.get("endUserClientId") or "").lstrip("+") == CUSTOMER
    ]
    return sessions[-1] if sessions else None


def texts_in_console(wired, count: int) -> list[str]:
    """The session's texts once it has ``count`` of them (or more)."""

    def enough():
        session = customer_session(wired)
        texts = entry_texts(session_entries(wired.sim, wired.org_id, session["id"])) if session else []
        return texts if len(texts) >= count else None

    return wait_for(enough, timeout=30, what=f"{count} entries in the agent console")


def phone_texts(wired) -> list[str]:
    return [m["content"].get("text") for m in phone_received(wired.sim) if m["content"].get("text")]


@pytest.mark.parametrize("ccaas", [True, False], ids=["ccaas-history-api", "messaging-replay"])
def test_a_twelve_message_transcript_reaches_the_console_in_order_once(wired, bot, ccaas):
    set_ccaas(wired, ccaas)
    transcript = bot_transcript(12)
    response = bot.call({"customer": f"+{CUSTOMER}", "sender": f"+{WHATSAPP}", "transcript": transcript})
    assert response.status_code == 202, response.text
    assert response.json()["entries"] == 12

    texts = texts_in_console(wired, 12)
    expected = [entry["text"] for entry in transcript]
    if ccaas:
        assert texts == expected  # imported as the customer's and the bot's own entries
        session = customer_session(wired)
        roles = [e["sender"]["role"] for e in session_entries(wired.sim, wired.org_id, session["id"])]
        assert roles == ["EndUser", "Chatbot"] * 6
    else:
        assert len(texts) == 12  # replayed, each once, with the speaker and time in front
        for text, entry in zip(texts, transcript, strict=True):
            speaker = "Customer" if entry["speaker"] == "customer" else "Bot"
            assert text.startswith(f"[{speaker} ") and text.endswith(entry["text"])
    handover = wait_for(
        lambda: Handover.objects.filter(status="delivered").first(), what="the handover to finish"
    )
    assert handover.method == ("history_api" if ccaas else "replay") and handover.messaging_session_id
    endpoint = HandoverEndpoint.objects.get(pk=bot.endpoint.pk)
    # Salesforce's 10057 is remembered: this tenant's next handovers replay without asking again.
    assert endpoint.history_mode == ("auto" if ccaas else "replay")
    # The customer hears that an agent will join.
    wait_for(lambda: wired.tenant.welcome_text in phone_texts(wired), what="the welcome text on the phone")


def test_a_handover_retried_three_times_imports_once(wired, bot):
    """Infobip Answers' "Call API" step with its default body, fired four times (a call and 3 retries)."""
    conversation = wired.sim.post(
        "/__sim/infobip/conversations",
        json={
            "account": "demo-account-key",
            "channel": "WHATSAPP",
            "sender": WHATSAPP,
            "customer": CUSTOMER,
            "messages": [
                {"direction": "INBOUND" if i % 2 == 0 else "OUTBOUND", "text": f"Bot chat {i:02d}"}
                for i in range(7)
            ],
        },
    )
    assert conversation.status_code == 201, conversation.text
    calls = [
        wired.sim.post(
            "/__sim/infobip/answers/call-api",
            json={
                "account": "demo-account-key",
                "url": bot.url,
                "channel": "WHATSAPP",
                "customer": CUSTOMER,
                "headers": {"Authorization": f"Bearer {bot.secret}"},
            },
        ).json()
        for _ in range(4)
    ]
    assert [c["status"] for c in calls] == [202, 200, 200, 200], calls

    texts = texts_in_console(wired, 7)
    assert [t.split("] ", 1)[1] for t in texts] == [f"Bot chat {i:02d}" for i in range(7)]
    assert Handover.objects.count() == 1
    assert Message.objects.filter(kind="history").count() == 1
    # Nothing more arrives later: the line is done and every entry was sent once.
    wait_for(lambda: Handover.objects.get().status == "delivered", what="the handover to finish")
    session = customer_session(wired)
    assert len(entry_texts(session_entries(wired.sim, wired.org_id, session["id"]))) == 7


def test_a_customer_message_sent_during_the_import_lands_after_the_transcript(wired, bot):
    set_ccaas(wired, False)
    # Every Interaction Service call takes a while, so the customer writes while the import runs.
    wired.sim.post(
        "/__sim/faults", json={"service": "scrt", "path": "/interactions", "latency_ms": 250, "error_rate": 0}
    )
    transcript = bot_transcript(12)
    assert bot.call({"customer": CUSTOMER, "transcript": transcript}).status_code == 202
    texts_in_console(wired, 1)  # the import has started
    customer_writes(wired.sim, "Hello? Is anybody there?")

    texts = texts_in_console(wired, 13)
    wired.sim.delete("/__sim/faults")
    assert [t.split("] ", 1)[-1] for t in texts[:12]] == [e["text"] for e in transcript]
    assert texts[12:] == ["Hello? Is anybody there?"]
    handover = wait_for(
        lambda: Handover.objects.filter(status="delivered").first(), what="the handover to finish"
    )
    assert len(handover.imported_ids) == 12
    # While the import ran, the customer's message had to wait for it.
    during = wait_for(
        lambda: Message.objects.filter(text="Hello? Is anybody there?", status="delivered").first(),
        what="the customer's message recorded as delivered",
    )
    assert during.delivered_at > Message.objects.get(kind="history").delivered_at


def test_no_agent_online_waits_then_delivers_once_an_agent_goes_online(wired, bot):
    set_ccaas(wired, True)
    ada = agent_id(wired.sim, wired.org_id)
    offline = wired.sim.put(
        f"/__sim/console/api/orgs/{wired.org_id}/agents/{ada}/presence", json={"online": False}
    )
    assert offline.status_code == 200, offline.text
    transcript = bot_transcript(12)
    assert bot.call({"customer": CUSTOMER, "transcript": transcript}).status_code == 202

    wait_for(lambda: wired.tenant.no_agent_text in phone_texts(wired), what="the no-agent text on the phone")
    handover = wait_for(
        lambda: Handover.objects.filter(status="waiting").first(), what="the handover to wait for an agent"
    )
    assert handover.waiting_since is not None
    assert customer_session(wired) is None  # nothing went to Salesforce while nobody could answer
    customer_writes(wired.sim, "Still there?")  # queues behind the transcript
    line = wait_for(
        lambda: Message.objects.filter(text="Still there?").first(), what="the customer's message stored"
    )
    assert line.status == "pending"

    online = wired.sim.put(
        f"/__sim/console/api/orgs/{wired.org_id}/agents/{ada}/presence", json={"online": True}
    )
    assert online.status_code == 200, online.text
    texts = texts_in_console(wired, 13)
    assert texts == [e["text"] for e in transcript] + ["Still there?"]
    wait_for(lambda: Handover.objects.filter(status="delivered").exists(), what="the handover to finish")
    wait_for(lambda: wired.tenant.welcome_text in phone_texts(wired), what="the welcome text after waiting")
    on_phone = phone_texts(wired)
    assert on_phone.count(wired.tenant.no_agent_text) == 1
    assert on_phone.index(wired.tenant.no_agent_text) < on_phone.index(wired.tenant.welcome_text)


def test_the_closing_text_follows_the_end_of_the_session(wired, bot, listener):
    set_ccaas(wired, False)
    assert bot.call({"customer": CUSTOMER, "transcript": bot_transcript(2)}).status_code == 202
    texts_in_console(wired, 2)
    session = customer_session(wired)
    ada = agent_id(wired.sim, wired.org_id)
    base = f"/__sim/console/api/orgs/{wired.org_id}/sessions/{session['id']}"
    assert wired.sim.post(f"{base}/accept", json={"agent": ada}).status_code == 200
    assert wired.sim.post(f"{base}/end", json={"agent": ada}).status_code == 200
    wait_for(lambda: wired.tenant.closing_text in phone_texts(wired), what="the closing text on the phone")
    assert phone_texts(wired).count(wired.tenant.closing_text) == 1
