"""Inbound content the agent console cannot show natively, written as readable text."""

from __future__ import annotations

from ..models import Message


def as_text(message: Message) -> str:
    content = message.content or {}
    kind = message.kind
    if kind == "location":
        where = content.get("location") or {}
        lat, lon = where.get("latitude"), where.get("longitude")
        label = ", ".join(part for part in (where.get("name"), where.get("address")) if part)
        link = f"https://maps.google.com/?q={lat},{lon}" if lat is not None and lon is not None else ""
        return " ".join(part for part in ("📍 Location:", label, f"({lat}, {lon})", link) if part)
    if kind == "contacts":
        cards = []
        for contact in content.get("contacts") or []:
            name = (contact.get("name") or {}).get("formattedName") or contact.get("name") or "Contact"
            phones = ", ".join(p.get("phone", "") for p in contact.get("phones") or [] if p.get("phone"))
            cards.append(f"{name}{': ' + phones if phones else ''}")
        return "👤 " + ("; ".join(cards) or "A contact card")
    if kind in ("button", "list_reply"):
        return message.text or content.get("payload") or "(a button with no text)"
    return message.text


def media_link_note(message: Message, reason: str) -> str:
    media = (message.content or {}).get("media") or {}
    name = media.get("filename") or media.get("kind") or "file"
    caption = f" – {media.get('caption')}" if media.get("caption") else ""
    return f"📎 {name}{caption}: {media.get('url', '')} (not attached: {reason})"
