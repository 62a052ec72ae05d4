"""Every validation rule, and the error it gives."""

import pytest
from django.core.exceptions import ValidationError

from tenants.validators import (
    normalize_e164,
    normalize_salesforce_id,
    salesforce_id_checksum,
    validate_https_url,
)


@pytest.mark.parametrize(
    ("id15", "suffix"),
    [
        ("001A0000006Vm9r", "IAC"),
        ("00D000000000062", "EAA"),
        ("005000000000000", "AAA"),
        ("a0XZZZZZZZZZZZZ", "255"),
    ],
)
def test_checksum_matches_salesforce(id15, suffix):
    assert salesforce_id_checksum(id15) == suffix


def test_15_character_org_id_is_stored_as_18():
    assert normalize_salesforce_id("00D000000000062", kind="organization") == "00D000000000062EAA"


def test_18_character_id_with_any_case_checksum_is_accepted():
    assert normalize_salesforce_id("001A0000006Vm9riac") == "001A0000006Vm9rIAC"


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ("00D00000000006", "organization", "15 or 18 characters; this one has 14"),
        ("00D00000000006-", "organization", "only letters and digits"),
        ("005000000000000", "organization", "starts with 00D; this one starts with 005"),
        ("001A0000006Vm9rIAB", None, "should be IAC"),
        ("00G8d000000AcmE", "user", "starts with 005"),
    ],
)
def test_bad_salesforce_ids_say_what_is_wrong(value, kind, message):
    with pytest.raises(ValidationError) as excinfo:
        normalize_salesforce_id(value, kind=kind)
    assert message in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+447860099299", "+447860099299"),
        ("447860099299", "+447860099299"),
        ("00385919998888", "+385919998888"),
    ],
)
def test_phone_numbers_normalize_to_e164(raw, e164):
    assert normalize_e164(raw) == e164


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter a phone number"),
        ("hello", "not an international phone number"),
        ("+44786", "not a valid phone number"),
    ],
)
def test_bad_phone_numbers_say_what_is_wrong(raw, message):
    with pytest.raises(ValidationError) as excinfo:
        normalize_e164(raw)
    assert message in excinfo.value.messages[0]


@pytest.mark.parametrize(
    "url", ["https://acme.my.salesforce.com", "http://127.0.0.1:8100/sim/core", "http://127.0.0.1:8000/x"]
)
def test_https_or_listed_local_http_urls_are_accepted(url):  # tests/settings.py lists 127.0.0.1
    validate_https_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://acme.my.salesforce.com", "must use https://"),
        ("ftp://x.example", "Enter a full URL"),
        ("acme", "Enter a full URL"),
    ],
)
def test_insecure_or_malformed_urls_are_refused(url, message):
    with pytest.raises(ValidationError) as excinfo:
        validate_https_url(url)
    assert message in excinfo.value.messages[0]
