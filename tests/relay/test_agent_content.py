"""Every documented agent message type/format has one treatment: native, readable text, or refused with a reason.

The formats come from Salesforce's outbound event YAML (the discriminators of the five message types), so a
format Salesforce documents and the table forgets fails here. Each example is checked against the YAML.
"""

from __future__ import annotations

import pytest

from relay.outbound import agent_content
from relay.outbound.agent_content import NATIVE, READABLE, REFUSED, render
from relay.providers.base import Button, OutboundContent
from relay.providers.infobip import payloads
from sandbox.openapi import load_spec
from sandbox.salesforce.interaction_spec import OUTBOUND, SPEC_DIR, schema_error
from tests.sandbox.scrt_support import drop_nulls

ID = "412c0379-ea42-4549-8338-a98f897bdb13"
BODY_SCHEMA = {  # the abstract schema of each message type's body, whose discriminator lists its formats
    "StaticContentMessage": "AbstractStaticContent",
    "ChoicesMessage": "AbstractChoices",
    "FormMessage": "AbstractForm",
    "ChoicesResponseMessage": "AbstractChoicesResponse",
    "FormResponseMessage": "AbstractFormResponse",
}


def documented_formats() -> list[tuple[str, str]]:
    schemas = load_spec(str(SPEC_DIR / OUTBOUND)).doc["components"]["schemas"]
    assert set(schemas["MessageType"]["enum"]) == set(BODY_SCHEMA)
    return sorted(
        (message_type, format_type)
        for message_type, schema in BODY_SCHEMA.items()
        for format_type in schemas[schema]["discriminator"]["mapping"]
    )


def title(text: str) -> dict:
    return {"itemType": "TitleItem", "title": text, "subTitle": None, "secondarySubTitle": None}


def option(text: str, identifier: str) -> dict:
    return {"itemType": "TitleOptionItem", "optionIdentifier": identifier, "titleItem": title(text)}


def link(text: str, url: str) -> dict:
    return {"itemType": "TitleLinkItem", "url": url, "titleItem": title(text)}


def asset(url: str = "https://acme.example/a.png", mime: str = "image/png", kind: str = "ImageAsset") -> dict:
    return {"id": "a1", "assetType": kind, "mimeType": mime, "assetUrl": url, "description": "Our shop"}


def text_input(label: str, **extra) -> dict:
    return {"inputType": "TextInput", "id": label[:8], "label": title(label), "required": True, **extra}


FORM = {
    "formatType": "Inputs",
    "formTitle": title("Delivery details"),
    "message": title("Please fill out this form"),
    "introScreen": None,
    "images": [],
    "sections": [
        {"sectionType": "SingleInputSection", "input": text_input("Your order number")},
        {"sectionType": "SingleInputSection", "input": {
            "inputType": "SelectInput", "id": "when", "label": title("When should we come?"),
            "optionItems": [option("Morning", "am"), option("Afternoon", "pm")]}},
        {"sectionType": "SingleInputSection", "input": {
            "inputType": "DatePickerInput", "id": "day", "label": title("Which day?"), "dateFormat": "DD/MM/YYYY"}},
        {"sectionType": "SingleInputSection", "input": text_input("Anything else?", required=False)},
    ],
}  # fmt: skip

