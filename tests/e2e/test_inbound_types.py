"""Every inbound message type of Infobip's OpenAPI reaches the sandbox Salesforce readable, through the whole
product: a signed webhook POST with the vendor's own body (relay/providers/infobip/fixtures, where each one
comes from is checked in tests/relay/test_infobip_fixture_sources.py), the real worker, the Interaction
Service. Only the addresses, the ids and the media links are changed, to the demo tenant's senders, a
customer per fixture and files the sandbox Infobip really serves."""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from relay.events import InboundMessage, Kind
from relay.inbound.auth import expected_signature
from relay.models import Message
from relay.providers.registry import get_provider
from tests.e2e.conftest import SMS, VIBER, WHATSAPP, console_sessions, session_entries, wait_for
from tests.relay.test_infobip_fixture_sources import FIXTURES, fixture_names

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WEBHOOK_SECRET = "demo-webhook-secret"
MESSAGES_API_SENDERS = {"WHATSAPP": WHATSAPP, "SMS": SMS, "VIBER_BM": VIBER, "VIBER_BOT": VIBER}
MEDIA_TYPES = {"IMAGE", "VIDEO", "AUDIO", "VOICE", "DOCUMENT", "FILE", "STICKER"}
# What Salesforce shows when it could not be told anything readable.
UNREADABLE = ("None", "{'", "['", "Contact(", "Location(", "(empty message)", "(an empty message)")


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def inbound_count(body: dict) -> int:
    return sum(isinstance(e, InboundMessage) for e in get_provider("infobip").parse_webhook(body))


def served(body: dict) -> bool:
    """Messages API examples on channels Switchboard has no senders for (Apple Messages for Business,
    Messenger) stay parser tests: a tenant cannot receive them."""
    return all(r.get("channel", "WHATSAPP") in MESSAGES_API_SENDERS for r in body["results"] if "event" in r)


INBOUND_FIXTURES = [name for name in fixture_names() if inbound_count(load(name)) and served(load(name))]


