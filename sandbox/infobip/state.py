"""Simulated Infobip accounts: keys, senders, templates, messages, the 24-hour window, conversations, media.

An account is what one Infobip customer has: API keys (optionally scoped to some senders), senders with
their channels (a WhatsApp number, an SMS number, a Viber service name), WhatsApp templates per sender,
and one notification profile (webhook URL(s) and authentication). Everything the customer's phone sees
and everything the portal would see by webhook is recorded here and is readable through the control API.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import phonenumbers
from phonenumbers import geocoder

from . import errors as e
from .templates_seed import seed_templates
from .webhooks import WebhookAuth, WebhookDispatcher

if TYPE_CHECKING:
    from ..world import World

CHANNELS = ("WHATSAPP", "SMS", "VIBER")
WINDOW = timedelta(hours=24)
DLR_OUTCOMES = ("DELIVERED_SEEN", "DELIVERED", "FAILED", "REJECTED", "NONE")
MAX_BUCKET_SIZE = 2000  # a notification profile's maxBucketSize, at most (subscriptions API, ProfileRequest)

# Bytes served for inbound media when the control API gives none (a 1x1 PNG and a minimal PDF).
PLACEHOLDER_MEDIA = {
    "IMAGE": (
        base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
        ),
        "image/png",
        "image.png",
    ),
    "DOCUMENT": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf", "document.pdf"),
    "VIDEO": (b"\x00\x00\x00\x18ftypmp42", "video/mp4", "video.mp4"),
    "AUDIO": (b"OggS\x00\x02", "audio/ogg", "audio.ogg"),
    "VOICE": (b"OggS\x00\x02", "audio/ogg", "voice.ogg"),
    "STICKER": (b"RIFF\x00\x00\x00\x00WEBP", "image/webp", "sticker.webp"),
    "FILE": (b"%PDF-1.4\n%%EOF\n", "application/pdf", "file.pdf"),
}


def digits(address: str) -> str:
    """Infobip's address form: international digits without '+' (a Viber name stays as it is)."""
    address = str(address).strip()
    return address[1:] if address.startswith("+") else address


_uuid_clock = {"millis": 0, "counter": 0}


def time_ordered_uuid() -> str:
    """A UUIDv7-style id (time, then a counter), so ``id:asc`` is creation order as the Conversations API sorts."""
    millis = time.time_ns() // 1_000_000
    if millis <= _uuid_clock["millis"]:
        millis, _uuid_clock["counter"] = _uuid_clock["millis"], _uuid_clock["counter"] + 1
    else:
        _uuid_clock["counter"] = 0
    _uuid_clock["millis"] = millis
    counter = _uuid_clock["counter"] & 0xFFF
    random_tail = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (counter << 64) | (0x2 << 62) | random_tail
    return str(uuid.UUID(int=value))


@dataclass
class Sender:
    address: str
    channels: list[str]
    name: str = ""
    templates: list[dict] = field(default_factory=list)

    def public(self) -> dict:
        return {"address": self.address, "channels": self.channels, "name": self.name}


@dataclass
class Account:
    key: str
    name: str
    api_keys: dict[str, list[str] | None]  # api key -> senders it may use (None: all)
    senders: dict[str, Sender]
    subdomain: str = ""
    webhook_url: str = ""  # MO, and DLR/SEEN when no dlr_url/seen_url
    dlr_url: str = ""
    seen_url: str = ""
    auth: WebhookAuth = field(default_factory=WebhookAuth)
    inbound_format: str = "CHANNEL"  # CHANNEL (MO_OTT_CONTACT, SMS, Viber formats) | MESSAGES_API
    dlr_outcome: str = "DELIVERED_SEEN"
    dlr_delay: float = 0.5  # seconds after a send until its delivery report
    seen_delay: float = 0.5  # seconds after the delivery report until the seen report
    failure_error: dict = field(default_factory=lambda: dict(e.GENERIC_FAILURE))
    window_mode: str = "ASYNC"  # ASYNC: 200 then a failed DLR | SYNC: 400 at once
    window_error: dict = field(default_factory=lambda: dict(e.OUTSIDE_WINDOW_ERROR))
    window_status: str = "UNDELIVERABLE"  # or REJECTED
    template_checks: str = "ASYNC"  # ASYNC: 200 then a failed DLR | STRICT: 400 at once
    rate_limited: bool = False
    max_attempts: int = 5
    batch_window: float = 0.05
    # A notification profile's maxBucketSize: "a maximum number of messages to be sent within a single
    # request", 1..2000 (infobip-subscriptions-api-openapi.json, ProfileRequest).
    max_bucket_size: int = 2000

    def public(self) -> dict:
        return {
            "key": self.key,
            "name": self.name,
            "subdomain": self.subdomain,
            "api_keys": {k: v for k, v in self.api_keys.items()},
            "senders": [s.public() for s in self.senders.values()],
            "webhook_url": self.webhook_url,
            "dlr_url": self.dlr_url,
            "seen_url": self.seen_url,
            "auth": self.auth.public(),
            "inbound_format": self.inbound_format,
            "dlr_outcome": self.dlr_outcome,
            "dlr_delay": self.dlr_delay,
            "seen_delay": self.seen_delay,
            "window_mode": self.window_mode,
            "window_status": self.window_status,
            "template_checks": self.template_checks,
            "rate_limited": self.rate_limited,
            "max_attempts": self.max_attempts,
            "batch_window": self.batch_window,
            "max_bucket_size": self.max_bucket_size,
        }

    def senders_for(self, channel: str) -> list[Sender]:
        return [s for s in self.senders.values() if channel in s.channels]


