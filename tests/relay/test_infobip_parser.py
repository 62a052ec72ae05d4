"""Infobip webhook parsing, Zulip-style: one real fixture per format, one test each (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from relay.desks.render import describe
from relay.events import (
    Contact,
    Email,
    IgnoredEvent,
    InboundMessage,
    Kind,
    Location,
    Media,
    Order,
    OrderItem,
    Organization,
    Phone,
    Reaction,
    ReportStatus,
    StatusReport,
)
from relay.providers.registry import get_provider

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
    """Infobip WhatsApp webhook example "Received WhatsApp LOCATION message"."""
    location = Location(
        latitude=40.748433333333,
        longitude=-73.985655555556,
        name="Empire State Building",
        address="350 5th Ave, New York, NY",
        url="https://www.facebook.com/113272675352744",
    )
    text = (
        "📍 Location: Empire State Building, 350 5th Ave, New York, NY – "
        "https://maps.google.com/?q=40.748433333333,-73.985655555556"
    )
    assert parse("whatsapp_location") == [whatsapp(Kind.LOCATION, text=text, location=location)]


FRANK_CARD = Contact(
    name="Frank Bipper",
    phones=(Phone("+385918889999", "CELL"),),
    emails=(Email("frank@example.com", "HOME"),),
    org=Organization("Infobip", "Support", "eng."),
    urls=("https://www.infobip.com",),
    addresses=("Street, New York, NY, 10001, USA",),
    birthday="1980-01-01",
)


def test_whatsapp_contact():
    """Infobip WhatsApp webhook example "Received WhatsApp CONTACT message" (the card of issue 13)."""
    text = (
        "👤 Contact: Frank Bipper (Infobip, Support, eng.) – +385918889999 (cell), frank@example.com (home), "
        "https://www.infobip.com, Street, New York, NY, 10001, USA, born 1980-01-01"
    )
    assert parse("whatsapp_contact") == [whatsapp(Kind.CONTACTS, text=text, contacts=(FRANK_CARD,))]


def test_whatsapp_several_contacts_with_several_names_phones_and_emails():
    """Written from Infobip's schema ``InboundContact`` (WhatsApp webhook ``WhatsAppInboundContactsContent``):
    the CONTACT example's card, a card named only by its parts, and one with a formatted name only."""
    ana = Contact(
        name="Ana Marija Horvat Jr.",
        phones=(Phone("+385915556666", "CELL"), Phone("+38514443333", "WORK")),
        emails=(Email("ana@example.com", "WORK"), Email("ana.horvat@example.org", "HOME")),
        org=Organization("Acme", title="Buyer"),
    )
    reception = Contact(name="Reception desk", phones=(Phone("+38512345678", "MAIN"),))
    (event,) = parse("whatsapp_contacts_several")
    assert event.contacts == (FRANK_CARD, ana, reception)
    assert event.text.splitlines() == [
        "👤 3 contacts:",
        "• Frank Bipper (Infobip, Support, eng.) – +385918889999 (cell), frank@example.com (home), "
        "https://www.infobip.com, Street, New York, NY, 10001, USA, born 1980-01-01",
        "• Ana Marija Horvat Jr. (Acme, Buyer) – +385915556666 (cell), +38514443333 (work), "
        "ana@example.com (work), ana.horvat@example.org (home)",
        "• Reception desk – +38512345678 (main)",
    ]


def test_whatsapp_template_quick_reply_button():
    assert parse("whatsapp_button") == [whatsapp(Kind.BUTTON, text="Button text", payload="Payload")]


def test_whatsapp_interactive_button_reply():
    assert parse("whatsapp_interactive_button_reply") == [
        whatsapp(Kind.BUTTON, text="Button reply title", payload="button-reply-id")
    ]


def test_whatsapp_interactive_list_reply():
    assert parse("whatsapp_interactive_list_reply") == [
        # the row's description too: rows may share a title (Infobip's WhatsAppInboundListReplyContent)
        whatsapp(Kind.LIST_REPLY, text="List reply title (List reply description)", payload="list-reply-id")
    ]