class Phone:
    """The customer's side: webhook bodies as Infobip posts them, for the demo account."""

    def __init__(self, wired):
        self.wired = wired
        self.url = f"{wired.live_server.url}/webhooks/infobip/demo-account-key/"
        service = wired.sandbox.world.infobip
        self.account = wired.sandbox.call(lambda: service.accounts["demo-account-key"])

    def media_url(self, kind: str) -> str:
        """A file the sandbox Infobip serves under the demo WhatsApp sender (placeholder bytes per type)."""
        service = self.wired.sandbox.world.infobip
        kind = {"FILE": "DOCUMENT"}.get(kind, kind)
        media = self.wired.sandbox.call(lambda: service.store_media(self.account, WHATSAPP, kind, None))
        return self.wired.sandbox.call(lambda: service.media_url(media))

    def adapt(self, body: dict, customer: str, prefix: str) -> dict:
        """The fixture for the demo tenant: its senders, this customer, ids of its own, served media."""
        body = copy.deepcopy(body)
        for result in body["results"]:
            result["messageId"] = f"{prefix}-{result['messageId']}"
            if "event" in result:  # Messages API
                result["sender"], result["destination"] = customer, MESSAGES_API_SENDERS[result["channel"]]
                for part in result["content"]:
                    if part.get("type") in MEDIA_TYPES:
                        part["url"] = self.media_url(part["type"])
            elif "sender" in result:  # Viber (Business Messages and Bot API)
                result["sender"], result["to"] = customer, VIBER
                message = result["message"].get("message") or result["message"]
                if message.get("type") in MEDIA_TYPES and message.get("url"):
                    message["url"] = self.media_url(message["type"])
            elif "message" in result:  # WhatsApp
                result["from"], result["to"] = customer, WHATSAPP
                if result["message"].get("type") in MEDIA_TYPES:
                    result["message"]["url"] = self.media_url(result["message"]["type"])
            else:  # SMS
                result["from"], result["to"] = customer, SMS
        return body

    def post(self, body: dict) -> httpx.Response:
        raw = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": expected_signature(WEBHOOK_SECRET, raw),
        }
        response = httpx.post(self.url, content=raw, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response


def salesforce_entries(wired, customer: str) -> list[dict]:
    """The customer's entries in the sandbox Salesforce, oldest first."""
    sessions = [
        s
        for s in console_sessions(wired.sim, wired.org_id)
        if (s.get("endUserClientId") or "").lstrip("+") == customer.lstrip("+")
    ]
    entries = []
    for session in sessions:
        entries += [
            e
            for e in session_entries(wired.sim, wired.org_id, session["id"])
            if (e.get("sender") or {}).get("role") == "EndUser" and e.get("entryType") == "Message"
        ]
    return entries


def unreadable(entry: dict) -> str:
    """Why an entry is not something an agent can read, or '' when it is."""
    files = entry.get("files") or []
    if files:
        return "" if all(f.get("size") and f.get("name") for f in files) else f"an empty file: {files}"
    text = entry.get("text") or ""
    if not text.strip():
        return "no text"
    found = [marker for marker in UNREADABLE if marker in text]
    return f"{found} in {text!r}" if found else ""


def test_a_contact_card_then_a_text_from_the_same_customer_both_reach_salesforce_in_order(wired):
    phone = Phone(wired)
    customer = "385917000001"
    card = phone.adapt(load("whatsapp_contact"), customer, "card")
    text = phone.adapt(load("whatsapp_text"), customer, "text")
    text["results"][0]["message"]["text"] = "Please call Frank, he has my parcel"
    phone.post(card)
    phone.post(text)

    entries = wait_for(
        lambda: (found := salesforce_entries(wired, customer)) and len(found) >= 2 and found,
        timeout=30,
        what="both messages in Salesforce",
    )
    assert [e["text"] for e in entries] == [
        "👤 Contact: Frank Bipper (Infobip, Support, eng.) – +385918889999 (cell), frank@example.com (home), "
        "https://www.infobip.com, Street, New York, NY, 10001, USA, born 1980-01-01",
        "Please call Frank, he has my parcel",
    ]
    wait_for(
        lambda: Message.objects.filter(direction="in", status="delivered").count() == 2,
        what="both rows delivered",
    )
    rows = Message.objects.filter(direction="in").order_by("sequence")
    assert [(m.kind, m.status, m.attempts) for m in rows] == [
        ("contacts", "delivered", 1),
        ("text", "delivered", 1),
    ]


def test_each_inbound_type_reaches_the_sandbox_salesforce_readable(wired):
    phone = Phone(wired)
    expected = {}
    for index, name in enumerate(INBOUND_FIXTURES):
        customer = f"3859170{index:05d}"
        body = phone.adapt(load(name), customer, name)
        expected[name] = (customer, inbound_count(body))
        phone.post(body)
    total = sum(count for _, count in expected.values())

    def settled():
        stored = Message.objects.filter(direction="in")
        return stored.count() == total and not stored.exclude(status__in=["delivered", "failed"]).exists()

    wait_for(settled, timeout=120, what=f"all {total} inbound messages delivered or failed")
    failed = {
        m.provider_message_id: m.last_error for m in Message.objects.filter(direction="in", status="failed")
    }
    assert failed == {}

    problems = {}
    for name, (customer, count) in expected.items():
        entries = salesforce_entries(wired, customer)
        if len(entries) != count:
            problems[name] = f"{len(entries)} entries in Salesforce, expected {count}"
            continue
        reasons = [reason for reason in map(unreadable, entries) if reason]
        if reasons:
            problems[name] = "; ".join(reasons)
    assert problems == {}

    # The media types arrive as files, not as links: the sandbox Infobip served them.
    media_rows = Message.objects.filter(direction="in", kind=Kind.MEDIA)
    attached = {
        name
        for name, (customer, _) in expected.items()
        for entry in salesforce_entries(wired, customer)
        if entry.get("files")
    }
    assert media_rows.exists() and attached, "no media fixture reached Salesforce as a file"
