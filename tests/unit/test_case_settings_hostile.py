"""The Cases desk's JSON settings against hostile admins and partner API clients (tenants/case_settings.py).

Salesforce field API names are case-insensitive ("subject" is Subject), so a rule about field names that
compares them as written can be walked around by changing a letter's case; and a Case create whose JSON names
one field twice fails for every customer. The fuzz test: whatever JSON arrives, validation either accepts it
as a flat map of short texts or refuses it with a ValidationError, never anything else.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.desks.cases import case_fields
from relay.untrusted import storable
from tenants import case_settings
from tenants.case_settings import (
    RESERVED_CASE_FIELDS,
    validate_field_mapping,
    validate_origins,
    validate_status_texts,
)


@pytest.mark.parametrize("field", sorted(RESERVED_CASE_FIELDS))
@pytest.mark.parametrize("spelling", [str.lower, str.upper, str.swapcase])
def test_a_reserved_field_in_any_letter_case_cannot_be_mapped(field, spelling):
    with pytest.raises(ValidationError) as refused:
        validate_field_mapping({spelling(field): "mine"})
    assert refused.value.code == "reserved"


@pytest.mark.parametrize("field", ["SuppliedName", "suppliedname"])
def test_a_field_switchboard_sets_itself_cannot_be_mapped(field):
    # case_fields() writes SuppliedName after the mapping: a mapping of it would be silently dropped.
    with pytest.raises(ValidationError) as refused:
        validate_field_mapping({field: "{customer_name}"})
    assert refused.value.code == "reserved"


def test_one_field_named_twice_in_different_letter_cases_is_refused():
    with pytest.raises(ValidationError) as refused:
        validate_field_mapping({"Brand__c": "Acme", "brand__C": "Other"})
    assert refused.value.code == "duplicate"


def test_no_accepted_mapping_makes_a_case_name_a_field_twice(monkeypatch):
    """The class, at the depth it breaks: the fields a Case is created with never name one field twice
    (case-insensitively), whichever Switchboard fields apply."""
    mapping = {"Brand__c": "Acme", "Description": "{customer}", "Reason": "Other"}
    validate_field_mapping(mapping)
    for field in RESERVED_CASE_FIELDS | {"SuppliedName"}:
        assert field.casefold() not in {name.casefold() for name in mapping}

    class Sender:
        channel = "whatsapp"
        address = "+15550001"
        display_name = "Acme"

        def get_channel_display(self):
            return "WhatsApp"

    class Conversation:
        customer = "+15550002"
        customer_name = "Frank O'Brien"
        sender = Sender()
        last_agent_id = ""

    class Connection:
        case_field_mapping = mapping
        case_origins: dict = {}
        case_default_queue_id = "00G000000000001AAA"

    class Link:
        subject = "WhatsApp: hello"
        contact_id = "003000000000001AAA"

    # No routing rule (routing is not under test): the default queue owns the Case.
    monkeypatch.setattr("relay.desks.cases.matching_rule", lambda conversation: None)
    fields = case_fields(Connection(), Conversation(), Link())  # type: ignore[arg-type]
    names = [name.casefold() for name in fields]
    assert len(names) == len(set(names)), fields


ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=50)  # NUL, lone surrogates too
JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | ANY_TEXT
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON | st.dictionaries(st.text(max_size=90), st.text(max_size=1100), max_size=60))
def test_any_json_is_accepted_as_a_flat_map_or_refused_with_a_validation_error(value):
    for validate in (validate_field_mapping, validate_origins, validate_status_texts):
        try:
            validate(value)
        except ValidationError:
            continue
        assert isinstance(value, dict) and len(value) <= case_settings.MAX_ENTRIES
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        assert all(len(v) <= case_settings.MAX_VALUE_LENGTH for v in value.values())
        # and PostgreSQL can store every text of it (a NUL or a lone surrogate fails the save: a 500)
        assert all(storable(t) == t for pair in value.items() for t in pair)


@pytest.mark.parametrize("validate", [validate_field_mapping, validate_status_texts, validate_origins])
@pytest.mark.parametrize("bad", ["a\x00b", "half \ud83d of an emoji"])
def test_a_text_postgresql_cannot_store_is_a_validation_error(validate, bad):
    key = {validate_origins: "sms", validate_field_mapping: "Brand__c"}.get(validate, "Working")
    for value in ({key: bad}, {bad: "x"}):
        with pytest.raises(ValidationError):
            validate(value)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"Working": NaN}', '{"Working": "a\\u0000b"}', "{" * 40])
@pytest.mark.parametrize("field", ["case_status_texts", "case_field_mapping"])
def test_the_wizard_answers_hostile_json_with_a_field_error(field, text):
    from portal.console.wizard.steps.channel_cases import CasesForm

    form = CasesForm(data={"case_transcript": "feed", "case_reopen_hours": "0", "case_reopen_status": "New",
                           field: text})  # fmt: skip
    assert not form.is_valid()
    assert field in form.errors
