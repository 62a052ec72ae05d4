"""The renderer reads stored inbound content through the typed shapes of relay/events.py and never raises,
whatever a row holds: rows of the older shapes, missing keys, nulls, wrong types, anything JSON can carry."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.desks.render import as_text, describe, media_link_note
from relay.events import Contact, InboundMessage, Kind, Phone
from relay.models import Message
from relay.providers.registry import get_provider
from tests.relay.test_infobip_fixture_sources import FIXTURES, fixture_names

REPRS = ("None", "{'", "['", "Contact(", "Phone(", "Location(", "Media(", "Order(", "Reaction(", "<")


def row(kind: str, content, text: str = "") -> Message:
    """An unsaved row: the renderer reads only ``kind``, ``text`` and ``content``."""
    return Message(kind=kind, text=text, content=content)


def assert_readable(text: str) -> None:
    assert isinstance(text, str) and text.strip(), f"empty: {text!r}"
    assert not any(marker in text for marker in REPRS), f"not readable: {text!r}"


# --- every fixture: parse → store as JSON → read back → the same typed event, the same words -------------


def inbound_events():
    for name in fixture_names():
        body = json.loads((FIXTURES / f"{name}.json").read_text())
        for event in get_provider("infobip").parse_webhook(body):
            if isinstance(event, InboundMessage):
                yield pytest.param(event, id=f"{name}:{event.provider_message_id[-3:]}")


@pytest.mark.parametrize("event", list(inbound_events()))
def test_stored_content_reads_back_as_the_parsed_event(event):
    stored = json.loads(json.dumps(event.as_dict(), ensure_ascii=False))  # what the JSON column holds
    assert InboundMessage.from_content(stored, kind=stored["kind"], text=stored["text"]) == event
    assert_readable(as_text(row(str(event.kind), stored, event.text)))
    if event.kind not in (Kind.TEXT, Kind.MEDIA, Kind.UNSUPPORTED):
        # Structured messages keep the renderer's words as their text: the admin shows what the agent reads.
        assert event.text == describe(event)


# --- rows written before the shapes were typed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        pytest.param(
            "contacts",
            {"contacts": [{"name": "Frank Bipper", "phones": ["+385918889999"], "organization": "Infobip"}]},
            "👤 Contact: Frank Bipper (Infobip) – +385918889999",
            id="parser-shape-of-issue-13",
        ),
        pytest.param(
            "contacts",
            {
                "contacts": [
                    {
                        "name": {"firstName": "Frank", "lastName": "Bipper"},
                        "phones": [{"phone": "385918889999", "type": "CELL"}],
                        "emails": [{"email": "frank@example.com"}],
                        "org": {"company": "Infobip"},
                    }
                ]
            },
            "👤 Contact: Frank Bipper (Infobip) – 385918889999 (cell), frank@example.com",
            id="vendor-shape-the-old-renderer-expected",
        ),
        pytest.param(
            "location",
            {"location": {"latitude": 45.8, "longitude": 15.9, "name": "Zagreb", "address": "", "url": ""}},
            "📍 Location: Zagreb – https://maps.google.com/?q=45.8,15.9",
            id="location-dict",
        ),
        pytest.param(
            "unsupported",
            {"text": "The customer reacted 🤓 to an earlier message."},
            "The customer reacted 🤓 to an earlier message.",
            id="reaction-stored-as-a-note",
        ),
        pytest.param(
            "button", {"payload": "agent"}, "(a button with the payload 'agent')", id="button-without-text"
        ),
    ],
)
def test_rows_in_the_old_shapes_still_read(kind, content, expected):
    assert as_text(row(kind, content)) == expected


# --- odd content: missing keys, nulls, wrong types --------------------------------------------------------

ODD_VALUES = [None, "", "x", 0, -1.5, True, [], {}, [None], [1, "a"], {"a": None}, "NaN", 1e308]
KEYS = ("location", "contacts", "media", "reaction", "order", "payload", "text", "kind", "received_at")


@pytest.mark.parametrize("kind", [*Kind, "history", "", "template"])
@pytest.mark.parametrize("key", KEYS)
def test_any_odd_value_under_any_key_renders(kind, key):
    for value in ODD_VALUES:
        for nested in (value, {"latitude": value, "name": value, "phones": value, "items": value}):
            message = row(str(kind), {key: nested})
            assert_readable(as_text(message))
            assert_readable(media_link_note(message, "a reason"))


@pytest.mark.parametrize("content", [None, [], "text", 7, {"contacts": "Frank"}, {"contacts": [[], "x", 3]}])
def test_content_that_is_not_an_object_renders(content):
    for kind in Kind:
        assert_readable(as_text(row(str(kind), content)))


def test_contact_parts_of_the_wrong_type_are_left_out():
    content = {
        "contacts": [
            {
                "name": {"formattedName": ["Frank"], "firstName": "Frank", "lastName": 7},
                "phones": [None, {"phone": {"n": 1}}, {"phone": "385918889999", "type": None}, 12345678],
                "emails": "frank@example.com",
                "org": ["Infobip"],
            }
        ]
    }
    (contact,) = InboundMessage.from_content(content, kind="contacts").contacts
    assert contact == Contact(name="Frank 7", phones=(Phone("385918889999"), Phone("12345678")))


def test_coordinates_out_of_range_or_not_numbers_are_dropped():
    for latitude, longitude in [(91, 0), (0, 181), ("north", 1), (None, 1), (float("inf"), 1), (True, 1)]:
        location = InboundMessage.from_content({"location": {"latitude": latitude, "longitude": longitude}})
        assert (location.location.latitude, location.location.longitude) == (None, None)
        text = as_text(row("location", {"location": {"latitude": latitude, "longitude": longitude}}))
        # not "Location: shared pin", a pin that points nowhere
        assert text == "📍 The customer shared a location without coordinates."


# --- anything JSON can carry (hypothesis) -------------------------------------------------------------------

# Strings from an alphabet that cannot spell a repr marker, so any marker in the output came from us.
words = st.text(alphabet="abcdefghij klmnop+-.:/@😀é0123456789", max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | words,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    *KEYS,
                    "name",
                    "phones",
                    "emails",
                    "org",
                    "latitude",
                    "longitude",
                    "items",
                    "emoji",
                    "action",
                    "url",
                    "caption",
                    "filename",
                    "quantity",
                    "price",
                    "currency",
                    "product_id",
                ]
            )
            | words,
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from([*map(str, Kind), "history", ""]) | words,
    content=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6) | json_values,
    text=words,
)
def test_the_renderer_never_raises_and_always_writes_something_readable(kind, content, text):
    message = row(kind, content, text)
    assert_readable(as_text(message))
    assert_readable(media_link_note(message, "a reason"))
