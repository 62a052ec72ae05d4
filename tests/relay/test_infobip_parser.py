"""Infobip webhook parsing, Zulip-style: one real fixture per format, one test each (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from relay.events import InboundMessage, Kind, Media, ReportStatus, StatusReport
from relay.providers.base import get_provider

FIXTURES = Path(__file__).resolve().parents[2] / "relay" / "providers" / "infobip" / "fixtures"
WAMID = "wamid.HBgLMjc4MTMzMjE0ODIVAgAonoIAUsydhfskYyRDdEMjE4Njg3MzlBMDU2NzI4NgA="
MEDIA_URL = "https://{base_url}/whatsapp/1/senders/447796344125/media/f1b96d31-9ab9-4513-808b-50ab37360fbe"
WA_AT = datetime(2025, 1, 1, 10, 10, tzinfo=UTC)
MAPI_ID = "ABEGVUGWh3gEAgo-sLTvmQCS5kwjhsy"
MAPI_AT = datetime(2020, 2, 6, 14, 18, 29, 797000, tzinfo=UTC)


def body(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def parse(name_or_body) -> list:
    data = body(name_or_body) if isinstance(name_or_body, str) else name_or_body
    return get_provider("infobip").parse_webhook(data)


def whatsapp(kind: Kind, **fields) -> InboundMessage:
    """The normalized form of a WhatsApp example (Frank, +385919998888, writing to +41793026731)."""
    base = {
        "provider_message_id": WAMID,
        "channel": "whatsapp",
        "sender_address": "+41793026731",
        "customer": "+385919998888",
        "customer_name": "Frank",
        "received_at": WA_AT,
    }
    return InboundMessage(kind=kind, **{**base, **fields})


def messages_api(kind: Kind, message_id: str = MAPI_ID, **fields) -> InboundMessage:
    base = {
        "provider_message_id": message_id,
        "channel": "whatsapp",
        "sender_address": "+48123098765",
        "customer": "+48123234567",
        "received_at": MAPI_AT,
    }
    return InboundMessage(kind=kind, **{**base, **fields})


def report(message_id: str, status: ReportStatus, at: datetime, **fields) -> StatusReport:
    return StatusReport(provider_message_id=message_id, status=status, reported_at=at, **fields)


def media(kind: str, caption: str = "", url: str = MEDIA_URL, **fields) -> Media:
    return Media(url=url, kind=kind, caption=caption, **fields)


# --- WhatsApp inbound -------------------------------------------------------------------------------------


def test_whatsapp_text():
    assert parse("whatsapp_text") == [whatsapp(Kind.TEXT, text="Hello, World!")]


def test_whatsapp_text_with_ad_referral():
    assert parse("whatsapp_text_with_referral") == [whatsapp(Kind.TEXT, text="Hello, World!")]


def test_whatsapp_image():
    assert parse("whatsapp_image") == [
        whatsapp(Kind.MEDIA, text="Image Caption", media=media("image", "Image Caption"))
    ]


def test_whatsapp_document():
    assert parse("whatsapp_document") == [
        whatsapp(Kind.MEDIA, text="Document Title", media=media("document", "Document Title"))
    ]


def test_whatsapp_video():
    assert parse("whatsapp_video") == [
        whatsapp(Kind.MEDIA, text="Look at this!", media=media("video", "Look at this!"))
    ]


def test_whatsapp_audio():
    assert parse("whatsapp_audio") == [whatsapp(Kind.MEDIA, media=media("audio"))]


def test_whatsapp_voice():
    assert parse("whatsapp_voice") == [
        whatsapp(Kind.MEDIA, text="Voice Note", media=media("voice", "Voice Note"))
    ]


def test_whatsapp_sticker():
    assert parse("whatsapp_sticker") == [whatsapp(Kind.MEDIA, media=media("sticker"))]


def test_whatsapp_location():
    location = {
        "latitude": 40.748433333333,
        "longitude": -73.985655555556,
        "name": "Empire State Building",
        "address": "350 5th Ave, New York, NY",
        "url": "https://www.facebook.com/113272675352744",
    }
    text = (
        "Location: Empire State Building, 350 5th Ave, New York, NY – "
        "https://maps.google.com/?q=40.748433333333,-73.985655555556"
    )
    assert parse("whatsapp_location") == [whatsapp(Kind.LOCATION, text=text, location=location)]


def test_whatsapp_contact():
    card = {
        "name": "Frank Bipper",
        "phones": ["+385918889999"],
        "emails": ["frank@example.com"],
        "organization": "Infobip",
    }
    assert parse("whatsapp_contact") == [
        whatsapp(
            Kind.CONTACTS, text="Contact: Frank Bipper, +385918889999, frank@example.com", contacts=[card]
        )
    ]


def test_whatsapp_template_quick_reply_button():
    assert parse("whatsapp_button") == [whatsapp(Kind.BUTTON, text="Button text", payload="Payload")]


def test_whatsapp_interactive_button_reply():
    assert parse("whatsapp_interactive_button_reply") == [
        whatsapp(Kind.BUTTON, text="Button reply title", payload="button-reply-id")
    ]


def test_whatsapp_interactive_list_reply():
    assert parse("whatsapp_interactive_list_reply") == [
        whatsapp(Kind.LIST_REPLY, text="List reply title", payload="list-reply-id")
    ]


def test_whatsapp_flow_reply_is_a_readable_note():
    note = (
        "The customer sent an interactive flow reply message, which this channel cannot show. "
        'Its text: "flow-reply-id"'
    )
    assert parse("whatsapp_interactive_flow_reply") == [whatsapp(Kind.UNSUPPORTED, text=note)]


def test_whatsapp_order_is_a_readable_note_with_its_text():
    note = 'The customer sent an order message, which this channel cannot show. Its text: "I like you store!"'
    assert parse("whatsapp_order") == [whatsapp(Kind.UNSUPPORTED, text=note)]


def test_whatsapp_reaction_is_a_readable_note():
    assert parse("whatsapp_reaction") == [
        whatsapp(Kind.UNSUPPORTED, text="The customer reacted \U0001f913 to an earlier message.")
    ]


def test_whatsapp_infected_content_is_a_readable_note():
    assert parse("whatsapp_infected_content") == [
        whatsapp(
            Kind.UNSUPPORTED,
            text="The customer sent a file that Infobip's virus scan blocked; it cannot be shown.",
        )
    ]


def test_whatsapp_unknown_type_is_never_dropped():
    data = body("whatsapp_text")
    data["results"][0]["message"] = {"type": "HOLOGRAM", "shape": "cube"}
    assert parse(data) == [
        whatsapp(
            Kind.UNSUPPORTED, text="The customer sent a hologram message, which this channel cannot show."
        )
    ]


def test_whatsapp_raw_result_is_kept_for_audit():
    (event,) = parse("whatsapp_text")
    assert event.raw == body("whatsapp_text")["results"][0]


# --- WhatsApp reports -------------------------------------------------------------------------------------


def test_whatsapp_delivered():
    at = datetime(2019, 4, 9, 16, 1, 56, 494000, tzinfo=timezone(timedelta(hours=-3)))
    assert parse("whatsapp_delivery_report") == [
        report("fb469d73-d362-463f-b30f-1e959b53badc", ReportStatus.DELIVERED, at)
    ]


def test_whatsapp_outside_24_hour_window_fails_with_a_reason_the_agent_can_act_on():
    (event,) = parse("whatsapp_delivery_report_outside_window")
    assert (event.status, event.error_code, event.permanent) == (
        ReportStatus.FAILED,
        "EC_OUTSIDE_24H_WINDOW",
        True,
    )
    assert event.error_message.startswith(
        "Not delivered: the customer's last message is more than 24 hours old"
    )
    assert "Send a template instead." in event.error_message


def test_whatsapp_seen_is_read():
    at = datetime(2018, 12, 12, 11, 21, 58, 251000, tzinfo=UTC)
    assert parse("whatsapp_seen_report") == [
        report("1215f543ab19-345f-adbd-12ad31451ed25f35", ReportStatus.READ, at)
    ]


# --- SMS ------------------------------------------------------------------------------------------------------


def test_sms_inbound():
    assert parse("sms_inbound") == [
        InboundMessage(
            provider_message_id="817790313235066447",
            channel="sms",
            sender_address="+385921004026",
            customer="+385916242493",
            kind=Kind.TEXT,
            text="QUIZ Correct answer is Paris",
            received_at=datetime(2019, 11, 9, 16, 0, tzinfo=UTC),
        )
    ]


def test_sms_two_delivery_reports_in_one_request():
    assert parse("sms_delivery_reports") == [
        report("MESSAGE-ID-123-xyz", ReportStatus.DELIVERED, datetime(2019, 11, 9, 16, 0, tzinfo=UTC)),
        report(
            "12db39c3-7822-4e72-a3ec-c87442c0ffc5",
            ReportStatus.DELIVERED,
            datetime(2019, 11, 9, 17, 0, tzinfo=UTC),
        ),
    ]


def test_sms_v3_delivery_reports():
    cet = timezone(timedelta(hours=1))
    assert parse("sms_delivery_reports_v3") == [
        report("MESSAGE-ID-123-xyz", ReportStatus.DELIVERED, datetime(2019, 11, 9, 16, 0, tzinfo=cet)),
        report(
            "12db39c3-7822-4e72-a3ec-c87442c0ffc5",
            ReportStatus.DELIVERED,
            datetime(2019, 11, 9, 17, 0, tzinfo=cet),
        ),
    ]


def test_sms_expired_is_a_transient_failure():
    assert parse("sms_delivery_report_expired") == [
        report(
            "MESSAGE-ID-123-xyz",
            ReportStatus.FAILED,
            datetime(2019, 11, 9, 16, 0, tzinfo=UTC),
            error_code="EC_ABSENT_SUBSCRIBER",
            permanent=False,
            error_message="Not delivered in time: the message expired before it reached the customer's phone: "
            "Absent Subscriber.",
        )
    ]


# --- Viber ----------------------------------------------------------------------------------------------------


def viber(kind: Kind, **fields) -> InboundMessage:
    return InboundMessage(
        provider_message_id="1234567890123456789",
        channel="viber",
        sender_address="givenClient",
        customer="+385912345678",
        kind=kind,
        received_at=datetime(2020, 4, 1, 11, 2, 43, 594000, tzinfo=UTC),
        **fields,
    )


def test_viber_text_keeps_the_service_name():
    assert parse("viber_inbound_text") == [viber(Kind.TEXT, text="givenText")]


def test_viber_file():
    file = Media(url="https://example.com/givenUrl.pdf", kind="document", filename="givenFileName")
    assert parse("viber_inbound_file") == [viber(Kind.MEDIA, media=file)]


def test_viber_delivered():
    at = datetime(2023, 2, 3, 0, 1, 1, tzinfo=UTC)
    assert parse("viber_delivery_report") == [
        report("2250be2d4219-3af1-78856-aabe-1362af1edfd2", ReportStatus.DELIVERED, at)
    ]


def test_viber_rejected():
    at = datetime(2023, 2, 3, 0, 1, 1, tzinfo=UTC)
    assert parse("viber_delivery_report_rejected") == [
        report(
            "2250be2d4219-3af1-78856-aabe-1362af1edfd2",
            ReportStatus.FAILED,
            at,
            error_code="EC_UNKNOWN_SUBSCRIBER",
            error_message="Rejected before sending: Unknown subscriber.",
            permanent=True,
        )
    ]


def test_viber_seen_is_read():
    at = datetime(2023, 4, 5, 11, 22, 10, 251000, tzinfo=UTC)
    assert parse("viber_seen_report") == [
        report("1215f543ab19-345f-adbd-12ad31451ed25f35", ReportStatus.READ, at)
    ]


# --- Messages API -----------------------------------------------------------------------------------------------


def test_messages_api_sms_text():
    assert parse("messages_api_text") == [messages_api(Kind.TEXT, channel="sms", text="Text message 123")]


def test_messages_api_image():
    image = media("image", "Image caption", url="http://my.domain/image.jpg")
    assert parse("messages_api_image") == [messages_api(Kind.MEDIA, text="Image caption", media=image)]


def test_messages_api_parts_become_one_message_each_with_stable_ids():
    audio = media("audio", "Audio caption", url="http://my.domain/media/my-audio")
    assert parse("messages_api_audio_text_subject") == [
        messages_api(Kind.MEDIA, text="Audio caption", media=audio),
        messages_api(Kind.TEXT, message_id=MAPI_ID + "#1", text="Text message"),
        messages_api(Kind.TEXT, message_id=MAPI_ID + "#2", text="KEYWORD Some subject"),
    ]


def test_messages_api_location():
    location = {
        "latitude": 16.0,
        "longitude": 18.0,
        "name": "",
        "address": "",
        "url": "http://my.domain/media/my-location",
    }
    assert parse("messages_api_location") == [
        messages_api(
            Kind.LOCATION,
            text="Location: shared pin – https://maps.google.com/?q=16.0,18.0",
            location=location,
        )
    ]


def test_messages_api_button_reply():
    assert parse("messages_api_button_reply") == [messages_api(Kind.BUTTON, text="Yes", payload="true")]


def test_messages_api_list_reply():
    assert parse("messages_api_list_reply") == [
        messages_api(Kind.LIST_REPLY, text="Text for selected option", payload="selectedItemId")
    ]


def test_messages_api_reaction_is_a_note():
    (event,) = parse("messages_api_reaction")
    assert (event.kind, event.text) == (
        Kind.UNSUPPORTED,
        "The customer reacted \\u2764\\uFE0F to an earlier message.",
    )


def test_messages_api_typing_is_not_a_message():
    assert parse("messages_api_typing_started") == []


def test_messages_api_delivered_and_seen():
    assert parse("messages_api_delivery_report") == [
        report(MAPI_ID, ReportStatus.DELIVERED, datetime(2024, 2, 6, 17, 18, 29, 797000, tzinfo=UTC))
    ]
    assert parse("messages_api_seen_report") == [
        report(MAPI_ID, ReportStatus.READ, datetime(2024, 2, 6, 14, 28, 29, 797000, tzinfo=UTC))
    ]


# --- several kinds in one request, and what is not Infobip's ----------------------------------------------------


def test_mixed_results_in_one_request_keep_their_order():
    mixed = {
        "results": [
            *body("sms_inbound")["results"],
            *body("whatsapp_seen_report")["results"],
            *body("whatsapp_text")["results"],
        ]
    }
    assert [type(e).__name__ for e in parse(mixed)] == ["InboundMessage", "StatusReport", "InboundMessage"]


def test_bsuid_customer_and_alphanumeric_sender_are_kept_as_sent():
    data = body("whatsapp_text")
    data["results"][0].update({"from": "US.1349120865530274191", "to": "AcmeBot"})
    (event,) = parse(data)
    assert (event.customer, event.sender_address) == ("US.1349120865530274191", "AcmeBot")


@pytest.mark.parametrize(
    "bad,message",
    [
        ([], "expected a JSON object with a 'results' list, got a list"),
        ({"messages": []}, "no 'results' list"),
        ({"results": {"a": 1}}, "no 'results' list"),
        ({"results": ["x"]}, "results[0] is a string, expected an object"),
        (
            {"results": [{"foo": 1}]},
            "results[0] is neither an Infobip inbound message nor a delivery or seen report",
        ),
        (
            {"results": [{"from": "1", "to": "2", "message": {"text": "hi"}}]},
            "results[0].message.type must be",
        ),
        (
            {
                "results": [
                    {"from": "385919998888", "to": "41793026731", "message": {"type": "TEXT", "text": "x"}}
                ]
            },
            "results[0].messageId must be a non-empty string (missing)",
        ),
        (
            {"results": [{"messageId": "m", "status": "DELIVERED"}]},
            "results[0].status must be an object (a string)",
        ),
        (
            {"results": [{"messageId": "m", "seenAt": "yesterday"}]},
            "results[0].seenAt: 'yesterday' is not a timestamp",
        ),
        (
            {
                "results": [
                    {"event": "MO", "messageId": "m", "channel": "SMS", "sender": "1", "destination": "2"}
                ]
            },
            "results[0].content must be a non-empty list",
        ),
    ],
)
def test_bodies_that_are_not_infobip_say_what_is_wrong(bad, message):
    with pytest.raises(ValueError) as caught:
        parse(bad)
    assert message in str(caught.value)
