"""The normalized shapes every provider webhook parser produces, and every desk consumes.

An inbound message is stored in ``Message.content`` as ``InboundMessage.as_dict()`` and read back with
``InboundMessage.from_content()``: the parser, the stored row and the renderer (``relay/desks/render.py``)
share these types, so they cannot disagree on a shape. Reading back is tolerant: a row written in an older
shape, or with a value of the wrong type, gives the closest readable value, never an exception.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TEXT = "text"
    MEDIA = "media"  # image, video, audio, voice, document, sticker: see Media.kind
    LOCATION = "location"
    CONTACTS = "contacts"
    BUTTON = "button"  # a tap on a quick-reply button
    LIST_REPLY = "list_reply"  # a choice in a WhatsApp list
    REACTION = "reaction"  # an emoji on an earlier message (or its removal)
    ORDER = "order"  # a WhatsApp catalog order
    UNSUPPORTED = "unsupported"  # anything else: delivered as a readable note, never dropped


# --- tolerant readers: any JSON value in, the expected type out (never an exception) --------------------


def text_of(value: Any) -> str:
    """A string as stored; a number as its digits; anything else (null, list, object, boolean) as ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    return ""


def number_of(value: Any, *, low: float = -math.inf, high: float = math.inf) -> float | None:
    """A finite number within [low, high] (also from a numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def count_of(value: Any) -> int | None:
    number = number_of(value, low=0, high=2**63 - 1)
    return int(number) if number is not None and number == int(number) else None


def items_of(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple) else []


def list_choice_text(title: str, description: str) -> str:
    """What an agent reads for the row a customer picked from a WhatsApp list: its title, and its description when
    it has one (rows may share a title: two slots on "Monday, Oct 9" differ only by their times)."""
    title, description = title.strip(), description.strip()
    return f"{title} ({description})" if title and description else title or description


def object_of(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _first_text(data: dict, *keys: str) -> str:
    for key in keys:
        value = text_of(data.get(key)).strip()
        if value:
            return value
    return ""


# --- the parts of a message ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Media:
    url: str  # where to download it (the provider's URL; may need the account's credentials)
    kind: str  # image, video, audio, voice, document, sticker
    mime_type: str = ""
    filename: str = ""
    caption: str = ""
    size: int | None = None

    @classmethod
    def from_stored(cls, value: Any) -> Media | None:
        data = object_of(value)
        if not data:
            return None
        return cls(
            url=text_of(data.get("url")),
            kind=text_of(data.get("kind")) or "file",
            mime_type=text_of(data.get("mime_type")),
            filename=text_of(data.get("filename")),
            caption=text_of(data.get("caption")),
            size=count_of(data.get("size")),
        )


@dataclass(frozen=True)
class Location:
    latitude: float | None = None  # both or neither (a pin without coordinates has only a url)
    longitude: float | None = None
    name: str = ""
    address: str = ""
    url: str = ""

    @classmethod
    def from_stored(cls, value: Any) -> Location | None:
        data = object_of(value)
        if not data:
            return None
        latitude = number_of(data.get("latitude"), low=-90, high=90)
        longitude = number_of(data.get("longitude"), low=-180, high=180)
        if latitude is None or longitude is None:
            latitude = longitude = None
        return cls(
            latitude=latitude,
            longitude=longitude,
            name=text_of(data.get("name")),
            address=text_of(data.get("address")),
            url=text_of(data.get("url")),
        )


@dataclass(frozen=True)
class Phone:
    number: str
    label: str = ""  # CELL, HOME, WORK, ... as the provider names it

    @classmethod
    def from_stored(cls, value: Any) -> Phone | None:
        # Older rows hold a bare string; the provider's card holds {"phone", "type"}.
        if not isinstance(value, dict):
            number = text_of(value).strip()
            return cls(number) if number else None
        number = _first_text(value, "number", "phone", "waId")
        return cls(number, _first_text(value, "label", "type")) if number else None


@dataclass(frozen=True)
class Email:
    address: str
    label: str = ""

    @classmethod
    def from_stored(cls, value: Any) -> Email | None:
        if not isinstance(value, dict):
            address = text_of(value).strip()
            return cls(address) if address else None
        address = _first_text(value, "address", "email")
        return cls(address, _first_text(value, "label", "type")) if address else None


@dataclass(frozen=True)
class Organization:
    company: str = ""
    department: str = ""
    title: str = ""

    @classmethod
    def from_stored(cls, value: Any) -> Organization:
        if not isinstance(value, dict):  # older rows: "organization": "<company>"
            return cls(company=text_of(value).strip())
        return cls(*(_first_text(value, key) for key in ("company", "department", "title")))


NAME_PARTS = ("namePrefix", "firstName", "middleName", "lastName", "nameSuffix")


def name_of(value: Any) -> str:
    """A contact's name: a string, or the provider's {formattedName, firstName, ...} object."""
    if not isinstance(value, dict):
        return text_of(value).strip()
    return _first_text(value, "formattedName", "formatted_name") or " ".join(
        part for part in (_first_text(value, key) for key in NAME_PARTS) if part
    )


def address_line(value: Any) -> str:
    """A postal address on one line: a string, or the provider's {street, city, ...} object."""
    if not isinstance(value, dict):
        return text_of(value).strip()
    parts = (_first_text(value, key) for key in ("street", "city", "state", "zip", "country"))
    return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class Contact:
    """A contact card the customer shared (WhatsApp ``CONTACT``, Viber ``CONTACT``)."""

    name: str = ""
    phones: tuple[Phone, ...] = ()
    emails: tuple[Email, ...] = ()
    org: Organization = field(default_factory=Organization)
    urls: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()  # one line each
    birthday: str = ""

    @classmethod
    def from_stored(cls, value: Any) -> Contact | None:
        data = object_of(value)
        if not data:
            return None
        urls = (
            _first_text(u, "url") if isinstance(u, dict) else text_of(u).strip()
            for u in items_of(data.get("urls"))
        )
        return cls(
            name=name_of(data.get("name")),
            phones=tuple(p for p in map(Phone.from_stored, items_of(data.get("phones"))) if p),
            emails=tuple(e for e in map(Email.from_stored, items_of(data.get("emails"))) if e),
            org=Organization.from_stored(data["org"] if "org" in data else data.get("organization")),
            urls=tuple(u for u in urls if u),
            addresses=tuple(a for a in map(address_line, items_of(data.get("addresses"))) if a),
            birthday=text_of(data.get("birthday")).strip(),
        )