def test_whatsapp_flow_reply_shows_the_customers_answers():
    """Infobip WhatsApp webhook example "Received WhatsApp INTERACTIVE_FLOW_REPLY message": what the customer
    entered in the Flow is its ``response``; the agent reads it (8x8's nfmReply shows its responseJson too)."""
    note = 'The customer completed a WhatsApp Flow ("flow-reply-id"). Their answers: flow-data: flow-input-response'
    assert parse("whatsapp_interactive_flow_reply") == [whatsapp(Kind.UNSUPPORTED, text=note)]


def test_messages_api_flow_response_shows_the_customers_answers():
    """Infobip Messages API example of a FLOW_RESPONSE (``response`` required): the rating and the comment the
    customer typed reach the agent; the flow_token is the business's own, not the customer's."""
    (event,) = parse("messages_api_flow_response")
    assert (event.kind, event.text) == (
        Kind.UNSUPPORTED,
        "The customer completed a WhatsApp Flow. Their answers: rating: 5; additional_comment: That was very "
        "nice :)",
    )


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ({}, "The customer completed a WhatsApp Flow."),
        ({"flow_token": "t"}, "The customer completed a WhatsApp Flow."),
        ("not an object", "The customer completed a WhatsApp Flow."),
        (
            {"choices": ["a", "b"], "ok": True, "none": None, "at": {"day": 2}},
            'The customer completed a WhatsApp Flow. Their answers: choices: ["a", "b"]; ok: true; none: null; '
            'at: {"day": 2}',
        ),
    ],
)
def test_flow_answers_of_any_shape_are_words(response, expected):
    data = body("messages_api_flow_response")
    data["results"][0]["content"][0]["response"] = response
    (event,) = parse(data)
    assert (event.kind, event.text) == (Kind.UNSUPPORTED, expected)


def test_whatsapp_order():
    """Infobip WhatsApp webhook example "Received WhatsApp ORDER message"."""
    order = Order(
        catalog_id="order-id",
        items=(OrderItem("product-retailer-id", quantity=1, price=1.99, currency="EUR"),),
        text="I like you store!",
    )
    text = "🛒 Order from catalog order-id: 1 × product-retailer-id at 1.99 EUR. Total 1.99 EUR. Note: I like you store!"
    assert parse("whatsapp_order") == [whatsapp(Kind.ORDER, text=text, order=order)]


def test_whatsapp_reaction():
    """Infobip WhatsApp webhook example "Received WhatsApp REACTION message"."""
    reaction = Reaction(emoji="\U0001f913", action="ADDED", message_id="abcdef_ghij124567890klmnopr")
    assert parse("whatsapp_reaction") == [
        whatsapp(
            Kind.REACTION, text="The customer reacted \U0001f913 to an earlier message.", reaction=reaction
        )
    ]


def test_whatsapp_reaction_removed():
    """Schema ``WhatsAppInboundReactionContent``: ``action`` REMOVED comes without an emoji."""
    data = body("whatsapp_reaction")
    data["results"][0]["message"].update(action="REMOVED", emoji="")
    (event,) = parse(data)
    assert (event.kind, event.text) == (
        Kind.REACTION,
        "The customer removed their reaction to an earlier message.",
    )


def test_whatsapp_unsupported():
    """Written from Infobip's schema ``WhatsAppInboundUnsupportedContent`` (no example is published)."""
    note = (
        "The customer sent a message of a type WhatsApp does not pass on to businesses; "
        "ask them to send it another way."
    )
    assert parse("whatsapp_unsupported") == [whatsapp(Kind.UNSUPPORTED, text=note)]


