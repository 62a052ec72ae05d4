"""Words for people on the console pages: "just now" rather than "0 minutes ago", "1 flow" rather than
"1 flows", "WhatsApp" rather than "WHATSAPP", "long number" rather than Infobip's "VIRTUAL_LONG_NUMBER".

``{% load console_labels %}`` in a template.
"""

from __future__ import annotations

import re
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from tenants.models import Sender

register = template.Library()

# Plural list names the wizard shows a count of, and their singular.
SINGULAR = {
    "queues": "queue",
    "users": "user",
    "flows": "flow",
    "channels": "channel",
    "senders": "sender",
    "templates": "template",
    "messages": "message",
}

# Infobip's number types (Numbers API, ``type``), as the number list says them.
INFOBIP_NUMBER_TYPES = {
    "VIRTUAL_LONG_NUMBER": "long number",
    "VIRTUAL_LONG_NUMBER_CALL_TRIGGER": "long number (call trigger)",
    "SHORT_CODE": "short code",
    "SHORT_CODE_USSD": "USSD short code",
    "SIM_HOSTING": "SIM hosting",
    "VIRTUAL_SIM_HOSTING": "virtual SIM hosting",
    "WHATSAPP": "WhatsApp",
    "VIBER": "Viber",
    "VIBER_VOICE": "Viber voice",
    "FACEBOOK": "Facebook",
    "RCS": "RCS",
    "TELEGRAM": "Telegram",
    "KAKAO_SANGDAM": "Kakao Sangdam",
    "OPEN_CHANNEL": "open channel",
}
# A known type, or any UPPER_CASE_WITH_UNDERSCORES constant (a type Infobip adds later).
_CONSTANT = re.compile(
    r"\b(?:" + "|".join(sorted(INFOBIP_NUMBER_TYPES, key=len, reverse=True)) + r")\b"
    r"|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b"
)


@register.filter
def ago(value: datetime | None) -> str:
    """ "just now" under a minute, else "3 minutes ago" (the largest unit or two, as Django says it)."""
    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value)} ago"


@register.filter
def count_of(count, plural: str) -> str:
    """``3|count_of:"flows"`` is "3 flows"; ``1|count_of:"flows"`` is "1 flow"."""
    try:
        number = int(count)
    except (TypeError, ValueError):
        number = len(count) if hasattr(count, "__len__") else 0
    word = SINGULAR.get(plural, plural.removesuffix("s")) if number == 1 else plural
    return f"{number} {word}"


@register.filter
def channel_label(value: str) -> str:
    """A sender channel as people write it: "whatsapp" or "WHATSAPP" is "WhatsApp", "sms" is "SMS"."""
    key = str(value or "").strip().lower()
    try:
        return Sender.Channel(key).label
    except ValueError:
        return provider_words(str(value or ""))


@register.filter
def provider_words(value: str) -> str:
    """A provider's label with its constants made readable: "United Kingdom VIRTUAL_LONG_NUMBER" is
    "United Kingdom long number"; an unknown constant such as "NEW_KIND" becomes "new kind"."""

    def word(match: re.Match) -> str:
        constant = match.group(0)
        return INFOBIP_NUMBER_TYPES.get(constant, constant.replace("_", " ").lower())

    return _CONSTANT.sub(word, str(value or ""))
