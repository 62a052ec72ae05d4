"""Values generated from a template's structure, their validation, and the preview (no database)."""

import pytest
from django.core.exceptions import ValidationError

from relay.outbound.template_values import preview, preview_text, shape_of, template_values
from sandbox.infobip.templates_seed import seed_templates

SEEDS = {(t["name"], t["language"]): t["structure"] for t in seed_templates()}
ORDER_SHIPPED = SEEDS[("order_shipped", "en")]
INVOICE = SEEDS[("invoice_ready", "en")]
SPRING_SALE = SEEDS[("spring_sale", "en")]


def test_fields_follow_the_structure_and_fixed_buttons_need_nothing():
    shape = shape_of(ORDER_SHIPPED)
    assert shape.field_names == ["header_text", "body_1", "body_2", "body_3", "url_1", "reply_1"]
    assert [f.initial for f in shape.fields if f.name == "reply_1"] == ["Talk to an agent"]
    assert [f.example for f in shape.fields if f.name == "url_1"] == ["10234"]

    sale = shape_of(SPRING_SALE)  # IMAGE header, static URL and phone buttons
    assert sale.field_names == ["header_media_url", "body_1", "body_2"]
    assert [(b.type, b.dynamic) for b in sale.buttons] == [("URL", False), ("PHONE_NUMBER", False)]
    assert shape_of(INVOICE).field_names == [
        "header_media_url",
        "header_filename",
        "body_1",
        "body_2",
        "reply_1",
    ]


def test_complete_values_make_the_send_and_its_text():
    values = template_values(
        "order_shipped",
        "en",
        ORDER_SHIPPED,
        {
            "header_text": "10234",
            "body_1": "Frank",
            "body_2": "10234",
            "body_3": "Friday",
            "url_1": "10234",
            "reply_1": "agent-please",
        },
    )
    assert values.body_placeholders == ["Frank", "10234", "Friday"]
    assert values.header_text_placeholder == "10234"
    assert values.url_button_parameters == ["10234"] and values.quick_reply_payloads == ["agent-please"]
    assert "Hi Frank, your order 10234 has shipped and should arrive by Friday." in values.rendered_text
    assert "[Track parcel: https://track.example.com/10234]" in values.rendered_text


def test_document_header_takes_url_and_filename():
    values = template_values(
        "invoice_ready",
        "en",
        INVOICE,
        {
            "header_media_url": "https://cdn.example.com/inv/42.pdf",
            "header_filename": "Invoice 42.pdf",
            "body": ["INV-42", "EUR 10"],  # the partner API may send lists
            "quick_replies": ["question"],
        },
    )
    assert (values.header_media_type, values.header_filename) == ("DOCUMENT", "Invoice 42.pdf")
    assert values.body_placeholders == ["INV-42", "EUR 10"]


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"body_2": "  "}, "body_2", "empty placeholder"),
        ({"reply_1": "x" * 129}, "reply_1", "at most 128 characters; this one has 129"),
        ({"reply_1": ""}, "reply_1", "1 to 128 characters"),
        ({"header_media_url": "ftp://cdn.example.com/a.pdf"}, "header_media_url", "must start with https://"),
        ({"header_media_url": "https://"}, "header_media_url", "not a valid link"),
        ({"header_filename": "../etc/passwd"}, "header_filename", "without /"),
        ({"body_1": "two\nlines"}, "body_1", "new lines"),
        ({"nonsense": "x"}, "nonsense", "no such value"),
    ],
)
def test_each_bad_value_is_named_with_a_reason(changes, field, says):
    good = {
        "header_media_url": "https://cdn.example.com/a.pdf",
        "body_1": "INV-1",
        "body_2": "EUR 1",
        "reply_1": "ok",
    }
    with pytest.raises(ValidationError) as raised:
        template_values("invoice_ready", "en", INVOICE, {**good, **changes})
    assert list(raised.value.message_dict) == [field]
    assert says in raised.value.message_dict[field][0]


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as raised:
        template_values("order_shipped", "en", ORDER_SHIPPED, {"url_1": "has space", "reply_1": "x" * 200})
    assert set(raised.value.message_dict) == {"header_text", "body_1", "body_2", "body_3", "url_1", "reply_1"}


def test_a_template_switchboard_cannot_fill_is_refused():
    structure = {"body": {"text": "Your code"}, "buttons": [{"type": "COPY_CODE", "text": "Copy"}]}
    assert "copy code" in shape_of(structure).unsupported
    with pytest.raises(ValidationError) as raised:
        template_values("code", "en", structure, {})
    assert "cannot be sent" in raised.value.message_dict["template"][0]


def test_preview_marks_what_is_missing_and_fills_what_is_typed():
    shown = preview("order_shipped", ORDER_SHIPPED, {"body_1": "Frank", "url_1": "777"})
    assert shown.body_text == "Hi Frank, your order {{2}} has shipped and should arrive by {{3}}."
    assert [s.text for s in shown.body if s.missing] == ["{{2}}", "{{3}}"]
    assert shown.header_text == "Order {{1}} is on its way"
    assert [(b.text, b.target) for b in shown.buttons] == [
        ("Track parcel", "https://track.example.com/777"),
        ("Talk to an agent", ""),
    ]
    text = preview_text(preview("invoice_ready", INVOICE, {"header_media_url": "https://x.example/inv.pdf"}))
    assert text.splitlines()[:2] == ["[WhatsApp template invoice_ready]", "document: inv.pdf"]