def test_whatsapp_call_permission_reply_says_what_the_customer_decided():
    """Infobip WhatsApp webhook example "Received WhatsApp INTERACTIVE_CALL_PERMISSION_REPLY message"
    (``CallPermissionReply``: ``response`` ACCEPT or REJECT, ``expirationTimestamp`` when accepted): the
    customer's answer to the agent's request is the message (8x8's callPermissionReply says it too)."""
    (event,) = parse("whatsapp_interactive_call_permission_reply")
    assert (event.kind, event.text) == (
        Kind.UNSUPPORTED,
        "The customer allowed WhatsApp calls (until 2025-01-01T00:00:00.000+0000).",
    )
    data = body("whatsapp_interactive_call_permission_reply")
    data["results"][0]["message"]["callPermissionReply"] = {"response": "REJECT"}
    assert parse(data)[0].text == "The customer did not allow WhatsApp calls."
    data["results"][0]["message"]["callPermissionReply"] = {"response": "ACCEPT"}
    assert parse(data)[0].text == "The customer allowed WhatsApp calls."
    data["results"][0]["message"]["callPermissionReply"] = ["not", "an", "object"]
    assert parse(data)[0].text == "The customer answered a request for WhatsApp calls."


@pytest.mark.parametrize(
    "name",
    [
        "whatsapp_interactive_payment_confirmation",
        "whatsapp_interactive_payment_acknowledgement",
        "whatsapp_interactive_in_thread_authentication_reply",
    ],
)
def test_whatsapp_interactive_replies_we_cannot_show_are_readable_notes(name):
    """Infobip WhatsApp webhook examples "Received WhatsApp INTERACTIVE_... message"."""
    (event,) = parse(name)
    label = name.removeprefix("whatsapp_").replace("_", " ")
    assert (event.kind, event.text) == (
        Kind.UNSUPPORTED,
        f"The customer sent an {label} message, which this channel cannot show.",
    )


def test_whatsapp_text_with_identity_notification():
    """Infobip WhatsApp webhook example "Received WhatsApp TEXT message with Identity notification"."""
    assert parse("whatsapp_text_with_identity_notification") == [whatsapp(Kind.TEXT, text="Hello, World!")]


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


@pytest.mark.parametrize(
    ("group_id", "status"),
    [
        (1, ReportStatus.PENDING),
        (2, ReportStatus.FAILED),
        (3, ReportStatus.DELIVERED),
        (4, ReportStatus.FAILED),
    ],
)
def test_a_report_status_named_by_its_group_id_alone(group_id, status):
    """``groupName`` is optional in the WhatsApp, SMS and Viber report schemas; Infobip's status groups are
    numbered (response status codes: 1 Pending, 2 Undeliverable, 3 Delivered, 4 Expired, 5 Rejected). A failure
    named only by its group id was read as pending: the agent never heard the message did not arrive."""
    data = body("sms_delivery_report_expired")
    data["results"][0]["status"] = {"groupId": group_id, "id": 15, "name": "SOME_STATUS"}
    (event,) = parse(data)
    assert event.status == status


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


# The Viber Bot API's incoming messages (webhook "receive-viber-bot-api-incoming-messages"): Infobip publishes
# no example, so these fixtures are written from its schema ``ViberBotInboundResponse`` (each nested
# ``ViberBot<Type>NestedInboundMessage``), with the envelope values of the Viber TEXT example.


def viber_bot(kind: Kind, **fields) -> InboundMessage:
    return viber(kind, customer_name="Frank", **fields)


def test_viber_bot_text():
    """Schema ``ViberBotTextNestedInboundMessage``."""
    assert parse("viber_bot_text") == [viber_bot(Kind.TEXT, text="Hello from Viber")]


@pytest.mark.parametrize(
    ("name", "media"),
    [
        (  # schema ViberBotImageNestedInboundMessage
            "viber_bot_image",
            Media(
                url="https://example.com/givenImage.jpg",
                kind="image",
                filename="givenImage.jpg",
                caption="The damaged box",
                size=54321,
            ),
        ),
        (  # schema ViberBotVideoNestedInboundMessage: the caption is its "description"
            "viber_bot_video",
            Media(
                url="https://example.com/givenVideo.mp4",
                kind="video",
                filename="givenVideo.mp4",
                caption="Unboxing",
                size=1234567,
            ),
        ),
        (  # schema ViberBotFileNestedInboundMessage
            "viber_bot_file",
            Media(
                url="https://example.com/givenUrl.pdf",
                kind="document",
                filename="invoice.pdf",
                caption="My invoice",
                size=2048,
            ),
        ),
        (  # schema ViberBotStickerNestedInboundMessage
            "viber_bot_sticker",
            Media(url="https://example.com/givenSticker.png", kind="sticker"),
        ),
    ],
)
def test_viber_bot_media(name, media):
    assert parse(name) == [viber_bot(Kind.MEDIA, text=media.caption, media=media)]