# (messageType, body member, body) -> (treatment, what reaches the customer, or the reason's subject)
EXAMPLES = {
    ("StaticContentMessage", "Text"): (
        {"formatType": "Text", "text": "Hi there"},
        NATIVE, [{"kind": "text", "text": "Hi there"}],
    ),
    ("StaticContentMessage", "Attachments"): (
        {"formatType": "Attachments", "text": "your invoice", "attachments": [
            {"id": "f1", "name": "invoice.pdf", "mimeType": "application/pdf", "url": "https://acme.example/i.pdf"}]},
        NATIVE, [{"kind": "media", "text": "your invoice", "media_url": "https://acme.example/i.pdf",
                  "media_mime_type": "application/pdf", "media_filename": "invoice.pdf"}],
    ),
    ("StaticContentMessage", "Media"): (
        {"formatType": "Media", "mediaAsset": asset(), "linkItems": [link("Open map", "https://maps.example/x")]},
        NATIVE, [{"kind": "media", "text": "Our shop\nOpen map: https://maps.example/x",
                  "media_url": "https://acme.example/a.png", "media_mime_type": "image/png"}],
    ),
    ("StaticContentMessage", "RichLink"): (
        {"formatType": "RichLink", "linkItem": link("Track your parcel", "https://acme.example/track")},
        READABLE, [{"kind": "text", "text": "Track your parcel\nhttps://acme.example/track"}],
    ),
    ("StaticContentMessage", "Links"): (
        {"formatType": "Links", "links": [{"url": "https://acme.example/faq"}]},
        READABLE, [{"kind": "text", "text": "https://acme.example/faq"}],
    ),
    ("StaticContentMessage", "WebView"): (
        {"formatType": "WebView", "url": "https://acme.example/survey", "title": title("How did we do?")},
        READABLE, [{"kind": "text", "text": "How did we do?\nhttps://acme.example/survey"}],
    ),
    ("StaticContentMessage", "Application"): (
        {"formatType": "Application", "application": {
            "name": "Pay", "identifier": "com.acme.pay", "developerId": "T1", "applicationType": "ExternalApplication"}},
        REFUSED, "app extension",
    ),
    ("StaticContentMessage", "ExperienceType"): (
        {"formatType": "ExperienceType", "values": [{"valueType": "ExperienceTypeValue", "type": "x", "value": 1}]},
        REFUSED, "Experience Type",
    ),
    ("ChoicesMessage", "Buttons"): (
        {"formatType": "Buttons", "text": "Pick one", "optionItems": [option("Yes", "y"), option("No", "n")]},
        NATIVE, [{"kind": "choices", "text": "Pick one",
                  "buttons": [{"title": "Yes", "payload": "y"}, {"title": "No", "payload": "n"}]}],
    ),
    ("ChoicesMessage", "QuickReplies"): (
        {"formatType": "QuickReplies", "text": "Happy?", "optionItems": [option("Yes", "y")]},
        NATIVE, [{"kind": "choices", "text": "Happy?", "buttons": [{"title": "Yes", "payload": "y"}]}],
    ),
    ("ChoicesMessage", "ListPicker"): (
        {"formatType": "ListPicker", "title": "Topics", "message": title("What is it about?"),
         "optionItems": [option("Billing", "b"), option("Delivery", "d")]},
        NATIVE, [{"kind": "choices", "text": "Topics\nWhat is it about?",
                  "buttons": [{"title": "Billing", "payload": "b"}, {"title": "Delivery", "payload": "d"}]}],
    ),
    ("ChoicesMessage", "TimePicker"): (
        {"formatType": "TimePicker", "calendarEvent": {
            "itemType": "CalendarEventOptionsItem", "identifier": "c1", "title": "Pick a visit",
            "timeSlotOptionItems": [{"itemType": "TimeSlotOptionItem", "optionIdentifier": "s1",
                                     "startTime": "2021-02-25T14:00:00Z", "duration": 3600}]}},
        NATIVE, [{"kind": "choices", "text": "Pick a visit",
                  "buttons": [{"title": "Thu 25 Feb 2021, 14:00–15:00 UTC", "payload": "s1"}]}],
    ),
    ("ChoicesMessage", "Carousel"): (
        {"formatType": "Carousel", "title": "Our plans", "items": [
            {"titleItem": title("Basic"), "interactionItems": [option("Choose Basic", "basic")]},
            {"titleItem": title("Pro"), "interactionItems": [link("Details", "https://acme.example/pro")]}]},
        READABLE, [{"kind": "text",
                    "text": "Our plans\n1. Basic\n   - Choose Basic\n2. Pro\n   - Details: https://acme.example/pro"}],
    ),
    ("ChoicesMessage", "MessageDefinition"): (
        {"formatType": "MessageDefinition", "messageDefinitionNameOrId": "Pick_Topic",
         "options": [{"optionIdentifier": "o1", "value": {"valueType": "TextValue", "textValue": "Billing"}}]},
        REFUSED, "MessageDefinition",
    ),
    ("FormMessage", "Inputs"): (
        FORM,
        READABLE, [{"kind": "text", "text": (
            "Delivery details\nPlease fill out this form\n\n"
            "1. Your order number\n"
            "2. When should we come?\n   Morning / Afternoon\n"
            "3. Which day? (a date, DD/MM/YYYY)\n"
            "4. Anything else? (optional)")}],
    ),
    ("FormMessage", "MessageDefinition"): (
        {"formatType": "MessageDefinition", "messageDefinitionNameOrId": "Address_Form"},
        REFUSED, "MessageDefinition",
    ),
    ("ChoicesResponseMessage", "Selections"): (
        {"formatType": "Selections", "selectedOptions": [{"optionIdentifier": "y"}]},
        REFUSED, "only the customer sends",
    ),
    ("FormResponseMessage", "Inputs"): ({"formatType": "Inputs"}, REFUSED, "only the customer sends"),
    ("FormResponseMessage", "Result"): ({"formatType": "Result"}, REFUSED, "only the customer sends"),
}  # fmt: skip