@dataclass
class Message:
    """One message on the wire between a sender and a customer, either direction."""

    message_id: str
    account: str
    channel: str  # WHATSAPP | SMS | VIBER
    direction: str  # OUTBOUND (business -> customer) | INBOUND
    sender: str  # the business address
    customer: str
    kind: str  # TEXT, IMAGE, TEMPLATE, BUTTON, ...
    content: dict  # outbound: the request's content; inbound: the webhook's message object
    at: datetime
    api: str = ""  # outbound: which endpoint (whatsapp, sms2, sms3, viber2, messages-api)
    bulk_id: str = ""
    callback_data: str | None = None
    notify_url: str | None = None
    rendered: dict = field(default_factory=dict)  # what the phone shows
    status: dict = field(default_factory=dict)
    error: dict | None = None
    planned_failure: dict | None = None  # an error the DLR will carry (window, template)
    planned_status: dict | None = None
    seen_at: datetime | None = None
    contact_name: str = ""

    def public(self) -> dict:
        return {
            "messageId": self.message_id,
            "account": self.account,
            "channel": self.channel,
            "direction": self.direction,
            "sender": self.sender,
            "customer": self.customer,
            "kind": self.kind,
            "content": self.content,
            "rendered": self.rendered,
            "at": e.infobip_time(self.at),
            "api": self.api,
            "bulkId": self.bulk_id,
            "callbackData": self.callback_data,
            "notifyUrl": self.notify_url,
            "status": self.status,
            "error": self.error,
            "seenAt": e.infobip_time(self.seen_at) if self.seen_at else None,
        }


@dataclass
class Conversation:
    id: str
    account: str
    channel: str
    sender: str
    customer: str
    created_at: datetime
    messages: list[dict] = field(default_factory=list)  # Conversations API message objects


@dataclass
class Media:
    media_id: str
    account: str
    sender: str
    content: bytes
    content_type: str
    filename: str