def test_viber_bot_sticker_without_a_url_is_a_note():
    data = body("viber_bot_sticker")
    del data["results"][0]["message"]["message"]["url"]
    (event,) = parse(data)
    assert (event.kind, event.text) == (
        Kind.UNSUPPORTED,
        "The customer sent a Viber sticker (40133) that cannot be shown.",
    )


# The schemas require no url of a Viber file (``ViberInboundFileContent`` requires only ``type``) nor of a
# Viber Bot image, video or file (``ViberBot<Type>NestedInboundMessage`` requires nothing): such a message is
# the customer's all the same, kept as a note with its words; a 400 made Infobip retry and give up on it.
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "viber_inbound_file_without_url",
            viber(
                Kind.UNSUPPORTED,
                text="The customer sent a Viber file (contract.pdf) that Infobip gave no link for; ask them "
                'to send it again. Its text: "The signed contract"',
            ),
        ),
        (
            "viber_bot_image_without_url",
            viber_bot(
                Kind.UNSUPPORTED,
                text="The customer sent a Viber image (givenImage.jpg) that Infobip gave no link for; ask "
                'them to send it again. Its text: "The damaged box"',
            ),
        ),
    ],
)
def test_viber_media_without_a_url_is_kept_as_a_note(name, expected):
    assert parse(name) == [expected]


def test_viber_media_without_a_url_or_words_is_still_a_note():
    data = body("viber_bot_image_without_url")
    nested = data["results"][0]["message"]["message"]
    for key in ("fileName", "text"):
        del nested[key]
    nested["url"] = "  "
    (event,) = parse(data)
    assert (event.kind, event.text) == (
        Kind.UNSUPPORTED,
        "The customer sent a Viber image that Infobip gave no link for; ask them to send it again.",
    )


@pytest.mark.parametrize("nested", [None, {}, {"text": "Hi"}])
def test_a_viber_bot_message_without_its_nested_message_or_type_is_a_note(nested):
    """``ViberBotInboundMessageContent`` requires only messageToken and timestamp, and
    ``ViberBotNestedInboundMessage`` requires nothing: such a MESSAGE is still the customer's, kept as a note
    (its words where it has any), not refused with a 400 that Infobip retries until it gives up."""
    data = body("viber_bot_text")
    if nested is None:
        del data["results"][0]["message"]["message"]
    else:
        data["results"][0]["message"]["message"] = nested
    (event,) = parse(data)
    assert event.kind == Kind.UNSUPPORTED and event.customer_name == "Frank"
    assert event.text.startswith("The customer sent a Viber message")
    assert ('"Hi"' in event.text) == (nested == {"text": "Hi"})


def test_viber_bot_location():
    """Schema ``ViberBotLocationNestedInboundMessage`` (``location``: latitude, longitude, address)."""
    location = Location(latitude=45.815011, longitude=15.981919, address="Trg bana Josipa Jelačića, Zagreb")
    text = "📍 Location: Trg bana Josipa Jelačića, Zagreb – https://maps.google.com/?q=45.815011,15.981919"
    assert parse("viber_bot_location") == [viber_bot(Kind.LOCATION, text=text, location=location)]


def test_viber_bot_contact():
    """Schema ``ViberBotContactNestedInboundMessage`` (``contact``: name, phoneNumber, avatar)."""
    card = Contact(name="Ivana", phones=(Phone("+385917778888"),))
    assert parse("viber_bot_contact") == [
        viber_bot(Kind.CONTACTS, text="👤 Contact: Ivana – +385917778888", contacts=(card,))
    ]


