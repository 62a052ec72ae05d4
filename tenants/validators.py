"""Validation of the values a tenant configures, each with an error that says what is wrong."""

from __future__ import annotations

import ipaddress
import re
import string
from urllib.parse import SplitResult, urlsplit

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.deconstruct import deconstructible

from portal import egress

_ID_CHARS = re.compile(r"^[0-9A-Za-z]+$")
_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"

# Key prefixes of the Salesforce objects a tenant refers to.
KEY_PREFIXES = {
    "organization": "00D",
    "user": "005",
    "queue": "00G",
    "flow": "300",
    "chat_button": "573",
    "chat_deployment": "572",
    "messaging_session": "0Mw",
}


def salesforce_id_checksum(id15: str) -> str:
    """The 3-character suffix Salesforce appends to a 15-character id (one letter per 5 characters)."""
    return "".join(
        _CHECKSUM_ALPHABET[sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())]
        for start in (0, 5, 10)
    )


def normalize_salesforce_id(value: str, *, kind: str | None = None) -> str:
    """Return the 18-character form of a 15- or 18-character id, or raise a ValidationError saying why."""
    value = (value or "").strip()
    label = kind.replace("_", " ") if kind else "Salesforce"
    if len(value) not in (15, 18):
        raise ValidationError(
            f"A {label} id has 15 or 18 characters; this one has {len(value)}.", code="salesforce_id_length"
        )
    if not _ID_CHARS.match(value):
        raise ValidationError(f"A {label} id has only letters and digits.", code="salesforce_id_chars")
    prefix = KEY_PREFIXES.get(kind or "")
    if prefix and not value.startswith(prefix):
        raise ValidationError(
            f"A {label} id starts with {prefix}; this one starts with {value[:3]}.",
            code="salesforce_id_prefix",
        )
    expected = salesforce_id_checksum(value[:15])
    if len(value) == 18 and value[15:].upper() != expected:
        raise ValidationError(
            f"The last 3 characters of this 18-character id should be {expected}: it was mistyped or truncated.",
            code="salesforce_id_checksum",
        )
    return value[:15] + expected


def org_id_15(org_id: str) -> str:
    return org_id[:15]


@deconstructible
class SalesforceIdValidator:
    def __init__(self, kind: str | None = None) -> None:
        self.kind = kind

    def __call__(self, value: str) -> None:
        normalize_salesforce_id(value, kind=self.kind)

    def __eq__(self, other) -> bool:
        return isinstance(other, SalesforceIdValidator) and other.kind == self.kind


def make_salesforce_id_validator(kind: str | None = None) -> SalesforceIdValidator:
    return SalesforceIdValidator(kind)


def normalize_e164(value: str, *, field: str = "phone number") -> str:
    """E.164 with ``+``. Infobip's international form without ``+`` is accepted too.

    Every message is our own: the phone library's texts ("(1) The string supplied did not seem to be a
    phone number.") reach admins, agents and API callers through this one function."""
    raw = (value or "").strip()
    if not raw:
        raise ValidationError(f"Enter a {field}.", code="phone_required")
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    candidate = raw if raw.startswith("+") else "+" + raw.removeprefix("00")
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            f"“{shown}” is not an international {field}: {_PARSE_PROBLEMS.get(exc.error_type, _NOT_A_NUMBER)}",
            code="phone_unparseable",
        ) from None
    if not phonenumbers.is_valid_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        raise ValidationError(
            f"“{shown}” is not a valid {field}: {_LENGTH_PROBLEMS.get(reason, _CHECK_DIGITS)}",
            code="phone_invalid",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_EXAMPLE = "e.g. +447860099299"
_NOT_A_NUMBER = f"write + then the country code and the number, digits only, {_EXAMPLE}."
_PARSE_PROBLEMS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        f"it does not start with a known country code; write + then the country code, {_EXAMPLE}."
    ),
    phonenumbers.NumberParseException.NOT_A_NUMBER: _NOT_A_NUMBER,
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: f"it is too short to be a phone number ({_EXAMPLE}).",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: f"it is too short to be a phone number ({_EXAMPLE}).",
    phonenumbers.NumberParseException.TOO_LONG: f"it has too many digits for a phone number ({_EXAMPLE}).",
}
_CHECK_DIGITS = "check the country code and the number of digits."
_LENGTH_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: f"it has too few digits for its country; {_CHECK_DIGITS}",
    phonenumbers.ValidationResult.TOO_LONG: f"it has too many digits for its country; {_CHECK_DIGITS}",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: (
        f"it does not start with a known country code; write + then the country code, {_EXAMPLE}."
    ),
}


def validate_e164(value: str) -> None:
    normalize_e164(value)


def _is_local_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_browser_url(value: str) -> None:
    """A page a browser shows (the Salesforce console framing ours): https, plain http only on this machine.

    Not for URLs the server itself calls: those take :func:`validate_https_url` (the egress rules).
    """
    URLValidator(
        schemes=["http", "https"], message="Enter a full URL such as https://acme.my.salesforce.com."
    )(value)
    parts = urlsplit(value)
    if parts.scheme == "http" and not _is_local_name(parts.hostname or ""):
        raise ValidationError(
            f"{value} must use https:// (plain http is only allowed for localhost).", code="insecure_url"
        )


