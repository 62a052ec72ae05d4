"""Inbound content the agent console cannot show natively, written as readable text.

Everything here reads the typed shapes of ``relay/events.py`` (the ones the parser produces), and a stored
row is read back through ``InboundMessage.from_content``, which never raises; so these functions never
raise either, whatever a row holds, and never return an empty string.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..events import Contact, InboundMessage, Kind, Location, Media, Order, Reaction

if TYPE_CHECKING:
    from ..models import Message

MAX_LISTED = 20  # contacts, phones, order lines...: beyond this an agent reads "and N more"

MEDIA_NAMES = {
    "image": "an image",
    "video": "a video",
    "audio": "an audio message",
    "voice": "a voice message",
    "document": "a document",
    "sticker": "a sticker",
}


def as_text(message: Message) -> str:
    """The text Salesforce receives for a stored inbound message that is not delivered as a file."""
    return describe(stored_event(message))


def stored_event(message: Message) -> InboundMessage:
    return InboundMessage.from_content(message.content, kind=message.kind, text=message.text)


def describe(event: InboundMessage) -> str:
    """What an agent reads for this message."""
    kind = event.kind
    if kind == Kind.LOCATION:
        return location_text(event.location)
    if kind == Kind.CONTACTS:
        return contacts_text(event.contacts)
    if kind == Kind.REACTION:
        return reaction_text(event.reaction)
    if kind == Kind.ORDER:
        return order_text(event.order)
    if kind in (Kind.BUTTON, Kind.LIST_REPLY):
        if event.text.strip():
            return event.text
        return (
            f"(a button with the payload {event.payload!r})" if event.payload else "(a button with no text)"
        )
    if kind == Kind.MEDIA:
        if event.text.strip():
            return event.text
        return f"The customer sent {_media_name(event.media or Media(url='', kind='file'))}."
    if event.text.strip():
        return event.text
    if kind == Kind.TEXT:
        return "(an empty message)"
    return "The customer sent a message that this channel cannot show."


def location_text(location: Location | None) -> str:
    if location is None:
        return "📍 The customer shared a location without coordinates."
    place = ", ".join(part for part in (location.name.strip(), location.address.strip()) if part)
    if location.latitude is not None and location.longitude is not None:
        where = f"https://maps.google.com/?q={location.latitude},{location.longitude}"
    else:
        where = location.url.strip()
    if not where:  # nothing that points anywhere: say so, with the place's name if there is one
        return "📍 The customer shared a location without coordinates" + (f": {place}" if place else ".")
    return " – ".join(part for part in ("📍 Location: " + (place or "shared pin"), where) if part)


def contact_line(contact: Contact) -> str:
    """One card: ``Frank Bipper (Infobip, Support) – +385918889999 (cell), frank@example.com``."""
    name = contact.name or "A contact without a name"
    org = ", ".join(part for part in (contact.org.company, contact.org.department, contact.org.title) if part)
    heading = f"{name} ({org})" if org else name
    details = [
        *(f"{p.number} ({p.label.lower()})" if p.label else p.number for p in contact.phones),
        *(f"{e.address} ({e.label.lower()})" if e.label else e.address for e in contact.emails),
        *contact.urls,
        *contact.addresses,
        *([f"born {contact.birthday}"] if contact.birthday else []),
    ]
    listed = _limited(details)
    return f"{heading} – {', '.join(listed)}" if listed else heading


def contacts_text(contacts: tuple[Contact, ...] | list[Contact]) -> str:
    if not contacts:
        return "👤 The customer shared an empty contact card."
    if len(contacts) == 1:
        return "👤 Contact: " + contact_line(contacts[0])
    lines = _limited([contact_line(c) for c in contacts])
    return f"👤 {len(contacts)} contacts:\n" + "\n".join(f"• {line}" for line in lines)


def reaction_text(reaction: Reaction | None) -> str:
    if reaction is None or reaction.action == "REMOVED" or not reaction.emoji.strip():
        return "The customer removed their reaction to an earlier message."
    return f"The customer reacted {reaction.emoji.strip()} to an earlier message."


def order_text(order: Order | None) -> str:
    if order is None or not (order.items or order.text.strip()):
        return "🛒 The customer sent an empty order."
    lines = []
    for item in order.items:
        quantity = f"{item.quantity} × " if item.quantity is not None else ""
        price = f" at {_money(item.price, item.currency)}" if item.price is not None else ""
        lines.append(f"{quantity}{item.product_id}{price}")
    heading = f"🛒 Order from catalog {order.catalog_id}" if order.catalog_id else "🛒 Order"
    parts = [f"{heading}: {'; '.join(_limited(lines))}" if lines else heading]
    total = _order_total(order)
    if total:
        parts.append(f"Total {total}")
    if order.text.strip():
        parts.append(f"Note: {order.text.strip()}")
    return ". ".join(parts)


def media_link_note(message: Message, reason: str) -> str:
    """A file Salesforce cannot take as an attachment: its name, caption and link, and why."""
    event = stored_event(message)
    media = event.media or Media(url="", kind="file")
    name = media.filename or _media_name(media)
    caption = f" – {media.caption}" if media.caption.strip() else ""
    link = f": {media.url}" if media.url else ""
    return f"📎 {name}{caption}{link} (not attached: {reason})"


def _media_name(media: Media) -> str:
    return MEDIA_NAMES.get(media.kind, "a file")


def _money(amount: float, currency: str) -> str:
    return f"{amount:.2f} {currency}".strip()


def _order_total(order: Order) -> str:
    currencies = {item.currency for item in order.items}
    if not order.items or len(currencies) != 1:
        return ""
    amounts = [
        item.price * item.quantity
        for item in order.items
        if item.price is not None and item.quantity is not None
    ]
    if len(amounts) != len(order.items):  # an item without a price or quantity: no total
        return ""
    total = sum(amounts)
    return _money(total, currencies.pop()) if math.isfinite(total) else ""


def _limited(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"and {len(lines) - MAX_LISTED} more"]