@pytest.mark.parametrize("kind", ["conversation_started", "subscribed", "unsubscribed", "delivered"])
def test_viber_bot_events_that_are_not_messages_store_nothing(kind):
    """Schemas ``ViberBotInbound<Type>Content``: acknowledged as not carried, never a message."""
    (event,) = parse(f"viber_bot_{kind}")
    assert isinstance(event, IgnoredEvent) and event.event == f"VIBER_BOT_{kind.upper()}"


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
    location = Location(latitude=16.0, longitude=18.0, url="http://my.domain/media/my-location")
    assert parse("messages_api_location") == [
        messages_api(
            Kind.LOCATION,
            text="📍 Location: shared pin – https://maps.google.com/?q=16.0,18.0",
            location=location,
        )
    ]


def test_messages_api_button_reply():
    assert parse("messages_api_button_reply") == [messages_api(Kind.BUTTON, text="Yes", payload="true")]


def test_messages_api_list_reply():
    assert parse("messages_api_list_reply") == [
        messages_api(Kind.LIST_REPLY, text="Text for selected option", payload="selectedItemId")
    ]


def test_messages_api_reaction():
    """Messages API example "Received reaction response example": its emoji is written out as
    ``\\u2764\\uFE0F`` text; the agent reads the emoji it names."""
    (event,) = parse("messages_api_reaction")
    assert (event.kind, event.text, event.reaction) == (
        Kind.REACTION,
        "The customer reacted \u2764\ufe0f to an earlier message.",
        Reaction(emoji="\u2764\ufe0f", action="ADDED"),
    )


def test_messages_api_typing_is_not_a_message():
    assert [e.event for e in parse("messages_api_typing_started")] == ["TYPING_STARTED"]
    assert [e.event for e in parse("messages_api_typing_stopped")] == ["TYPING_STOPPED"]
    assert all(isinstance(e, IgnoredEvent) for e in parse("messages_api_typing_started"))


@pytest.mark.parametrize(
    ("name", "kind", "caption", "url"),
    [
        ("messages_api_audio", "audio", "Audio caption", "http://my.domain/media/my-audio"),
        ("messages_api_video", "video", "Video caption", "http://my.domain/media/my-video"),
        ("messages_api_document", "document", "Document caption", "http://my.domain/media/my-document"),
        ("messages_api_file", "document", "File caption", "http://my.domain/media/my-file"),
    ],
)
def test_messages_api_media(name, kind, caption, url):
    """Messages API examples "Received <audio|video|document|file> with caption example"."""
    assert parse(name) == [messages_api(Kind.MEDIA, text=caption, media=media(kind, caption, url=url))]


def test_messages_api_several_files_are_one_message_each():
    file = media("document", "File caption", url="http://my.domain/media/my-file")
    assert parse("messages_api_multiple_files") == [
        messages_api(Kind.MEDIA, text="File caption", media=file),
        messages_api(Kind.MEDIA, message_id=MAPI_ID + "#1", text="File caption", media=file),
    ]


def test_messages_api_text_with_keyword_keeps_what_the_customer_typed():
    (event,) = parse("messages_api_text_keyword")
    assert (event.kind, event.text) == (Kind.TEXT, "KWRDText message 123")


@pytest.mark.parametrize(
    ("name", "location", "text"),
    [
        (
            "messages_api_location_without_url",
            Location(latitude=16.0, longitude=18.0),
            "📍 Location: shared pin – https://maps.google.com/?q=16.0,18.0",
        ),
        (
            "messages_api_location_only_url",
            Location(url="http://my.domain/media/my-location"),
            "📍 Location: shared pin – http://my.domain/media/my-location",
        ),
    ],
)
def test_messages_api_location_variants(name, location, text):
    (event,) = parse(name)
    assert (event.kind, event.location, event.text) == (Kind.LOCATION, location, text)


