"""``InboundMessage.as_dict`` (relay/events.py), what a customer message's ``Message.content`` is made of: the
same JSON as ``dataclasses.asdict`` gave, for every provider fixture, without deep-copying the event."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.events import (
    Contact,
    Email,
    InboundMessage,
    Kind,
    Location,
    Media,
    Order,
    OrderItem,
    Organization,
    Phone,
    Reaction,
)
from relay.providers.eightbyeight.parser import parse_webhook as parse_8x8
from relay.providers.infobip.parser import parse_webhook as parse_infobip

PROVIDERS = Path(__file__).resolve().parents[2] / "relay" / "providers"
PARSERS = {"infobip": parse_infobip, "eightbyeight": parse_8x8}


def deep_copied(event: InboundMessage) -> dict:
    """What as_dict returned before: the whole event through ``dataclasses.asdict``."""
    data = dataclasses.asdict(event)
    data["kind"] = str(event.kind)
    data["received_at"] = event.received_at.isoformat() if event.received_at else None
    return data


def every_inbound_fixture() -> list:
    cases = []
    for provider, parse in PARSERS.items():
        for path in sorted((PROVIDERS / provider / "fixtures").glob("*.json")):
            try:
                events = parse(json.loads(path.read_text()))
            except Exception:  # noqa: BLE001, S112 - a fixture of a refused body: no event to store
                continue
            cases += [
                pytest.param(event, id=f"{provider}/{path.stem}/{n}")
                for n, event in enumerate(events)
                if isinstance(event, InboundMessage)
            ]
    return cases


EVERY_PART = InboundMessage(
    provider_message_id="m-1",
    channel="whatsapp",
    sender_address="+447860000000",
    customer="+447700900123",
    kind=Kind.ORDER,
    text="hello",
    customer_name="Ada",
    media=Media(url="https://files.example/1", kind="image", mime_type="image/png", size=12),
    payload="p",
    location=Location(latitude=51.5, longitude=-0.1, name="Office"),
    contacts=(
        Contact(
            name="Bob",
            phones=(Phone("+447700900999", "CELL"),),
            emails=(Email("bob@example.com"),),
            org=Organization(company="Acme"),
            urls=("https://acme.example",),
            addresses=("1 Main St, London",),
        ),
        Contact(name="Eve"),
    ),
    reaction=Reaction(emoji="👍", message_id="m-0"),
    order=Order(catalog_id="c", items=(OrderItem("sku", 2, 9.5, "EUR"),), text="note"),
    received_at=datetime(2026, 12, 4, 17, 0, tzinfo=UTC),
    raw={"results": [{"messageId": "m-1", "message": {"nested": ["a", {"b": 1}]}}]},
)


@pytest.mark.parametrize("event", [pytest.param(EVERY_PART, id="every-part"), *every_inbound_fixture()])
def test_as_dict_is_what_asdict_gave(event):
    content = event.as_dict()
    assert content == deep_copied(event)
    assert json.dumps(content) == json.dumps(deep_copied(event))  # the JSON column's text too (order, tuples)
    assert InboundMessage.from_content(content) == event


def test_the_fixtures_hold_inbound_messages():
    assert len(every_inbound_fixture()) >= 40  # the parametrized test above is not vacuous


def test_the_providers_result_is_not_copied_and_the_parts_are_dicts():
    content = EVERY_PART.as_dict()
    assert content["raw"] is EVERY_PART.raw
    assert content["media"] == {
        "url": "https://files.example/1",
        "kind": "image",
        "mime_type": "image/png",
        "filename": "",
        "caption": "",
        "size": 12,
    }
    assert content["contacts"][0]["phones"] == ({"number": "+447700900999", "label": "CELL"},)
    assert content["kind"] == "order" and type(content["kind"]) is str
    assert content["received_at"] == "2026-12-04T17:00:00+00:00"
