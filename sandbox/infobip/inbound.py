"""The customer writes: build Infobip's MO webhook results and record the message.

One control-API spec ``{channel, from, to, text | media | button_payload | interactive_reply | list_reply |
location | contacts, name}`` becomes the channel's MO result (WhatsApp ``MO_OTT_CONTACT``, SMS, Viber), or
the Messages API ``MO`` event when the account's inbound format is ``MESSAGES_API``.
"""

from __future__ import annotations

import base64
import binascii

from . import errors as e
from .state import Account, InfobipService, Message, digits

MEDIA_TYPES = ("IMAGE", "DOCUMENT", "VIDEO", "AUDIO", "VOICE", "STICKER")
PRICE = {"pricePerMessage": 0, "currency": "EUR"}


class InboundError(ValueError):
    """A control-API inbound spec that cannot be turned into a message."""


def resolve_account(service: InfobipService, spec: dict) -> tuple[Account, str]:
    """(account, sender address) for an inbound spec: by ``account`` key or by the ``to`` sender."""
    to = digits(spec.get("to") or "")
    if spec.get("account"):
        account = service.accounts.get(spec["account"])
        if account is None:
            raise InboundError(f"unknown account {spec['account']!r}")
        if not to:
            channel = str(spec.get("channel", "WHATSAPP")).upper()
            senders = account.senders_for(channel)
            if not senders:
                raise InboundError(f"account has no {channel} sender")
            to = senders[0].address
        return account, to
    for account in service.accounts.values():
        if to in account.senders:
            return account, to
    raise InboundError(f"no account has the sender {to!r}")


def whatsapp_message(
    service: InfobipService, account: Account, sender: str, spec: dict
) -> tuple[str, dict, dict]:
    """(type, message object, what the phone shows) for a WhatsApp inbound spec."""
    context = None
    if spec.get("context_message_id"):
        context = {"from": digits(spec["from"]), "id": spec["context_message_id"]}
    if spec.get("button_payload") is not None or spec.get("button_text") is not None:
        text = spec.get("button_text") or spec.get("button_payload")
        message = {"text": text, "payload": spec.get("button_payload") or text, "type": "BUTTON"}
        shown = {"text": text}
    elif spec.get("interactive_reply"):
        reply = spec["interactive_reply"]
        message = {"id": str(reply["id"]), "title": reply["title"], "type": "INTERACTIVE_BUTTON_REPLY"}
        shown = {"text": reply["title"]}
    elif spec.get("list_reply"):
        reply = spec["list_reply"]
        message = {"id": str(reply["id"]), "title": reply["title"], "type": "INTERACTIVE_LIST_REPLY"}
        if reply.get("description"):
            message["description"] = reply["description"]
        shown = {"text": reply["title"]}
    elif spec.get("location"):
        location = spec["location"]
        message = {
            "latitude": float(location["latitude"]),
            "longitude": float(location["longitude"]),
            "type": "LOCATION",
        }
        for key in ("name", "address", "url"):
            if location.get(key):
                message[key] = location[key]
        shown = {"location": message}
    elif spec.get("contacts"):
        contacts = [_contact(c) for c in spec["contacts"]]
        message = {"contacts": contacts, "type": "CONTACT"}
        shown = {"text": ", ".join(c["name"]["formattedName"] for c in contacts)}
    elif spec.get("media"):
        media_spec = spec["media"]
        kind = str(media_spec.get("type", "IMAGE")).upper()
        if kind not in MEDIA_TYPES:
            raise InboundError(f"media type must be one of {', '.join(MEDIA_TYPES)}")
        media = service.store_media(account, sender, kind, *_media_bytes(media_spec))
        message = {"url": service.media_url(media), "type": kind}
        if media_spec.get("caption") and kind not in ("STICKER",):
            message["caption"] = media_spec["caption"]
        shown = {"media_url": message["url"], "media_type": kind, "caption": media_spec.get("caption", "")}
    elif spec.get("text") is not None:
        if not str(spec["text"]).strip():
            raise InboundError("text must not be empty")
        message = {"text": str(spec["text"]), "type": "TEXT"}
        shown = {"text": message["text"]}
    else:
        raise InboundError(
            "give text, media, button_payload, interactive_reply, list_reply, location or contacts"
        )
    if context:
        message["context"] = context
    return message["type"], message, shown


def _contact(spec: dict) -> dict:
    name = spec.get("name") or "Contact"
    contact = {"name": {"firstName": name.split(" ")[0], "formattedName": name}}
    if spec.get("phone"):
        contact["phones"] = [{"phone": spec["phone"], "type": "CELL", "waId": digits(spec["phone"])}]
    return contact