def _check_outbound_url(value: str, *, query_allowed: bool) -> SplitResult:
    """The rules every URL the server calls follows; the guard (portal/egress.py, at relay/http.py) applies them again on each
    request (a name can resolve elsewhere later), these give the admin the reason when saving."""
    URLValidator(
        schemes=["http", "https"], message="Enter a full URL such as https://acme.my.salesforce.com."
    )(value)
    parts = urlsplit(value)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError(f"{value} has an invalid port.", code="bad_port") from None
    if "@" in parts.netloc:
        raise ValidationError(
            f"{value} has a user name or password in it: enter the URL without them.", code="url_userinfo"
        )
    if "#" in value:
        raise ValidationError(f"{value} has a #fragment: enter the URL without it.", code="url_fragment")
    if "?" in value and not query_allowed:
        raise ValidationError(
            f"{value} has a ?query: enter the base URL only, such as https://acme.my.salesforce.com.",
            code="url_query",
        )
    listed = egress.is_allowed_host(host, port)
    if parts.scheme == "http" and not listed:
        raise ValidationError(
            f"{value} must use https:// (plain http only for a host listed in EGRESS_ALLOWED_HOSTS).",
            code="insecure_url",
        )
    if not listed:
        try:
            reason = _address_refusal(host, port)
        except egress.ResolutionUnfinished as exc:
            raise ValidationError(
                f"{value} could not be checked: {exc.reason}. Check the host name, or try again later.",
                code="url_unresolved",
            ) from None
        if reason:
            raise ValidationError(
                f"{value} is refused: {reason}. Switchboard does not call loopback, private, link-local, "
                "shared, multicast, reserved or cloud metadata addresses (unless the operator lists the host "
                "in EGRESS_ALLOWED_HOSTS).",
                code="url_not_public",
            )
    return parts


def _address_refusal(host: str, port: int) -> str | None:
    if egress.literal_address(host) is None and _is_local_name(host):  # localhost, *.localhost: RFC 6761
        return f"{host} is this machine"
    try:
        addresses = egress.resolve(host, port)
    except (OSError, UnicodeError):  # not ResolutionUnfinished: no answer in time is not "no such host"
        return None  # not resolvable now: the guard checks again on every request
    return egress.refusal(host, addresses)


def validate_https_url(value: str) -> None:
    """A base URL the server calls (Salesforce, a provider): https to a public address; no user name or
    password, #fragment or ?query; plain http and local addresses only for EGRESS_ALLOWED_HOSTS."""
    _check_outbound_url(value, query_allowed=False)


def validate_salesforce_url(value: str) -> None:
    """A Salesforce URL the server signs in to or sends its token to (login, My Domain, SCRT, Chat API): as
    :func:`validate_https_url`, and on one of Salesforce's own domains (SALESFORCE_DOMAINS) or a host the
    operator lists (the sandbox). Otherwise whoever may edit the connection could point it at their own
    server and collect the integration user's signed JWT assertion or access token."""
    parts = _check_outbound_url(value, query_allowed=False)
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if egress.is_allowed_host(host, port):
        return
    domains = [d.lower().lstrip(".") for d in settings.SALESFORCE_DOMAINS]
    if not any(host == d or host.endswith("." + d) for d in domains):
        raise ValidationError(
            f"{value} is not a Salesforce address: Switchboard signs in and sends its access token only to "
            f"Salesforce's own domains ({', '.join(domains)}), e.g. https://acme.my.salesforce.com.",
            code="not_salesforce",
        )


def validate_endpoint_url(value: str) -> None:
    """An endpoint the server posts to (a partner's webhook): as :func:`validate_https_url`, a ?query allowed."""
    _check_outbound_url(value, query_allowed=True)


def validate_api_origin(value: str) -> None:
    """A provider's API base URL: a bare https origin such as ``https://abcd12.api.infobip.com`` (the adapter
    appends each API path). A host in EGRESS_ALLOWED_HOSTS may carry a path prefix (the sandbox's)."""
    parts = _check_outbound_url(value, query_allowed=False)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.path not in ("", "/") and not egress.is_allowed_host(parts.hostname or "", port):
        raise ValidationError(
            f"{value} has a path: enter the API base URL only, such as https://abcd12.api.infobip.com.",
            code="url_path",
        )


# --- 8x8 Chat Apps identifiers (8x8's OpenAPI file, business_messaging_api.json) -------------------------

_SUBACCOUNT_ID = re.compile(r"[A-Za-z0-9\-._&]{3,50}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}")


def validate_subaccount_id(value: str) -> None:
    """8x8's ``subAccountId`` path parameter: 3 to 50 letters, digits, ``- . _ &``."""
    if value and not _SUBACCOUNT_ID.fullmatch(value):
        raise ValidationError(
            "An 8x8 sub-account id has 3 to 50 letters, digits, '-', '.', '_' or '&'.", code="subaccount_id"
        )


def validate_provider_account_id(value: str) -> None:
    """8x8's ``accountId``: a UUID (32 hex digits, dashes optional)."""
    if value and not _UUID.fullmatch(value):
        raise ValidationError(
            "An 8x8 account id is a UUID such as 0f1d2c3b-4a59-4687-a7b8-c9d0e1f2a3b4.", code="account_id"
        )


def validate_channel_id(value: str) -> str:
    """An 8x8 channel id (a UUID), lower-cased as 8x8 writes it in webhooks."""
    raw = (value or "").strip()
    if not _UUID.fullmatch(raw):
        raise ValidationError(
            "For an 8x8 account, enter the channel id (a UUID such as ec36a867-3dd4-e911-814a-02d85f55fce8), "
            "shown in 8x8 Connect for each WhatsApp, Viber or SMS channel.",
            code="channel_id",
        )
    return raw.lower()