def abstract_message(message_type: str, body: dict) -> dict:
    member = agent_content.BODY_MEMBER[message_type]
    return {"messageType": message_type, "id": ID, "inReplyToMessageId": None, member: body}


def test_the_table_covers_every_documented_format_and_nothing_else():
    assert sorted(agent_content.FORMATS) == documented_formats()
    assert sorted(EXAMPLES) == documented_formats()


AGENT_SENDABLE = {"StaticContentMessage", "ChoicesMessage", "FormMessage"}


@pytest.mark.parametrize("message_type, format_type", documented_formats())
def test_each_documented_format_gets_its_treatment(message_type, format_type):
    body, treatment, expected = EXAMPLES[(message_type, format_type)]
    message = abstract_message(message_type, body)
    if message_type in AGENT_SENDABLE:  # the example is a documented shape
        assert schema_error(message_type, drop_nulls(message), spec=OUTBOUND) is None
    rendering = render(message)
    assert rendering.treatment == treatment == agent_content.FORMATS[(message_type, format_type)].treatment
    if treatment == REFUSED:
        [refused] = rendering.contents
        assert refused["kind"] == "refused" and refused["code"] == agent_content.REFUSED_CODE
        assert refused["reason"].startswith("Not sent: the customer's channel cannot show ")
        assert expected in refused["reason"]
    else:
        assert rendering.contents == expected
        for content in rendering.contents:  # and the provider can send each of them on every channel
            assert sendable_everywhere(content)


def sendable_everywhere(content: dict) -> bool:
    outbound = OutboundContent(
        kind=content["kind"],
        text=content.get("text", ""),
        media_url=content.get("media_url", ""),
        media_mime_type=content.get("media_mime_type", ""),
        media_filename=content.get("media_filename", ""),
        buttons=[Button(**b) for b in content.get("buttons") or []],
    )
    payloads.whatsapp("447860099299", "447700900123", outbound, "m1", "")
    payloads.sms("Acme", "447700900123", outbound, "m1", "")
    payloads.viber("Acme", "447700900123", outbound, "m1", "")
    return True


@pytest.mark.parametrize(
    "message",
    [
        {"messageType": "HologramMessage", "id": ID, "hologram": {"formatType": "ThreeD"}},
        {"messageType": "ChoicesMessage", "id": ID, "choices": {"formatType": "Spinner", "optionItems": []}},
        {"messageType": "FormMessage", "id": ID, "form": {}},
        {"id": ID},
        None,
        "not an object",
    ],
    ids=["unknown type", "unknown format", "no format", "no type", "null", "a string"],
)
def test_unknown_or_malformed_messages_are_refused_not_sent(message):
    rendering = render(message)
    assert rendering.treatment == REFUSED
    [refused] = rendering.contents
    assert refused["kind"] == "refused"
    assert "a type Switchboard does not know" in refused["reason"]