class InfobipService:
    def __init__(self, world: World) -> None:
        self.world = world
        self.webhooks = WebhookDispatcher(self)
        self.reset()

    # --- lifecycle ---------------------------------------------------------------------------

    def reset(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.messages: list[Message] = []
        self.last_inbound: dict[tuple[str, str, str], datetime] = {}
        self.conversations: dict[str, Conversation] = {}
        self.media: dict[str, Media] = {}
        self.answers_calls: list[dict] = []
        self.sinks: dict[str, list[dict]] = {}  # the control API's webhook sink: name -> requests received
        self._template_ids = itertools.count(1001)
        self.webhooks.reset()

    def load(self, spec: dict) -> None:
        """Create the accounts of a fixture's ``infobip`` section (``{"accounts": [...]}``)."""
        for account in (spec or {}).get("accounts", []):
            self.create_account(account)

    # --- accounts ----------------------------------------------------------------------------

    def create_account(self, spec: dict) -> Account:
        key = str(spec["key"])
        if not key:
            raise ValueError("account key must not be empty")
        api_keys: dict[str, list[str] | None] = {}
        for item in spec.get("api_keys") or []:
            if isinstance(item, str):
                api_keys[item] = None
            else:
                api_keys[str(item["key"])] = (
                    [digits(s) for s in item["senders"]] if item.get("senders") else None
                )
        for other in self.accounts.values():
            if other.key != key and set(other.api_keys) & set(api_keys):
                raise ValueError("an API key belongs to one account only")
        senders: dict[str, Sender] = {}
        for item in spec.get("senders") or []:
            channels = [str(c).upper() for c in item.get("channels") or ["WHATSAPP"]]
            if any(c not in CHANNELS for c in channels):
                raise ValueError(f"sender channels must be among {', '.join(CHANNELS)}")
            sender = Sender(address=digits(item["address"]), channels=channels, name=item.get("name", ""))
            if "WHATSAPP" in channels:
                templates = item.get("templates")
                for template in seed_templates() if templates is None else templates:
                    self._add_template(sender, template)
            senders[sender.address] = sender
        webhook = spec.get("webhook") or {}
        account = Account(
            key=key,
            name=spec.get("name", key),
            api_keys=api_keys,
            senders=senders,
            subdomain=spec.get("subdomain", key),
            webhook_url=webhook.get("url", ""),
            dlr_url=webhook.get("dlr_url", ""),
            seen_url=webhook.get("seen_url", ""),
            auth=WebhookAuth.from_spec(webhook.get("auth")),
        )
        self.configure(account, spec.get("settings") or {})
        if webhook.get("max_attempts") is not None:
            account.max_attempts = int(webhook["max_attempts"])
        self.accounts[key] = account
        return account

    def configure(self, account: Account, settings: dict) -> Account:
        """Change behaviour switches (see the control API); unknown names are refused."""
        choices = {
            "dlr_outcome": DLR_OUTCOMES,
            "window_mode": ("ASYNC", "SYNC"),
            "template_checks": ("ASYNC", "STRICT"),
            "inbound_format": ("CHANNEL", "MESSAGES_API"),
            "window_status": ("UNDELIVERABLE", "REJECTED"),
        }
        for name, value in settings.items():
            if name in choices:
                value = str(value).upper()
                if value not in choices[name]:
                    raise ValueError(f"{name} must be one of {', '.join(choices[name])}")
            elif name in ("dlr_delay", "seen_delay", "batch_window"):
                value = float(value)
            elif name == "max_attempts":
                value = int(value)
            elif name == "max_bucket_size":
                value = int(value)
                if not 1 <= value <= MAX_BUCKET_SIZE:
                    raise ValueError(f"max_bucket_size must be from 1 to {MAX_BUCKET_SIZE}")
            elif name == "rate_limited":
                value = bool(value)
            elif name in ("window_error", "failure_error"):
                value = {**getattr(account, name), **dict(value)}
            elif name in ("webhook_url", "dlr_url", "seen_url"):
                value = str(value)
            elif name == "auth":
                value = WebhookAuth.from_spec(value)
            else:
                raise ValueError(f"unknown setting {name!r}")
            setattr(account, name, value)
        return account

    def account_for_key(self, api_key: str) -> Account | None:
        for account in self.accounts.values():
            if api_key in account.api_keys:
                return account
        return None

    # --- templates ---------------------------------------------------------------------------

    def _add_template(self, sender: Sender, spec: dict) -> dict:
        stamp = e.infobip_time(e.now())
        template = {
            "id": str(spec.get("id") or next(self._template_ids)),
            "businessAccountId": spec.get("businessAccountId", 222),
            "name": spec["name"],
            "language": spec["language"],
            "status": spec.get("status", "APPROVED"),
            "category": spec.get("category", "UTILITY"),
            "structure": spec["structure"],
            "quality": spec.get("quality", "HIGH"),
            "createdAt": spec.get("createdAt", stamp),
            "lastUpdatedAt": spec.get("lastUpdatedAt", stamp),
        }
        sender.templates = [
            t
            for t in sender.templates
            if not (t["name"] == template["name"] and t["language"] == template["language"])
        ]
        sender.templates.append(template)
        return template

    def find_template(self, sender: Sender, name: str, language: str) -> dict | None:
        for template in sender.templates:
            if template["name"] == name and template["language"] == language:
                return template
        return None

    # --- window -------------------------------------------------------------------------------

    def window_open(self, account: Account, sender: str, customer: str) -> bool:
        last = self.last_inbound.get((account.key, sender, customer))
        return last is not None and e.now() - last <= WINDOW

    def set_last_inbound(self, account: Account, sender: str, customer: str, at: datetime | None) -> None:
        key = (account.key, sender, customer)
        if at is None:
            self.last_inbound.pop(key, None)
        else:
            self.last_inbound[key] = at

    # --- conversations -------------------------------------------------------------------------

    def conversation_for(self, account: Account, channel: str, sender: str, customer: str) -> Conversation:
        """The open conversation of a customer with a sender (created on first contact)."""
        for conversation in reversed(list(self.conversations.values())):
            if (conversation.account, conversation.channel, conversation.sender, conversation.customer) == (
                account.key,
                channel,
                sender,
                customer,
            ):
                return conversation
        conversation = Conversation(time_ordered_uuid(), account.key, channel, sender, customer, e.now())
        self.conversations[conversation.id] = conversation
        return conversation

    def record_in_conversation(
        self,
        account: Account,
        channel: str,
        sender: str,
        customer: str,
        direction: str,
        content_type: str,
        content: dict,
        author_type: str | None = None,
        at: datetime | None = None,
        message_id: str | None = None,
    ) -> dict:
        conversation = self.conversation_for(account, channel, sender, customer)
        at = at or e.now()
        inbound = direction == "INBOUND"
        entry = {
            "id": message_id or time_ordered_uuid(),
            "from": customer if inbound else sender,
            "to": sender if inbound else customer,
            "channel": channel,
            "direction": direction,
            "conversationId": conversation.id,
            "authorType": author_type or ("CUSTOMER" if inbound else "AGENT"),
            "createdAt": e.conversations_time(at),
            "updatedAt": e.conversations_time(at),
            "contentType": content_type,
            "content": content,
        }
        conversation.messages.append(entry)
        return entry

    # --- outbound --------------------------------------------------------------------------------

    def record_outbound(self, account: Account, **fields) -> Message:
        message = Message(account=account.key, direction="OUTBOUND", at=e.now(), **fields)
        self.messages.append(message)
        text = message.rendered.get("body") or message.rendered.get("caption") or message.rendered.get("text")
        self.record_in_conversation(
            account,
            message.channel,
            message.sender,
            message.customer,
            "OUTBOUND",
            "TEXT" if message.kind in ("TEXT", "TEMPLATE") else message.kind,
            {"text": text} if text else {"url": message.rendered.get("media_url", "")},
            author_type="AGENT",
            at=message.at,
        )
        self.webhooks.spawn(self._report(account, message))
        return message

    async def _report(self, account: Account, message: Message) -> None:
        """The delivery report, then (WhatsApp/Viber, if delivered) the seen report."""
        if account.dlr_outcome == "NONE" and message.planned_failure is None:
            return
        await asyncio.sleep(max(account.dlr_delay, 0))
        if message.planned_failure is not None:
            message.status = message.planned_status or dict(e.STATUS_UNDELIVERABLE)
            message.error = message.planned_failure
        elif account.dlr_outcome in ("FAILED", "REJECTED"):
            message.status = dict(
                e.STATUS_UNDELIVERABLE if account.dlr_outcome == "FAILED" else e.STATUS_REJECTED
            )
            message.error = dict(account.failure_error)
        else:
            message.status = dict(e.STATUS_DELIVERED)
            message.error = dict(e.NO_ERROR)
        done = e.now()
        self.webhooks.enqueue(
            account,
            "DLR",
            self._format_channel(account, message),
            message.notify_url or account.dlr_url or account.webhook_url,
            self._dlr_result(account, message, done),
        )
        delivered = message.status.get("groupName") == "DELIVERED"
        if not delivered or account.dlr_outcome != "DELIVERED_SEEN" or message.channel == "SMS":
            return
        await asyncio.sleep(max(account.seen_delay, 0))
        message.seen_at = e.now()
        self.webhooks.enqueue(
            account,
            "SEEN",
            self._format_channel(account, message),
            message.notify_url or account.seen_url or account.dlr_url or account.webhook_url,
            self._seen_result(message),
        )

    def _format_channel(self, account: Account, message: Message) -> str:
        return "MESSAGES_API" if message.api == "messages-api" else message.channel

    def _contact(self, customer: str, name: str = "") -> dict:
        return {"name": name or "Customer", "phoneNumber": customer}

    def _dlr_result(self, account: Account, message: Message, done: datetime) -> dict:
        sent, done_at = e.infobip_time(message.at), e.infobip_time(done)
        price = {"pricePerMessage": 0.0, "currency": "EUR"}
        common = {"bulkId": message.bulk_id, "messageId": message.message_id, "status": message.status}
        common["error"] = message.error
        if message.api == "messages-api":
            result = {
                "event": "DELIVERY",
                "channel": message.channel if message.channel != "VIBER" else "VIBER_BM",
                "sender": message.sender,
                "destination": message.customer,
                "sentAt": sent,
                "doneAt": done_at,
                "messageCount": 1,
                **common,
            }
        elif message.channel == "WHATSAPP":
            result = {
                **common,
                "price": price,
                "to": message.customer,
                "sentAt": sent,
                "doneAt": done_at,
                "messageCount": 1,
                "contact": self._contact(message.customer),
            }
        elif message.api == "sms2":
            result = {
                **common,
                "to": message.customer,
                "sentAt": sent,
                "doneAt": done_at,
                "smsCount": 1,
                "price": price,
            }
        else:  # sms3, viber2
            result = {
                **common,
                "price": price,
                "to": message.customer,
                "sender": message.sender,
                "sentAt": sent,
                "doneAt": done_at,
                "messageCount": 1,
            }
        if message.callback_data is not None:
            result["callbackData"] = message.callback_data
        return result

    def _seen_result(self, message: Message) -> dict:
        sent, seen = e.infobip_time(message.at), e.infobip_time(message.seen_at or e.now())
        if message.api == "messages-api":
            result = {
                "event": "SEEN",
                "channel": message.channel if message.channel != "VIBER" else "VIBER_BM",
                "sender": message.sender,
                "destination": message.customer,
                "sentAt": sent,
                "seenAt": seen,
                "bulkId": message.bulk_id,
                "messageId": message.message_id,
            }
            if message.callback_data is not None:
                result["callbackData"] = message.callback_data
            return result
        # seen reports go from the customer to the business: "from" is the customer's number
        result = {"messageId": message.message_id, "from": message.customer, "to": message.sender}
        result.update(sentAt=sent, seenAt=seen)
        if message.channel == "WHATSAPP":
            result["contact"] = self._contact(message.customer)
        return result

    # --- inbound -----------------------------------------------------------------------------------

    def store_media(
        self,
        account: Account,
        sender: str,
        kind: str,
        content: bytes | None,
        content_type=None,
        filename=None,
    ):
        default_bytes, default_type, default_name = PLACEHOLDER_MEDIA.get(kind, PLACEHOLDER_MEDIA["FILE"])
        media = Media(
            media_id=str(uuid.uuid4()),
            account=account.key,
            sender=sender,
            content=default_bytes if content is None else content,
            content_type=content_type or default_type,
            filename=filename or default_name,
        )
        self.media[media.media_id] = media
        return media

    def media_url(self, media: Media) -> str:
        return f"{self.world.config.url('infobip')}/whatsapp/1/senders/{media.sender}/media/{media.media_id}"

    def record_inbound(
        self,
        account: Account,
        channel: str,
        sender: str,
        customer: str,
        kind: str,
        message: dict,
        name: str = "",
        rendered: dict | None = None,
    ) -> Message:
        at = e.now()
        if channel == "WHATSAPP":
            # Meta's ids are base64 text; keep them path-safe (they appear in .../message/{messageId}/read)
            raw = base64.b64encode(hashlib.sha256(os.urandom(16)).digest()[:30]).decode()
            message_id = "wamid." + raw.replace("+", "A").replace("/", "B")
        else:
            message_id = str(int(time.time() * 1000)) + str(int.from_bytes(os.urandom(3), "big")).zfill(7)
        inbound = Message(
            message_id=message_id,
            account=account.key,
            channel=channel,
            direction="INBOUND",
            sender=sender,
            customer=customer,
            kind=kind,
            content=message,
            at=at,
            rendered=rendered or {},
            contact_name=name,
        )
        self.messages.append(inbound)
        self.set_last_inbound(account, sender, customer, at)
        text = message.get("text") or message.get("title") or message.get("caption")
        self.record_in_conversation(
            account,
            channel,
            sender,
            customer,
            "INBOUND",
            "TEXT" if text else kind,
            {"text": text} if text else {k: v for k, v in message.items() if k != "type"},
            at=at,
        )
        return inbound

    def thread(self, account_key: str, sender: str, customer: str) -> list[Message]:
        return [
            m
            for m in self.messages
            if m.account == account_key and m.sender == sender and m.customer == customer
        ]

    def find_message(self, message_id: str) -> Message | None:
        for message in self.messages:
            if message.message_id == message_id:
                return message
        return None


def e164_country(address: str) -> tuple[str, str]:
    """(ISO region, country name) of an Infobip number, for the numbers list."""
    try:
        number = phonenumbers.parse("+" + digits(address), None)
    except phonenumbers.NumberParseException:
        return "", ""
    region = phonenumbers.region_code_for_number(number) or ""
    return region, geocoder.country_name_for_number(number, "en") or region
