"""The handover request a bot sends, validated field by field (docs/handover.md is the contract).

``{"customer" | "senderNumber", "sender"?, "channel"?, "customerName"?, "handoverId"?,
"conversationId"? , "transcript"?: [{"speaker", "text", "time", "id"?, "name"?, "media"?}],
"attributes"?}``: either the transcript inline or an Infobip conversation id to fetch it from.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from tenants.models import Sender, Tenant
from tenants.validators import normalize_e164

from ..providers.registry import get_provider
from ..untrusted import EARLIEST_PLAUSIBLE, Repairs, ascii_digits, bounded_id

CHANNELS = {"WHATSAPP": Sender.Channel.WHATSAPP, "SMS": Sender.Channel.SMS, "VIBER": Sender.Channel.VIBER}
SPEAKERS = {
    "customer": "customer",
    "user": "customer",
    "end_user": "customer",
    "enduser": "customer",
    "bot": "bot",
    "chatbot": "bot",
    "assistant": "bot",
    "agent": "agent",
    "system": "system",
}
CUSTOMER_FIELDS = ("customer", "senderNumber", "endUserNumber", "phoneNumber")
MAX_ENTRIES = 1000
MAX_TEXT = 10_000
FUTURE_SLACK = timedelta(minutes=5)
KEY_LENGTH = 255  # Handover.key
CUSTOMER_NAME_LENGTH = 255  # Conversation.customer_name
ENTRY_NAME_LENGTH = 120
TIME_FORMATS = "Use ISO 8601 (2026-05-01T10:02:00Z) or epoch milliseconds."


@dataclass
class HandoverRequest:
    key: str
    sender: Sender
    customer: str
    customer_name: str = ""
    provider_conversation_id: str = ""
    entries: list[dict] | None = None  # None: fetch from the provider
    attributes: dict = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)  # what was changed to store it (see repair_document)


def repair_document(document: dict) -> tuple[dict, list[str]]:
    """The handover with every string storable (no NUL bytes, no unpaired surrogates) and the customer's
    and speakers' names cut to their columns: a customer's words are never refused for their bytes. The
    list says what was changed; it is kept on the handover's line message."""
    repairs = Repairs()
    repaired = repairs.json(document, "handover")
    if isinstance(repaired.get("customerName"), str):
        repaired["customerName"] = repairs.text(
            repaired["customerName"], "customerName", CUSTOMER_NAME_LENGTH
        )
    transcript = repaired.get("transcript")
    for index, entry in enumerate(transcript if isinstance(transcript, list) else []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            entry["name"] = repairs.text(entry["name"], f"transcript[{index}].name", ENTRY_NAME_LENGTH)
    return repaired, repairs.notes


def epoch_ms(value) -> int:
    """ISO 8601 (naive means UTC) or epoch milliseconds (or seconds) → epoch milliseconds."""
    if isinstance(value, bool):
        raise serializers.ValidationError(TIME_FORMATS)
    if isinstance(value, str) and ascii_digits(value.strip()):
        value = int(value.strip()[:20])  # more digits than any epoch: out of range below, not a huge int
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise serializers.ValidationError(TIME_FORMATS)
        return _plausible(int(number if number > 1e11 else number * 1000))
    try:
        moment = parse_datetime(str(value).strip()) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible: 2026-02-30, 25:00
        raise serializers.ValidationError("This date or time does not exist.") from None
    if moment is None:
        raise serializers.ValidationError(TIME_FORMATS)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    if moment < EARLIEST_PLAUSIBLE:  # before comparing in UTC: year 1 at +01:00 has no UTC timestamp
        raise serializers.ValidationError(f"This time is before {EARLIEST_PLAUSIBLE.year}.")
    return _plausible(int(moment.timestamp() * 1000))


def _plausible(stamp: int) -> int:
    """Epoch milliseconds a bot's clock could have shown (the future is checked against now later)."""
    if stamp < EARLIEST_PLAUSIBLE.timestamp() * 1000:
        raise serializers.ValidationError(f"This time is before {EARLIEST_PLAUSIBLE.year}.")
    if stamp > (timezone.now() + FUTURE_SLACK).timestamp() * 1000:
        raise serializers.ValidationError("This time is in the future.")
    return stamp


class MediaSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    mimeType = serializers.CharField(max_length=120, required=False, allow_blank=True)  # noqa: N815
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True)


class EntrySerializer(serializers.Serializer):
    id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    speaker = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=ENTRY_NAME_LENGTH, required=False, allow_blank=True)
    text = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    time = serializers.JSONField()
    media = MediaSerializer(required=False, allow_null=True)

    def validate_speaker(self, value: str) -> str:
        speaker = SPEAKERS.get(value.strip().lower())
        if speaker is None:
            raise serializers.ValidationError("Use customer, bot, agent or system.")
        return speaker

    def validate_time(self, value) -> int:
        return epoch_ms(value)  # within EARLIEST_PLAUSIBLE .. now + FUTURE_SLACK

    def validate(self, data: dict) -> dict:
        if not (data.get("text") or "").strip() and not data.get("media"):
            raise serializers.ValidationError({"text": "Give the text (or media) of the message."})
        return data