def test_messages_api_list_reply_with_several_choices():
    assert [(e.kind, e.text, e.payload) for e in parse("messages_api_list_reply_multiple")] == [
        (Kind.LIST_REPLY, "Text for first selected option ", "selectedItemIdFirst"),
        (Kind.LIST_REPLY, "Text for second selected option", "selectedItemIdSecond"),
    ]


def test_messages_api_url():
    (event,) = parse("messages_api_url")
    assert (event.kind, event.text) == (Kind.TEXT, "http://my.domain/media/my-url")


@pytest.mark.parametrize("name", ["messages_api_payment_response", "messages_api_form_response"])
def test_messages_api_responses_we_cannot_show_are_readable_notes(name):
    (event,) = parse(name)
    label = name.removeprefix("messages_api_").replace("_", " ")
    assert (event.kind, event.text) == (
        Kind.UNSUPPORTED,
        f"The customer sent a {label} message, which this channel cannot show.",
    )


def test_messages_api_delivered_and_seen():
    assert parse("messages_api_delivery_report") == [
        report(MAPI_ID, ReportStatus.DELIVERED, datetime(2024, 2, 6, 17, 18, 29, 797000, tzinfo=UTC))
    ]
    assert parse("messages_api_seen_report") == [
        report(MAPI_ID, ReportStatus.READ, datetime(2024, 2, 6, 14, 28, 29, 797000, tzinfo=UTC))
    ]


# --- several kinds in one request, and what is not Infobip's ----------------------------------------------------


def test_a_full_bucket_of_a_subscription_profile_is_read():
    """Infobip's Subscriptions API: a notification profile's ``maxBucketSize`` is "a maximum number of messages
    to be sent within a single request", up to 2000. A bucket over the 1,000 of the pull endpoints was refused
    whole (400), and each retry brought the same bucket: every message in it was lost."""
    result = body("whatsapp_text")["results"][0]
    full = {"results": [{**result, "messageId": f"m{i}"} for i in range(2000)]}
    events = parse(full)
    assert len(events) == 2000 and events[-1].provider_message_id == "m1999"


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


# --- odd values inside a real body: a clear ValueError (400) or a message an agent can read -----------------

ODD = [None, 7, -1.5, True, [], {}, "", "x", [None], {"a": None}]


def leaf_paths(value, path=()):
    """Every key path inside ``value`` (objects and lists), leaves and branches alike."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key)
            yield from leaf_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*path, index)
            yield from leaf_paths(child, (*path, index))


def replaced(data, path, value):
    data = json.loads(json.dumps(data))
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def readable_message(event: InboundMessage) -> bool:
    text = describe(event)
    return bool(text.strip()) and "None" not in text and "{'" not in text


def readable_report(event: StatusReport) -> bool:
    # A list or an object as the report's error.id once raised TypeError (an unhashable value looked up in a set).
    return isinstance(event.error_code, str) and isinstance(event.error_message, str)


# What an event of each kind must still be after an odd value (a webhook's 500 would make Infobip retry for as
# long as it retries), and every fixture that parses into that kind.
READABLE = {InboundMessage: readable_message, StatusReport: readable_report}
ODD_CASES = [
    pytest.param(name, kind, id=f"{kind.__name__}-{name}")
    for kind in READABLE
    for name in sorted(p.stem for p in FIXTURES.glob("*.json"))
    if any(isinstance(e, kind) for e in parse(name))
]


def test_every_report_fixture_is_covered():
    assert sum(case.values[1] is StatusReport for case in ODD_CASES) >= 6, ODD_CASES


@pytest.mark.parametrize(("name", "kind"), ODD_CASES)
def test_odd_values_anywhere_in_a_body_give_a_clear_error_or_a_readable_event(name, kind):
    data = body(name)
    for path in leaf_paths(data["results"][0], ("results", 0)):
        for value in ODD:
            try:
                events = parse(replaced(data, path, value))
            except ValueError as exc:
                assert str(exc).startswith("results[0]"), (path, value, exc)
                continue
            for event in events:
                if isinstance(event, kind):
                    assert READABLE[kind](event), (path, value, event)