def _media_bytes(spec: dict) -> tuple[bytes | None, str | None, str | None]:
    content = None
    if spec.get("content_b64"):
        try:
            content = base64.b64decode(spec["content_b64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InboundError("content_b64 is not base64") from exc
    return content, spec.get("content_type"), spec.get("filename")


def fire(service: InfobipService, spec: dict) -> Message:
    """Record one inbound message and queue its MO webhook; returns the message."""
    channel = str(spec.get("channel", "WHATSAPP")).upper()
    if channel not in ("WHATSAPP", "SMS", "VIBER"):
        raise InboundError("channel must be WHATSAPP, SMS or VIBER")
    if not spec.get("from"):
        raise InboundError("from (the customer's number) is required")
    account, sender = resolve_account(service, spec)
    if sender not in account.senders or channel not in account.senders[sender].channels:
        raise InboundError(f"sender {sender!r} has no {channel} channel")
    customer, name = digits(spec["from"]), spec.get("name", "")
    if channel == "WHATSAPP":
        kind, message, shown = whatsapp_message(service, account, sender, spec)
    elif channel == "VIBER" and spec.get("media"):
        media = service.store_media(account, sender, "FILE", *_media_bytes(spec["media"]))
        kind = "FILE"
        message = {"url": service.media_url(media), "fileName": media.filename, "type": "FILE"}
        shown = {"media_url": message["url"], "media_type": "DOCUMENT", "caption": media.filename}
    else:
        text = spec.get("text")
        if text is None or not str(text).strip():
            raise InboundError(f"{channel} inbound needs a non-empty text")
        kind, message, shown = "TEXT", {"text": str(text), "type": "TEXT"}, {"text": str(text)}
    inbound = service.record_inbound(
        account, channel, sender, customer, kind, message, name=name, rendered=shown
    )
    result, fmt = mo_result(account, inbound)
    service.webhooks.enqueue(account, "MO", fmt, account.webhook_url, result, mo=True)
    return inbound


def mo_result(account: Account, inbound: Message) -> tuple[dict, str]:
    """The webhook result for an inbound message and the format name (channel or MESSAGES_API)."""
    received = e.infobip_time(inbound.at)
    message = inbound.content
    if account.inbound_format == "MESSAGES_API":
        return _messages_api_mo(inbound, received), "MESSAGES_API"
    if inbound.channel == "WHATSAPP":
        result = {
            "from": inbound.customer,
            "to": inbound.sender,
            "integrationType": "WHATSAPP",
            "receivedAt": received,
            "messageId": inbound.message_id,
            "message": message,
            "price": dict(PRICE),
            "contact": {"name": inbound.contact_name or inbound.customer, "phoneNumber": inbound.customer},
        }
        if message.get("context", {}).get("id"):
            result["pairedMessageId"] = message["context"]["id"]
        return result, "WHATSAPP"
    if inbound.channel == "SMS":
        return {
            "messageId": inbound.message_id,
            "from": inbound.customer,
            "to": inbound.sender,
            "text": message["text"],
            "cleanText": message["text"],
            "receivedAt": received,
            "smsCount": 1,
            "price": dict(PRICE),
        }, "SMS"
    return {
        "sender": inbound.customer,
        "to": inbound.sender,
        "integrationType": "VIBER",
        "receivedAt": received,
        "messageId": inbound.message_id,
        "message": message,
        "price": dict(PRICE),
    }, "VIBER"


def _messages_api_mo(inbound: Message, received: str) -> dict:
    message = inbound.content
    kind = message.get("type")
    if kind == "TEXT":
        content = {"type": "TEXT", "text": message["text"], "cleanText": message["text"]}
    elif kind == "BUTTON":
        content = {"type": "BUTTON_REPLY", "text": message["text"], "payload": message["payload"]}
    elif kind == "INTERACTIVE_BUTTON_REPLY":
        content = {"type": "BUTTON_REPLY", "text": message["title"], "id": message["id"]}
    elif kind == "INTERACTIVE_LIST_REPLY":
        content = {"type": "LIST_REPLY", "text": message["title"], "id": message["id"]}
    elif kind == "LOCATION":
        content = {"type": "LOCATION", "latitude": message["latitude"], "longitude": message["longitude"]}
    elif kind in ("IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "FILE", "VOICE", "STICKER"):
        mapped = {"VOICE": "AUDIO", "STICKER": "IMAGE", "FILE": "DOCUMENT"}.get(kind, kind)
        content = {"type": mapped, "url": message["url"]}
        if message.get("caption"):
            content["text"] = message["caption"]
    else:
        content = {"type": "TEXT", "text": str(message)}
    return {
        "event": "MO",
        "channel": {"VIBER": "VIBER_BM"}.get(inbound.channel, inbound.channel),
        "sender": inbound.customer,
        "destination": inbound.sender,
        "content": [content],
        "receivedAt": received,
        "messageId": inbound.message_id,
        "messageCount": 1,
    }
