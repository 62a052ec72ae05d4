"""8x8 webhooks → events: every fixture written from 8x8's documents (relay/providers/eightbyeight/fixtures/),
and hostile bodies refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relay.desks.render import describe
from relay.events import IgnoredEvent, InboundMessage, Kind, ReportStatus, StatusReport
from relay.providers.eightbyeight.parser import parse_webhook

FIXTURES = Path(__file__).resolve().parents[2] / "relay" / "providers" / "eightbyeight" / "fixtures"
WA, VIBER, SMS = (
    "ec36a867-3dd4-e911-814a-02d85f55fce8",
    "5d0c7a1e-8b3f-4d2a-9e61-2f4b8c1d7a90",
    "b2f1e4c3-6a7d-4e8f-9a0b-1c2d3e4f5a6b",
)
CUSTOMER = "+447400123456"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def one(name: str):
    events = parse_webhook(fixture(name))
    assert len(events) == 1
    return events[0]


INBOUND = {
    # fixture: (channel, sender, kind, text, payload, media kind)
    "inbound_whatsapp_text": ("whatsapp", WA, Kind.TEXT, "WhatsApp inbound message", "", None),
    "inbound_viber_text": ("viber", VIBER, Kind.TEXT, "Viber inbound message", "", None),
    "inbound_sms_text": ("sms", SMS, Kind.TEXT, "SMS inbound message", "", None),
    "inbound_whatsapp_image": ("whatsapp", WA, Kind.MEDIA, "the receipt", "", "image"),
    "inbound_whatsapp_video": ("whatsapp", WA, Kind.MEDIA, "", "", "video"),
    "inbound_whatsapp_audio": ("whatsapp", WA, Kind.MEDIA, "", "", "audio"),
    "inbound_whatsapp_file": ("whatsapp", WA, Kind.MEDIA, "", "", "document"),
    "inbound_viber_image": ("viber", VIBER, Kind.MEDIA, "", "", "image"),
    "inbound_whatsapp_location": ("whatsapp", WA, Kind.LOCATION, "", "", None),
    "inbound_whatsapp_button_reply": ("whatsapp", WA, Kind.BUTTON, "Yes please", "yes-please", None),
    "inbound_whatsapp_list_reply": (  # the row's description too: rows may share a title
        "whatsapp",
        WA,
        Kind.LIST_REPLY,
        "Tuesday 10:00 (At the Orchard Road store)",
        "slot-2",
        None,
    ),
    "inbound_whatsapp_template_quick_reply": (
        "whatsapp",
        WA,
        Kind.BUTTON,
        "Track my order",
        "sample-payload",
        None,
    ),
    "inbound_whatsapp_reply_to": ("whatsapp", WA, Kind.TEXT, "About this one", "", None),
}


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_inbound_fixtures(name):
    channel, sender, kind, text, payload, media = INBOUND[name]
    event = one(name)
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.sender_address, event.kind, event.text, event.payload) == (
        channel,
        sender,
        kind,
        text,
        payload,
    )
    assert event.customer == CUSTOMER
    assert event.provider_message_id == fixture(name)["payload"]["umid"]
    assert event.received_at is not None and event.received_at.tzinfo is not None
    if media:
        assert event.media is not None and event.media.kind == media
        assert event.media.url == fixture(name)["payload"]["content"]["url"]
    else:
        assert event.media is None
    # the stored form reads back the same
    assert InboundMessage.from_content(event.as_dict()).as_dict() == event.as_dict()


def test_whatsapp_profile_name_and_location():
    assert one("inbound_whatsapp_text").customer_name == "Ana Customer"
    location = one("inbound_whatsapp_location").location
    assert (location.latitude, location.longitude) == (1.2966, 103.7764)


def test_a_whatsapp_user_without_a_number_is_their_bsuid():
    assert one("inbound_whatsapp_bsuid_only").customer == "US.1349120865530274191"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("inbound_whatsapp_flow_response", "WhatsApp Flow"),
        ("inbound_whatsapp_call_permission", "allowed WhatsApp calls"),
    ],
)
def test_replies_switchboard_cannot_show_become_readable_notes(name, words):
    event = one(name)
    assert event.kind == Kind.UNSUPPORTED and words in event.text


RECEIPTS = {
    "receipt_whatsapp_queued": (ReportStatus.PENDING, ""),
    "receipt_whatsapp_delivered": (ReportStatus.DELIVERED, ""),
    "receipt_whatsapp_read": (ReportStatus.READ, ""),
    "receipt_viber_delivered": (ReportStatus.DELIVERED, ""),
    "receipt_sms_delivered": (ReportStatus.DELIVERED, ""),
    "receipt_whatsapp_undelivered": (ReportStatus.FAILED, "15"),
    "receipt_whatsapp_session_expired": (ReportStatus.FAILED, "61"),
    # 8x8: WhatsApp's delivered_to_operator receipt is "generated before the message reaches WhatsApp"
    # (delivery-receipts-for-outbound-chatapps.mdx, v9, "When channelUserId is missing"): not delivered yet.
    "receipt_whatsapp_delivered_to_operator": (ReportStatus.PENDING, ""),
    # The same document's Viber "delivered to recipient" sample carries delivered_to_operator.
    "receipt_viber_delivered_to_operator": (ReportStatus.DELIVERED, ""),
}


@pytest.mark.parametrize(
    ("state", "status"),
    [
        # MessageStatus.state in business_messaging_api.json: "unknown: Status is not known. This is an
        # exceptional/intermediate status", "ok: Operation was successful", "error: An error occurred".
        ("unknown", ReportStatus.PENDING),
        ("UNKNOWN", ReportStatus.PENDING),
        ("ok", ReportStatus.PENDING),
        ("error", ReportStatus.FAILED),
    ],
)
def test_every_documented_receipt_state_has_its_meaning(state, status):
    body = fixture("receipt_whatsapp_read")
    body["payload"]["status"]["state"] = state
    assert one_of(body).status == status


@pytest.mark.parametrize("name", sorted(RECEIPTS))
def test_receipt_fixtures(name):
    status, code = RECEIPTS[name]
    report = one(name)
    assert isinstance(report, StatusReport)
    assert report.provider_message_id == "82188ee0-109f-e811-8150-020897df5459"
    assert (report.status, report.error_code) == (status, code)
    if status == ReportStatus.FAILED:
        assert report.permanent and report.error_message


def test_error_61_tells_the_agent_to_use_a_template():
    reason = one("receipt_whatsapp_session_expired").error_message
    assert "24 hours" in reason and "Send a template instead" in reason


def test_the_business_app_echo_is_recognised_and_not_carried():
    body = fixture("inbound_whatsapp_text")
    body["eventType"] = "external_app_message"
    assert parse_webhook(body) == [
        IgnoredEvent(
            event="external_app_message",
            why="not a message of the customer's: one the business sent from the WhatsApp Business App",
        )
    ]


def _changed(name: str, change) -> dict:
    body = fixture(name)
    change(body)
    return body


HOSTILE = {
    "not an object": [],
    "no payload": {"eventType": "inbound_message_received"},
    "payload a list": {"eventType": "inbound_message_received", "payload": []},
    "unknown event": _changed("inbound_whatsapp_text", lambda b: b.update(eventType="something_else")),
    "line channel": _changed(
        "inbound_whatsapp_text", lambda b: b["payload"]["recipient"].update(channel="line")
    ),
    "no channel id": _changed("inbound_whatsapp_text", lambda b: b["payload"]["recipient"].pop("channelId")),
    "channel id object": _changed(
        "inbound_whatsapp_text", lambda b: b["payload"]["recipient"].update(channelId={"a": 1})
    ),
    "no umid": _changed("inbound_whatsapp_text", lambda b: b["payload"].pop("umid")),
    "umid too long": _changed("inbound_whatsapp_text", lambda b: b["payload"].update(umid="x" * 500)),
    "umid with control": _changed("inbound_whatsapp_text", lambda b: b["payload"].update(umid="a\nb")),
    "no user": _changed("inbound_whatsapp_text", lambda b: b["payload"].pop("user")),
    "receipt unknown state": _changed(
        "receipt_whatsapp_read", lambda b: b["payload"]["status"].update(state="teleported")
    ),
    "receipt status list": _changed("receipt_whatsapp_read", lambda b: b["payload"].update(status=[1])),
    "receipt no umid": _changed("receipt_whatsapp_read", lambda b: b["payload"].pop("umid")),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_are_refused_with_a_reason(name):
    with pytest.raises(ValueError) as refused:
        parse_webhook(HOSTILE[name])
    assert str(refused.value)


@pytest.mark.parametrize(
    "change",
    [
        lambda where: where.update(latitude=91),
        lambda where: where.pop("longitude"),
        lambda where: where.update(latitude="north", longitude=None),
        lambda where: where.clear(),
    ],
    ids=["latitude out of range", "no longitude", "not numbers", "empty"],
)
def test_a_location_without_usable_coordinates_is_kept(change):
    """Was a 400 (8x8 gives up after 4 tries: the message lost); Infobip's parser keeps such a pin too."""
    body = fixture("inbound_whatsapp_location")
    change(body["payload"]["content"]["location"])
    event = one_of(body)
    assert event.kind == Kind.LOCATION and event.location is not None
    assert (event.location.latitude, event.location.longitude) == (None, None)
    assert "without coordinates" in describe(event)