@dataclass(frozen=True)
class Reaction:
    emoji: str = ""  # empty when the customer removed their reaction
    action: str = "ADDED"  # ADDED or REMOVED
    message_id: str = ""  # the provider's id of the message reacted to, when it says

    @classmethod
    def from_stored(cls, value: Any) -> Reaction | None:
        data = object_of(value)
        if not data:
            return None
        action = text_of(data.get("action")).upper() or "ADDED"
        return cls(text_of(data.get("emoji")), action, text_of(data.get("message_id")))


@dataclass(frozen=True)
class OrderItem:
    product_id: str
    quantity: int | None = None
    price: float | None = None  # per item
    currency: str = ""

    @classmethod
    def from_stored(cls, value: Any) -> OrderItem | None:
        data = object_of(value)
        product = _first_text(data, "product_id", "productRetailerId")
        if not product:
            return None
        return cls(
            product_id=product,
            quantity=count_of(data.get("quantity")),
            price=number_of(data.get("price", data.get("itemPrice")), low=0),
            currency=text_of(data.get("currency")).strip(),
        )


@dataclass(frozen=True)
class Order:
    """A WhatsApp catalog order."""

    catalog_id: str = ""
    items: tuple[OrderItem, ...] = ()
    text: str = ""  # the customer's note

    @classmethod
    def from_stored(cls, value: Any) -> Order | None:
        data = object_of(value)
        if not data:
            return None
        items = data.get("items", data.get("productItems"))
        return cls(
            catalog_id=_first_text(data, "catalog_id", "catalogId"),
            items=tuple(i for i in map(OrderItem.from_stored, items_of(items)) if i),
            text=text_of(data.get("text")),
        )


