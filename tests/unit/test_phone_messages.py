"""Every phone-number error is Switchboard's own sentence: it quotes what was typed, names the field and
says how to write it, never the phone library's text ("(1) The string supplied did not seem to be...").
All callers (admin, wizard, template panel, partner API, webhooks, handover) go through normalize_e164."""

from __future__ import annotations

import phonenumbers
import pytest
from django.core.exceptions import ValidationError

from tenants.validators import normalize_e164

LIBRARY_TEXTS = ("did not seem", "Could not interpret", "(0)", "(1)", "(2)", "(3)", "(4)", "too short after")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("hello", "write + then the country code"),
        ("+44abc", "write + then the country code"),
        ("++44", "write + then the country code"),
        ("+1", "write + then the country code"),
        ("+999123456", "does not start with a known country code"),
        ("+0044", "does not start with a known country code"),
        ("+44786", "too few digits for its country"),
        ("+44 12", "too few digits for its country"),
        ("+4478600992991234567", "too many digits"),
        ("+" + "9" * 300, "too many digits"),
        ("+447000000000000", "not a valid"),
    ],
)
@pytest.mark.parametrize("field", ["phone number", "customer number", "sender number"])
def test_a_bad_number_gets_our_own_message_naming_the_field(raw, says, field):
    with pytest.raises(ValidationError) as excinfo:
        normalize_e164(raw, field=field)
    message = excinfo.value.messages[0]
    assert says in message
    assert field in message
    assert not any(text in message for text in LIBRARY_TEXTS), message
    assert excinfo.value.__cause__ is None  # the library's exception is not chained into logs either
    assert len(message) < 200  # a pasted novel is quoted shortened


@pytest.mark.parametrize("error_type", range(5))
def test_every_parse_error_the_library_has_reads_as_ours(error_type, monkeypatch):
    """Whatever parse error phonenumbers raises (now or in a later release), the text is ours."""

    def parse(*_args, **_kwargs):
        raise phonenumbers.NumberParseException(error_type, "library text")

    monkeypatch.setattr(phonenumbers, "parse", parse)
    with pytest.raises(ValidationError) as excinfo:
        normalize_e164("+447860099299", field="customer number")
    message = excinfo.value.messages[0]
    assert message.startswith("“+447860099299” is not an international customer number: ")
    assert "library text" not in message and "(" not in message.split(":", 1)[1].replace("(e.g.", "")


@pytest.mark.parametrize(
    ("raw", "e164"), [("+447400123456", "+447400123456"), ("447400123456", "+447400123456")]
)
def test_the_demo_customer_is_valid(raw, e164):
    assert normalize_e164(raw) == e164