@pytest.mark.parametrize(
    "message_type, body, reason",
    [
        ("StaticContentMessage", {"formatType": "Attachments", "attachments": [{"id": "f", "name": "x.pdf"}]},
         "without a link"),
        ("StaticContentMessage", {"formatType": "Text", "text": "   "}, "an empty message"),
        ("StaticContentMessage", {"formatType": "WebView", "url": "https://acme.example/s",
                                  "parameters": [{"name": "case", "value": {"valueType": "x"}}]}, "parameters"),
        ("ChoicesMessage", {"formatType": "Buttons", "text": "Pick", "optionItems": [{"optionIdentifier": "y"}]},
         "without a title"),
        ("ChoicesMessage", {"formatType": "TimePicker", "calendarEvent": {"timeSlotOptionItems": [
            {"optionIdentifier": "s", "startTime": "tomorrow", "duration": 60}]}}, "time slot"),
        ("FormMessage", {**FORM, "sections": [{"sectionType": "SingleInputSection", "input": {
            "inputType": "SelectNavigationInput", "id": "n", "label": title("Pick"),
            "optionItems": [{"nextInputId": "x", "optionItem": option("A", "a")}]}}]}, "depend on the answers"),
        ("FormMessage", {**FORM, "sections": [{"sectionType": "SingleInputSection",
                                               "input": {"inputType": "TextInput", "id": "q"}}]}, "without a label"),
        ("FormMessage", {**FORM, "sections": []}, "without questions"),
    ],
    ids=["file without link", "empty text", "web view with parameters", "untitled choice", "bad time slot",
         "branching form", "unlabelled question", "form without questions"],
)  # fmt: skip
def test_a_message_that_cannot_be_shown_faithfully_is_refused_with_its_reason(message_type, body, reason):
    rendering = render(abstract_message(message_type, body))
    assert rendering.treatment == REFUSED
    assert reason in rendering.contents[0]["reason"]


def test_cited_sources_follow_the_text():
    static = {"formatType": "Text", "text": "Returns take 14 days.", "citationContent": {"citations": [
        {"citedReference": {"citedReferenceType": "Link", "label": "Returns policy",
                            "link": {"url": "https://acme.example/returns"}}}]}}  # fmt: skip
    [content] = render(abstract_message("StaticContentMessage", static)).contents
    assert (
        content["text"]
        == "Returns take 14 days.\n\nSources:\n1. Returns policy: https://acme.example/returns"
    )


def test_the_form_reads_the_same_on_sms():
    [content] = render(abstract_message("FormMessage", FORM)).contents
    sms = payloads.sms("Acme", "447700900123", OutboundContent(kind="text", text=content["text"]), "m1", "")
    text = sms.body["messages"][0]["content"]["text"]
    assert (
        text.startswith("Delivery details\n") and "\n2. When should we come?\n   Morning / Afternoon" in text
    )


PICTURED = {
    "QuickReplies": {"formatType": "QuickReplies", "text": "Happy?", "optionItems": [option("Yes", "y")]},
    "ListPicker": {"formatType": "ListPicker", "title": "Topics", "optionItems": [option("Billing", "b")]},
    "TimePicker": EXAMPLES[("ChoicesMessage", "TimePicker")][0],
    "Carousel": EXAMPLES[("ChoicesMessage", "Carousel")][0],
}


@pytest.mark.parametrize("format_type", sorted(PICTURED))
def test_the_pictures_of_choices_go_first_then_the_choices(format_type):
    """ChoicesQuickReplies, ChoicesListPicker, ChoicesTimePicker and ChoicesCarousel carry ``images``
    (ImageAsset[]): each goes first as a media message, captioned with its description; they were dropped
    without a word to anyone."""
    body = {**PICTURED[format_type], "images": [asset("https://acme.example/shop.png")]}
    message = abstract_message("ChoicesMessage", body)
    assert schema_error("ChoicesMessage", drop_nulls(message), spec=OUTBOUND) is None
    without = render(abstract_message("ChoicesMessage", PICTURED[format_type])).contents
    contents = render(message).contents
    assert contents[0] == {
        "kind": "media",
        "text": "Our shop",
        "media_url": "https://acme.example/shop.png",
        "media_mime_type": "image/png",
    }
    assert contents[1:] == without
    assert all(sendable_everywhere(content) for content in contents)


def test_choices_with_a_picture_that_has_no_url_are_refused():
    body = {**PICTURED["QuickReplies"], "images": [{**asset(), "assetUrl": ""}]}
    [refused] = render(abstract_message("ChoicesMessage", body)).contents
    assert refused["kind"] == "refused" and "a picture (number 1) without its URL" in refused["reason"]