class HandoverSerializer(serializers.Serializer):
    handoverId = serializers.CharField(max_length=200, required=False, allow_blank=True)  # noqa: N815
    customer = serializers.CharField(max_length=255, required=False, allow_blank=True)
    senderNumber = serializers.CharField(max_length=255, required=False, allow_blank=True)  # noqa: N815
    endUserNumber = serializers.CharField(max_length=255, required=False, allow_blank=True)  # noqa: N815
    phoneNumber = serializers.CharField(max_length=255, required=False, allow_blank=True)  # noqa: N815
    customerName = serializers.CharField(  # noqa: N815
        max_length=CUSTOMER_NAME_LENGTH, required=False, allow_blank=True
    )
    sender = serializers.CharField(max_length=64, required=False, allow_blank=True)
    channel = serializers.CharField(max_length=20, required=False, default="WHATSAPP")
    conversationId = serializers.CharField(max_length=255, required=False, allow_blank=True)  # noqa: N815
    # many=True hands max_length to the ListSerializer; djangorestframework-stubs omit it from __init__.
    transcript = EntrySerializer(many=True, required=False, max_length=MAX_ENTRIES)  # type: ignore[call-arg]
    attributes = serializers.DictField(required=False)

    def validate_channel(self, value: str) -> str:
        channel = CHANNELS.get(value.strip().upper())
        if channel is None:
            raise serializers.ValidationError("Use WHATSAPP, SMS or VIBER.")
        return channel

    def validate(self, data: dict) -> HandoverRequest:
        tenant: Tenant = self.context["tenant"]
        raw_customer = next((data[f] for f in CUSTOMER_FIELDS if (data.get(f) or "").strip()), "")
        if not raw_customer:
            raise serializers.ValidationError(
                {"customer": "Give the customer's number or channel user id (customer or senderNumber)."}
            )
        channel = data["channel"]
        customer = _customer(channel, raw_customer)
        sender = _sender(tenant, channel, (data.get("sender") or "").strip())
        transcript = data.get("transcript")
        conversation_id = (data.get("conversationId") or "").strip()
        if transcript is None and not conversation_id:
            raise serializers.ValidationError(
                {"transcript": "Send the transcript, or the conversationId to fetch it from Infobip."}
            )
        if transcript is None and not _keeps_transcripts(sender.account.provider):
            raise serializers.ValidationError(
                {
                    "conversationId": f"{sender.account.get_provider_display()} keeps no bot conversations "
                    "Switchboard can fetch: send the transcript inline."
                }
            )
        entries = None if transcript is None else _entries(transcript)
        return HandoverRequest(
            key=_key(data, conversation_id, sender, customer, entries),
            sender=sender,
            customer=customer,
            customer_name=(data.get("customerName") or "").strip(),
            provider_conversation_id=conversation_id,
            entries=entries,
            attributes=data.get("attributes") or {},
            repairs=self.context.get("repairs") or [],
        )


def _customer(channel: str, value: str) -> str:
    if channel in (Sender.Channel.WHATSAPP, Sender.Channel.SMS):
        try:
            return normalize_e164(value, field="customer number")
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"customer": exc.messages}) from None
    return value.strip()


def _sender(tenant: Tenant, channel: str, address: str) -> Sender:
    senders = (
        Sender.objects.for_tenant(tenant).filter(channel=channel, enabled=True).select_related("account")
    )
    label = Sender.Channel(channel).label
    if address:
        if channel != Sender.Channel.VIBER and address.lstrip("+").isdigit():
            try:
                address = normalize_e164(address, field="sender number")
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"sender": exc.messages}) from None
        sender = senders.filter(address__in={address, address.lstrip("+")}).first()
        if sender is None:
            raise serializers.ValidationError(
                {"sender": f"No enabled {label} sender {address} in Switchboard for this tenant."}
            )
    else:
        found = list(senders[:2])
        if not found:
            raise serializers.ValidationError({"channel": f"This tenant has no enabled {label} sender."})
        if len(found) > 1:
            raise serializers.ValidationError(
                {"sender": f"This tenant has several {label} senders: name the one the bot runs on."}
            )
        sender = found[0]
    if not sender.channel_address_identifier:
        raise serializers.ValidationError(
            {"sender": f"{label} sender {sender.address} has no Salesforce Messaging channel yet."}
        )
    return sender


def _entries(transcript: list[dict]) -> list[dict]:
    entries = []
    seen: set[str] = set()
    for index, item in enumerate(transcript):
        entry_id = (item.get("id") or "").strip() or str(index + 1)
        if entry_id in seen:
            raise serializers.ValidationError({"transcript": f"Entry id {entry_id!r} appears twice."})
        seen.add(entry_id)
        media = item.get("media")
        entries.append(
            {
                "id": entry_id,
                "speaker": item["speaker"],
                "name": (item.get("name") or "").strip(),
                "text": item.get("text") or "",
                "time": item["time"],
                "media": {
                    "url": media["url"],
                    "mime_type": media.get("mimeType", ""),
                    "filename": media.get("filename", ""),
                }
                if media
                else None,
            }
        )
    entries.sort(key=lambda e: e["time"])  # stable: equal times keep the bot's order
    return entries


def _key(data: dict, conversation_id: str, sender: Sender, customer: str, entries) -> str:
    """What makes a retried call the same handover: the bot's id, the provider conversation, or the body."""
    if (data.get("handoverId") or "").strip():
        return bounded_id(f"id:{data['handoverId'].strip()}", KEY_LENGTH)
    if conversation_id:
        return bounded_id(f"conversation:{conversation_id}", KEY_LENGTH)
    canonical = json.dumps([sender.pk, customer, entries], sort_keys=True, default=str)
    return "body:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _keeps_transcripts(provider: str) -> bool:
    try:
        return get_provider(provider).has_transcripts
    except LookupError:
        return False