def test_a_location_that_is_not_an_object_is_kept():
    body = fixture("inbound_whatsapp_location")
    body["payload"]["content"]["location"] = "here"
    event = one_of(body)
    assert event.kind == Kind.LOCATION and "without coordinates" in describe(event)


@pytest.mark.parametrize("url", [None, "", "  ", [], {}])
def test_media_without_a_url_is_kept_as_a_note(url):
    """inbound-chatapps-message.mdx: ``content.url`` is "the URL of the media attachment (rich content) if
    any": an Image without one is still the customer's message (was a 400, and 8x8 gives up after 4 tries)."""
    body = fixture("inbound_whatsapp_image")
    body["payload"]["content"]["url"] = url
    event = one_of(body)
    assert event.kind == Kind.UNSUPPORTED and event.media is None
    assert "image" in event.text.lower() and "the receipt" in event.text
    assert event.provider_message_id == body["payload"]["umid"]


@pytest.mark.parametrize("value", [None, 12, [], {}, "", "not a time", "2026-13-40T00:00:00Z"])
def test_odd_values_in_optional_members_are_tolerated(value):
    body = fixture("inbound_whatsapp_image")
    body["payload"].update(timestamp=value)
    body["payload"]["content"]["text"] = value
    body["payload"]["user"]["name"] = value
    event = one_of(body)
    assert event.kind == Kind.MEDIA and event.received_at is None


def one_of(body: dict):
    events = parse_webhook(body)
    assert len(events) == 1
    return events[0]