# --- messages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundMessage:
    """A customer wrote to one of the tenant's senders."""

    provider_message_id: str
    channel: str  # whatsapp | sms | viber
    sender_address: str  # our number / sender name, normalized (E.164 with + for numbers)
    customer: str  # the customer's E.164 number (with +) or channel user id
    kind: Kind
    text: str = ""  # what the customer typed, the caption, the button title, or a readable summary
    customer_name: str = ""
    media: Media | None = None
    payload: str = ""  # button payload or list-reply id
    location: Location | None = None
    contacts: tuple[Contact, ...] = ()
    reaction: Reaction | None = None
    order: Order | None = None
    received_at: datetime | None = None
    raw: dict = field(default_factory=dict, compare=False)  # the provider's own result, stored for audit

    def as_dict(self) -> dict:
        """The JSON stored in ``Message.content``; ``from_content`` reads it back.

        Made for every message a customer sends, so nothing is copied that needs no copy: ``asdict`` deep-copied
        the whole event, ``raw`` (the provider's own result, the largest part) included, only for the caller
        to store it as it was. ``raw`` is the event's own dict here (neither is changed once parsed); the
        parts that are dataclasses (media, location, contacts, ...) become dicts as ``asdict`` makes them."""
        data = {}
        for name in _INBOUND_FIELDS:
            value = getattr(self, name)
            data[name] = tuple(map(_plain, value)) if isinstance(value, tuple) else _plain(value)
        data["kind"] = str(self.kind)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        return data

    @classmethod
    def from_content(cls, content: Any, *, kind: str = "", text: str | None = None) -> InboundMessage:
        """A stored ``Message.content`` (any shape this code ever wrote, or damaged) as typed values.

        ``kind`` and ``text`` are the row's own columns, which win over the copies inside ``content`` (an
        empty ``text`` column falls back to the copy).
        """
        data = object_of(content)
        kind_value = kind or text_of(data.get("kind"))
        contacts = items_of(data.get("contacts"))
        return cls(
            provider_message_id=text_of(data.get("provider_message_id")),
            channel=text_of(data.get("channel")),
            sender_address=text_of(data.get("sender_address")),
            customer=text_of(data.get("customer")),
            kind=Kind(kind_value) if kind_value in Kind._value2member_map_ else Kind.UNSUPPORTED,
            text=text if isinstance(text, str) and text else text_of(data.get("text")),
            customer_name=text_of(data.get("customer_name")),
            media=Media.from_stored(data.get("media")),
            payload=text_of(data.get("payload")),
            location=Location.from_stored(data.get("location")),
            contacts=tuple(c for c in map(Contact.from_stored, contacts) if c),
            reaction=Reaction.from_stored(data.get("reaction")),
            order=Order.from_stored(data.get("order")),
            received_at=_datetime(data.get("received_at")),
            raw=object_of(data.get("raw")),
        )


_INBOUND_FIELDS = tuple(f.name for f in fields(InboundMessage))


def _plain(value: Any) -> Any:
    """A part that is a dataclass as a dict (as ``asdict`` makes it); anything else as it is."""
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def _datetime(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class ReportStatus(StrEnum):
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    PENDING = "pending"  # intermediate states providers report; recorded, nothing to tell Salesforce


@dataclass(frozen=True)
class StatusReport:
    """The provider reports what became of a message we sent."""

    provider_message_id: str
    status: ReportStatus
    # Our own id for the message, where the provider echoes it (8x8's clientMessageId): a report can arrive
    # before the send's answer (and the provider's id in it) is stored, and must still find our row.
    client_message_id: str = ""
    error_code: str = ""
    error_message: str = ""  # a reason an agent can read
    permanent: bool = True
    reported_at: datetime | None = None
    raw: dict = field(default_factory=dict, compare=False)


WebhookEvent = InboundMessage | StatusReport


@dataclass(frozen=True)
class IgnoredEvent:
    """An event the provider documents that Switchboard deliberately does not carry (a template's status, a
    link click, a typing indicator, ...): recognised by its documented shape and acknowledged, never stored.
    It holds nothing of the event's content: only what it is and why it is not carried."""

    event: str  # the provider's own name for it, e.g. TEMPLATE_UPDATE, IDENTITY_CHANGE, TYPING_STARTED
    why: str  # why Switchboard does not carry it, in words for the provider's dashboard and our log


ParsedEvent = WebhookEvent | IgnoredEvent
