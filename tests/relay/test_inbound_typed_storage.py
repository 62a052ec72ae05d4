"""A webhook's typed parts (contact cards, orders, reactions, locations) are stored through the same
cleaning as its text: a NUL byte or half a surrogate pair inside a contact's name cannot reach the row
(PostgreSQL refuses NUL bytes in jsonb), and what is stored reads back as the parsed event."""

from __future__ import annotations

import json

import pytest

from relay.desks.render import as_text
from relay.events import InboundMessage
from relay.inbound.auth import expected_signature
from relay.models import Message
from tests.factories import make_account, make_sender, make_tenant
from tests.relay.test_infobip_fixture_sources import FIXTURES

pytestmark = pytest.mark.django_db

HOSTILE = "\x00\ud800"  # a NUL byte and an unpaired surrogate, as JSON escapes can carry them


@pytest.fixture
def account():
    account = make_account(make_tenant(welcome_text=""))
    make_sender(account, "+41793026731")  # the number the vendor's WhatsApp examples write to
    return account


def post(client, account, data: dict):
    body = json.dumps(data).encode()  # ensure_ascii: the surrogate travels as \ud800, as a provider's would
    headers = {"X-Hub-Signature-256": expected_signature(str(account.webhook_secret), body)}
    return client.post(account.webhook_path, data=body, content_type="application/json", headers=headers)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def poisoned(name: str, *paths: tuple) -> dict:
    data = fixture(name)
    for path in paths:
        node = data["results"][0]["message"]
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = f"{node[path[-1]]}{HOSTILE}"
    return data


@pytest.mark.parametrize(
    ("name", "paths"),
    [
        (
            "whatsapp_contacts_several",
            [
                ("contacts", 0, "name", "formattedName"),
                ("contacts", 1, "phones", 1, "type"),
                ("contacts", 1, "emails", 0, "email"),
                ("contacts", 0, "org", "company"),
            ],
        ),
        ("whatsapp_order", [("productItems", 0, "productRetailerId"), ("text",)]),
        ("whatsapp_reaction", [("context", "id")]),
        ("whatsapp_location", [("name",), ("address",)]),
    ],
)
def test_typed_parts_are_stored_clean_and_read_back(client, account, name, paths):
    response = post(client, account, poisoned(name, *paths))
    assert response.status_code == 200, response.content
    message = Message.objects.get()
    stored = json.dumps(message.content, ensure_ascii=False)
    assert "\x00" not in stored and "\\u0000" not in stored
    assert "\ud800" not in stored
    event = InboundMessage.from_content(message.content, kind=message.kind, text=message.text)
    assert event.kind == message.kind
    text = as_text(message)
    assert "\x00" not in text and text.strip()
