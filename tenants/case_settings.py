"""Validation of the Cases desk's settings on :class:`~tenants.models.SalesforceConnection` (docs/cases.md).

The JSON settings come from admins and the partner API: each is a flat map of short strings, checked here so
a wrong shape is a clear field error at save time, never a failed Case creation for every customer later.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

#: A Salesforce field API name: standard (Subject) or custom (Brand__c, ns__Brand__c).
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
#: Case fields Switchboard sets itself (relay/desks/cases.py case_fields): a mapping may not overwrite them.
#: Salesforce field names are case-insensitive, so they are compared casefolded ("ownerid" is OwnerId).
RESERVED_CASE_FIELDS = frozenset(
    {"Id", "Subject", "Origin", "OwnerId", "ContactId", "SuppliedPhone", "SuppliedName", "Status"}
)
_RESERVED_FOLDED = {name.casefold(): name for name in RESERVED_CASE_FIELDS}
#: What a field mapping's value may name besides a constant (rendered per conversation).
PLACEHOLDERS = ("{customer}", "{customer_name}", "{channel}", "{sender}", "{sender_name}")
CHANNELS = ("whatsapp", "sms", "viber")
MAX_ENTRIES = 50
MAX_VALUE_LENGTH = 1000


def _flat_map(value, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValidationError(f"{what}: a JSON object of names to texts is expected.", code="not_a_map")
    if len(value) > MAX_ENTRIES:
        raise ValidationError(f"{what}: at most {MAX_ENTRIES} entries.", code="too_many")
    for key, text in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError(f"{what}: every name must be a non-empty text.", code="bad_key")
        if not isinstance(text, str):
            raise ValidationError(f"{what}: the value of {key[:80]!r} must be a text.", code="bad_value")
        if not (_storable(key) and _storable(text)):  # PostgreSQL refuses them: a 500 at save time
            raise ValidationError(
                f"{what}: {key[:80]!r} has a NUL character or half of a surrogate pair; remove it.",
                code="unstorable",
            )
        if len(text) > MAX_VALUE_LENGTH:
            raise ValidationError(
                f"{what}: the value of {key[:80]!r} is longer than {MAX_VALUE_LENGTH} characters.",
                code="too_long",
            )
    return value


def _storable(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def validate_status_texts(value) -> None:
    """``{"Working": "An agent is looking at your request."}``: Case Status → text to the customer."""
    for status in _flat_map(value, "Status texts"):
        if len(status) > 40:  # Case.Status is a picklist: its values are at most 40 characters
            raise ValidationError(f"Status texts: {status[:80]!r} is not a Case status.", code="bad_key")


def validate_origins(value) -> None:
    """``{"whatsapp": "WhatsApp"}``: the Case Origin per channel."""
    for channel, origin in _flat_map(value, "Case origins").items():
        if channel not in CHANNELS:
            raise ValidationError(
                f"Case origins: {channel[:80]!r} is not a channel ({', '.join(CHANNELS)}).", code="bad_key"
            )
        if len(origin) > 40:
            raise ValidationError(f"Case origins: {origin[:80]!r} is longer than a picklist value.")


def validate_field_mapping(value) -> None:
    """``{"Brand__c": "Acme", "Customer_Phone__c": "{customer}"}``: Case field → constant or placeholder."""
    seen: dict[str, str] = {}
    for field in _flat_map(value, "Field mapping"):
        if not FIELD_NAME.match(field):
            raise ValidationError(f"Field mapping: {field[:80]!r} is not a field API name.", code="bad_key")
        folded = field.casefold()
        if folded in _RESERVED_FOLDED:
            raise ValidationError(
                f"Field mapping: {_RESERVED_FOLDED[folded]} is set by Switchboard and cannot be mapped.",
                code="reserved",
            )
        if folded in seen:  # the Case create would name one field twice and fail for every customer
            raise ValidationError(
                f"Field mapping: {seen[folded]} and {field} are the same field (names ignore letter case).",
                code="duplicate",
            )
        seen[folded] = field
