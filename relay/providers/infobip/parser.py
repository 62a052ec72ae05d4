"""Infobip webhook bodies → normalized events.

One parser for every format Infobip posts (providers.md §1.6-1.9, §1.11; examples in ``fixtures/``):
WhatsApp MO (``MO_OTT_CONTACT``: ``from`` + ``message{}``), SMS MO (``text`` at the top of the result),
Viber MO (the customer in ``sender``), the Messages API events (``event``: MO, DELIVERY, SEEN, typing),
delivery reports (``status`` + ``error``) and seen reports (``seenAt``). Every body is ``{"results":
[...]}`` and one request may carry several results, of one or several kinds; each is recognised by its
own shape. Nothing the customer sent is dropped: a type we cannot show becomes a readable note.

Events Infobip documents that are neither a customer's message nor a report on ours (Subscriptions API event
catalogue: ``SimpleWhatsappEvents`` TEMPLATE_UPDATE, IDENTITY_CHANGE, PAYMENT_STATUS,
MARKETING_SUBSCRIPTION_UPDATE; ``SimpleSmsEvents`` CLICK; the Messages API's typing events; the Viber Bot API's
subscription, conversation-start and delivered notices) become :class:`IgnoredEvent`: recognised by the shape
their webhook's schema documents (``NOT_CARRIED`` below, a fixture each), acknowledged, never stored. A shape
Infobip does not document is still refused (a ValueError): "ignored" is never a guess.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from tenants.validators import normalize_e164

from ...desks.render import describe
from ...events import (
    Contact,
    IgnoredEvent,
    InboundMessage,
    Kind,
    Location,
    Media,
    Order,
    ParsedEvent,
    Phone,
    Reaction,
    ReportStatus,
    StatusReport,
    count_of,
    items_of,
    list_choice_text,
    object_of,
    text_of,
)
from ..base import PartlyReadable

WHATSAPP_MEDIA = {"IMAGE", "DOCUMENT", "VIDEO", "AUDIO", "VOICE", "STICKER"}
MESSAGES_API_MEDIA = {
    "IMAGE": "image",
    "AUDIO": "audio",
    "VIDEO": "video",
    "DOCUMENT": "document",
    "FILE": "document",
}
VIBER_MEDIA = {"FILE": "document", "IMAGE": "image", "VIDEO": "video", "STICKER": "sticker"}
# Not messages (ViberBotInboundContentType, receive-viber-bot-api-incoming-messages in infobip-viber-openapi.json)
VIBER_BOT_EVENTS = {"DELIVERED", "SUBSCRIBED", "UNSUBSCRIBED", "CONVERSATION_STARTED"}
ESCAPED_UNICODE = re.compile(r"(?:\\u[0-9A-Fa-f]{4})+")
ESCAPED_UNICODE_UNIT = re.compile(r"\\u([0-9A-Fa-f]{4})")
MESSAGES_API_CHANNELS = {"WHATSAPP": "whatsapp", "SMS": "sms", "VIBER_BM": "viber", "VIBER_BOT": "viber"}
# The Messages API's inbound events (MessagesApiInboundEvent's discriminator, receive-messages-api-incoming-
# messages in infobip-messages-api-openapi.json) besides MO: not messages, nothing to store.
MESSAGES_API_IGNORED_EVENTS = {"TYPING_STARTED", "TYPING_STOPPED"}
# The change types of a WhatsApp template update (TemplatePushEventChange's discriminator).
TEMPLATE_CHANGES = {"TEMPLATE_STATUS_UPDATE", "TEMPLATE_CATEGORY_UPDATE", "TEMPLATE_QUALITY_UPDATE"}
FAILED_GROUPS = {"UNDELIVERABLE", "EXPIRED", "REJECTED"}
# Infobip's status groups by id (response status and error codes), for a status that gives no groupName (it is
# optional in the WhatsApp, SMS and Viber report schemas).
STATUS_GROUPS = {1: "PENDING", 2: "UNDELIVERABLE", 3: "DELIVERED", 4: "EXPIRED", 5: "REJECTED"}
# WhatsApp's "re-engagement" error (Meta Cloud API 131047, On-Premises 470) as Infobip passes it on.
WINDOW_ERROR_IDS = {131047, 470}


def parse_webhook(body: Any) -> list[ParsedEvent]:
    """Every event of one Infobip webhook request, in the order Infobip sent them."""
    if not isinstance(body, dict):
        raise ValueError(f"expected a JSON object with a 'results' list, got {_type_name(body)}")
    results = body.get("results")
    if not isinstance(results, list):
        not_carried = _not_carried(body)
        if not_carried is not None:
            return [not_carried]
        raise ValueError("no 'results' list: Infobip webhooks carry their events in 'results'")
    events: list[ParsedEvent] = []
    problems: list[str] = []
    for index, result in enumerate(results):
        where = f"results[{index}]"
        try:  # one result that cannot be read does not hold back the others (they are customers' messages)
            if not isinstance(result, dict):
                raise ValueError(f"{where} is {_type_name(result)}, expected an object")
            events.extend(_parse_result(result, where))
        except ValueError as exc:
            problems.append(str(exc))
    if problems and (events or len(results) > 1):
        raise PartlyReadable(events, problems)
    if problems:
        raise ValueError(problems[0])
    return events


def _parse_result(result: dict, where: str) -> list[ParsedEvent]:
    if "event" in result:
        return _messages_api(result, where)
    if "seenAt" in result:
        return [_seen_report(result, where)]
    if "status" in result and "message" not in result:
        return [_delivery_report(result, where)]
    if str(result.get("integrationType") or "").startswith("VIBER") or (
        "sender" in result and "message" in result
    ):
        return _viber_mo(result, where)
    if "message" in result:
        return [_whatsapp_mo(result, where)]
    if "text" in result and "from" in result:
        return [_sms_mo(result, where)]
    keys = ", ".join(sorted(result)) or "none"
    raise ValueError(
        f"{where} is neither an Infobip inbound message nor a delivery or seen report (its keys: {keys})"
    )


# --- events Switchboard does not carry -----------------------------------------------------------------


def _whatsapp_template_update(body: dict) -> bool:
    """``TemplateUpdatePushEvent`` (receive-whatsapp-message-template-update-events, infobip-whatsapp-openapi
    .json): its required keys, ``change.type`` one of the documented changes."""
    required = ("messageTemplateId", "messageTemplateName", "messageTemplateLanguage", "timestamp")
    return (
        all(key in body for key in required)
        and text_of(object_of(body.get("change")).get("type")) in TEMPLATE_CHANGES
    )


def _whatsapp_notification(body: dict) -> dict:
    """The ``content`` of the WhatsApp account notifications (``from`` our sender, ``content``, ``createdAt``:
    SystemEventResponse, PaymentNotificationResponse, MarketingUpdateNotificationResponse), or {}."""
    if not isinstance(body.get("from"), str) or "createdAt" not in body:
        return {}
    return object_of(body.get("content"))


def _identity_change(body: dict) -> bool:
    """receive-whatsapp-identity-change-notification: ``SystemEvent.type`` user_identity_changed."""
    return _whatsapp_notification(body).get("type") == "user_identity_changed"


def _payment_status(body: dict) -> bool:
    """receive-whatsapp-payment-notification: ``PaymentNotification.type`` is "always `payment`"."""
    content = _whatsapp_notification(body)
    return content.get("type") == "payment" and "paymentStatus" in content


def _marketing_update(body: dict) -> bool:
    """receive-whatsapp-marketing-update-notification: ``MarketingUpdateNotification`` (stop / resume)."""
    return "notificationMessagesStatus" in _whatsapp_notification(body)


def _url_click(body: dict) -> bool:
    """receive-sms-tracking-notification (infobip-sms-openapi.json): ``UrlTrackingWebhook``, whose
    ``notificationType`` has one documented value, CLICKED."""
    return body.get("notificationType") == "CLICKED" and "messageId" in body and "url" in body


# Infobip's name for the event (the Subscriptions API's), how its documented shape is recognised, and why it
# is not carried. Each has a fixture, verbatim from the vendor's example (tests/unit/test_webhook_not_carried.py).
NOT_CARRIED = (
    (
        "TEMPLATE_UPDATE",
        _whatsapp_template_update,
        "a WhatsApp template's status, category or quality changed; Switchboard reads templates from Infobip's "
        "template API",
    ),
    ("IDENTITY_CHANGE", _identity_change, "a customer's WhatsApp identity (security code) changed"),
    ("PAYMENT_STATUS", _payment_status, "a WhatsApp payment's status changed; Switchboard takes no payments"),
    (
        "MARKETING_SUBSCRIPTION_UPDATE",
        _marketing_update,
        "a customer stopped or resumed WhatsApp marketing messages; Switchboard sends none",
    ),
    ("CLICK", _url_click, "a customer opened a tracked link of a message"),
)


def _not_carried(body: dict) -> IgnoredEvent | None:
    """The event of a webhook body that is not a ``results`` list, if it is one Infobip documents."""
    for event, recognised, why in NOT_CARRIED:
        if recognised(body):
            return IgnoredEvent(event=event, why=f"not a message: {why}")
    return None


# --- inbound ------------------------------------------------------------------------------------------


def _whatsapp_mo(result: dict, where: str) -> InboundMessage:
    message = _object(result, "message", where)
    kind = _string(message, "type", f"{where}.message")
    contact = object_of(result.get("contact"))
    common: dict[str, Any] = {
        "provider_message_id": _string(result, "messageId", where),
        "channel": "whatsapp",
        "sender_address": address(_string(result, "to", where)),
        "customer": address(_string(result, "from", where)),
        "customer_name": text_of(contact.get("name")),
        "received_at": _timestamp(result, "receivedAt", where),
        "raw": result,
    }
    if kind == "TEXT":
        return InboundMessage(kind=Kind.TEXT, text=_text(message, "text"), **common)
    if kind in WHATSAPP_MEDIA:
        caption = _text(message, "caption")
        media = Media(url=_string(message, "url", f"{where}.message"), kind=kind.lower(), caption=caption)
        return InboundMessage(kind=Kind.MEDIA, text=caption, media=media, **common)
    if kind == "LOCATION":
        return summarized(InboundMessage(kind=Kind.LOCATION, location=_location(message), **common))
    if kind == "CONTACT":
        contacts = tuple(
            _whatsapp_contact(c) for c in items_of(message.get("contacts")) if isinstance(c, dict)
        )
        return summarized(InboundMessage(kind=Kind.CONTACTS, contacts=contacts, **common))
    if kind == "BUTTON":  # a quick-reply button of a template: the payload is the parameter we sent
        return InboundMessage(
            kind=Kind.BUTTON, text=_text(message, "text"), payload=_text(message, "payload"), **common
        )
    if kind == "INTERACTIVE_BUTTON_REPLY":
        return InboundMessage(
            kind=Kind.BUTTON, text=_text(message, "title"), payload=_text(message, "id"), **common
        )
    if kind == "INTERACTIVE_LIST_REPLY":
        text = list_choice_text(_text(message, "title"), _text(message, "description"))
        return InboundMessage(kind=Kind.LIST_REPLY, text=text, payload=_text(message, "id"), **common)
    if kind == "REACTION":
        return summarized(InboundMessage(kind=Kind.REACTION, reaction=_reaction(message), **common))
    if kind == "ORDER":
        return summarized(InboundMessage(kind=Kind.ORDER, order=_order(message), **common))
    if kind == "INTERACTIVE_FLOW_REPLY":  # the customer's answers are its response
        return InboundMessage(
            kind=Kind.UNSUPPORTED, text=flow_note(message.get("response"), _text(message, "text")), **common
        )
    if kind == "INTERACTIVE_CALL_PERMISSION_REPLY":  # the customer's answer to a request to call them
        return InboundMessage(
            kind=Kind.UNSUPPORTED, text=call_permission_note(message.get("callPermissionReply")), **common
        )
    if kind == "INFECTED_CONTENT":
        note = "The customer sent a file that Infobip's virus scan blocked; it cannot be shown."
        return InboundMessage(kind=Kind.UNSUPPORTED, text=note, **common)
    if kind == "UNSUPPORTED":  # WhatsApp itself does not pass this message type on to businesses
        note = (
            "The customer sent a message of a type WhatsApp does not pass on to businesses; "
            "ask them to send it another way."
        )
        return InboundMessage(kind=Kind.UNSUPPORTED, text=note, **common)
    return InboundMessage(
        kind=Kind.UNSUPPORTED, text=unsupported_note(kind, _text(message, "text")), **common
    )


def _sms_mo(result: dict, where: str) -> InboundMessage:
    return InboundMessage(
        provider_message_id=_string(result, "messageId", where),
        channel="sms",
        sender_address=address(_string(result, "to", where)),
        customer=address(_string(result, "from", where)),
        kind=Kind.TEXT,
        text=_text(result, "text"),  # the whole text, keyword included: it is what the customer typed
        received_at=_timestamp(result, "receivedAt", where),
        raw=result,
    )


def _viber_mo(result: dict, where: str) -> list[ParsedEvent]:
    """Viber Business Messages (``message.type`` TEXT or FILE) and the Viber Bot API (``message.type``
    MESSAGE, the customer's message nested in ``message.message``; other bot events are not messages)."""
    message = _object(result, "message", where)
    kind = _string(message, "type", f"{where}.message")
    common: dict[str, Any] = {
        "provider_message_id": _string(result, "messageId", where),
        "channel": "viber",
        "sender_address": address(_string(result, "to", where)),
        "customer": address(_string(result, "sender", where)),  # Viber MO: the customer is the "sender"
        "received_at": _timestamp(result, "receivedAt", where),
        "raw": result,
    }
    if kind in VIBER_BOT_EVENTS:
        why = "not a message: a Viber Bot subscription, conversation start or delivered notice"
        return [IgnoredEvent(event=f"VIBER_BOT_{kind}", why=why)]
    if kind == "MESSAGE":
        user = object_of(message.get("sender"))
        common["customer_name"] = text_of(user.get("name"))
        message = object_of(message.get("message"))  # the schema requires neither it nor its type
        kind = text_of(message.get("type")).strip().upper()
        if not kind:
            note = "The customer sent a Viber message that Infobip passed on without its type or content."
            words = _text(message, "text")
            return [
                InboundMessage(
                    kind=Kind.UNSUPPORTED, text=f'{note} Its text: "{words}"' if words else note, **common
                )
            ]
        where = f"{where}.message"
    return [_viber_content(message, kind, f"{where}.message", common)]


def _viber_content(message: dict, kind: str, where: str, common: dict[str, Any]) -> InboundMessage:
    if kind == "TEXT":
        return InboundMessage(kind=Kind.TEXT, text=_text(message, "text"), **common)
    url = _text(message, "url").strip()
    if kind in VIBER_MEDIA and url:
        media = Media(
            url=url,
            kind=VIBER_MEDIA[kind],
            filename=_text(message, "fileName"),
            caption=_text(message, "text") or _text(message, "description"),
            size=count_of(message.get("size")),
        )
        return InboundMessage(kind=Kind.MEDIA, text=media.caption, media=media, **common)
    if kind == "STICKER":  # a sticker Viber gave only an id for
        note = f"The customer sent a Viber sticker ({_text(message, 'id') or 'no id'}) that cannot be shown."
        return InboundMessage(kind=Kind.UNSUPPORTED, text=note, **common)
    if (
        kind in VIBER_MEDIA
    ):  # the schemas require no url of a file, image or video: still the customer's message
        name = _text(message, "fileName").strip()
        note = (
            f"The customer sent a Viber {kind.lower()}{f' ({name})' if name else ''} that Infobip gave no link "
            "for; ask them to send it again."
        )
        words = _text(message, "text") or _text(message, "description")
        return InboundMessage(
            kind=Kind.UNSUPPORTED, text=f'{note} Its text: "{words}"' if words else note, **common
        )
    if kind == "LOCATION":
        location = _location(object_of(message.get("location")))
        return summarized(InboundMessage(kind=Kind.LOCATION, location=location, **common))
    if kind == "CONTACT":
        card = object_of(message.get("contact"))
        phone = text_of(card.get("phoneNumber")).strip()
        contact = Contact(
            name=text_of(card.get("name")).strip(), phones=(Phone(address(phone)),) if phone else ()
        )
        return summarized(InboundMessage(kind=Kind.CONTACTS, contacts=(contact,), **common))
    return InboundMessage(
        kind=Kind.UNSUPPORTED, text=unsupported_note(kind, _text(message, "text")), **common
    )


def _messages_api(result: dict, where: str) -> list[ParsedEvent]:
    event = _string(result, "event", where)
    if event == "DELIVERY":
        return [_delivery_report(result, where)]
    if event == "SEEN":
        return [_seen_report(result, where)]
    if event in MESSAGES_API_IGNORED_EVENTS:
        return [IgnoredEvent(event=event, why="not a message: the customer's typing indicator")]
    if event != "MO":
        raise ValueError(f"{where}.event {event[:40]!r} is not an event of Infobip's Messages API webhooks")
    message_id = _string(result, "messageId", where)
    channel = _string(result, "channel", where)
    items = result.get("content")
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}.content must be a non-empty list of message parts")
    common: dict[str, Any] = {
        "channel": MESSAGES_API_CHANNELS.get(channel, channel.lower()),
        "sender_address": address(_string(result, "destination", where)),
        "customer": address(_string(result, "sender", where)),  # Messages API: the customer is the "sender"
        "received_at": _timestamp(result, "receivedAt", where),
        "raw": result,
    }
    events: list[ParsedEvent] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{where}.content[{index}] is {_type_name(item)}, expected an object")
        # One message per part (an MMS can carry audio, text and a subject); ids stay stable on replay.
        part_id = message_id if index == 0 else f"{message_id}#{index}"
        common["provider_message_id"] = part_id
        events.append(_messages_api_part(item, f"{where}.content[{index}]", dict(common)))
    return events


def _messages_api_part(item: dict, where: str, common: dict[str, Any]) -> InboundMessage:
    kind = _string(item, "type", where)
    if kind in ("TEXT", "SUBJECT"):
        return InboundMessage(kind=Kind.TEXT, text=_text(item, "text"), **common)
    if kind in MESSAGES_API_MEDIA:
        caption = _text(item, "text")
        media = Media(url=_string(item, "url", where), kind=MESSAGES_API_MEDIA[kind], caption=caption)
        return InboundMessage(kind=Kind.MEDIA, text=caption, media=media, **common)
    if kind == "URL":
        return InboundMessage(kind=Kind.TEXT, text=_text(item, "url"), **common)
    if kind == "BUTTON_REPLY":
        payload = _text(item, "payload") or _text(item, "id")
        return InboundMessage(kind=Kind.BUTTON, text=_text(item, "text"), payload=payload, **common)
    if kind == "LIST_REPLY":
        return InboundMessage(
            kind=Kind.LIST_REPLY, text=_text(item, "text"), payload=_text(item, "id"), **common
        )
    if kind == "LOCATION":
        return summarized(InboundMessage(kind=Kind.LOCATION, location=_location(item), **common))
    if kind == "REACTION":
        return summarized(InboundMessage(kind=Kind.REACTION, reaction=_reaction(item), **common))
    if kind == "FLOW_RESPONSE":
        return InboundMessage(kind=Kind.UNSUPPORTED, text=flow_note(item.get("response")), **common)
    return InboundMessage(kind=Kind.UNSUPPORTED, text=unsupported_note(kind, _text(item, "text")), **common)


def summarized(event: InboundMessage) -> InboundMessage:
    """A structured message keeps, as its text, the same words Salesforce will show (the one renderer)."""
    return replace(event, text=describe(event))


def unsupported_note(kind: str, text: str = "") -> str:
    """The note an agent sees instead of a message type this channel cannot show."""
    label = kind.replace("_", " ").lower().strip() or "unknown"
    article = "an" if label[0] in "aeiou" else "a"
    note = f"The customer sent {article} {label} message, which this channel cannot show."
    return f'{note} Its text: "{text}"' if text else note


def flow_note(response: Any, text: str = "") -> str:
    """A WhatsApp Flow's answers in words: its ``response`` map is what the customer entered (a rating, a
    comment); the ``flow_token`` in it is the business's own. Values that are not text are shown as JSON."""
    answers = [
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in object_of(response).items()
        if key != "flow_token"
    ]
    said = text.strip()
    note = "The customer completed a WhatsApp Flow" + (f' ("{said}")' if said else "")
    return f"{note}. Their answers: {'; '.join(answers)}" if answers else f"{note}."


def call_permission_note(reply: Any) -> str:
    """WhatsApp's ``CallPermissionReply``: ``response`` ACCEPT or REJECT, ``expirationTimestamp`` if accepted."""
    answer = object_of(reply)
    response = text_of(answer.get("response")).strip().upper()
    if response == "ACCEPT":
        until = text_of(answer.get("expirationTimestamp")).strip()
        return f"The customer allowed WhatsApp calls{f' (until {until})' if until else ''}."
    if response == "REJECT":
        return "The customer did not allow WhatsApp calls."
    return "The customer answered a request for WhatsApp calls."


def _location(message: dict) -> Location:
    return Location.from_stored(message) or Location()


def _whatsapp_contact(card: dict) -> Contact:
    """A WhatsApp contact card (Infobip's ``InboundContact``); phone numbers as E.164 where they are numbers."""
    contact = Contact.from_stored(card) or Contact()
    phones = tuple(replace(phone, number=address(phone.number)) for phone in contact.phones)
    return replace(contact, phones=phones)


def _reaction(message: dict) -> Reaction:
    context = object_of(message.get("context"))
    return Reaction(
        emoji=_unescaped(text_of(message.get("emoji")).strip()),
        action=text_of(message.get("action")).upper() or "ADDED",
        message_id=text_of(context.get("id")),
    )


def _order(message: dict) -> Order:
    return Order.from_stored(message) or Order()


def _unescaped(emoji: str) -> str:
    """``\\u2764\\uFE0F`` written out as text (as in Infobip's own example) is the emoji it names."""
    if not ESCAPED_UNICODE.fullmatch(emoji):
        return emoji
    units = [int(code, 16) for code in ESCAPED_UNICODE_UNIT.findall(emoji)]
    return b"".join(unit.to_bytes(2, "big") for unit in units).decode("utf-16-be", errors="replace")


# --- reports ------------------------------------------------------------------------------------------


def _delivery_report(result: dict, where: str) -> StatusReport:
    status = _object(result, "status", where)
    group_id = status.get("groupId")
    group = str(
        status.get("groupName") or STATUS_GROUPS.get(group_id if isinstance(group_id, int) else 0, "")
    )
    group = group.upper()
    error = object_of(result.get("error"))
    common: dict[str, Any] = {
        "provider_message_id": _string(result, "messageId", where),
        "reported_at": _timestamp(result, "doneAt", where),
        "raw": result,
    }
    if group == "DELIVERED":
        return StatusReport(status=ReportStatus.DELIVERED, **common)
    if group not in FAILED_GROUPS:  # PENDING, ACCEPTED: intermediate
        return StatusReport(status=ReportStatus.PENDING, **common)
    failed = bool(error) and error.get("id") not in (0, None)
    code = str(error.get("name") or error.get("id") or "") if failed else str(status.get("name") or group)
    stated = error.get("permanent")
    permanent = stated if isinstance(stated, bool) else True
    return StatusReport(
        status=ReportStatus.FAILED,
        error_code=code,
        error_message=failure_reason(group, status, error if failed else {}),
        permanent=permanent,
        **common,
    )


def failure_reason(group: str, status: dict, error: dict) -> str:
    """Why a message did not arrive, in words an agent can act on."""
    detail = str(error.get("description") or status.get("description") or "").strip().rstrip(".")
    if is_window_error(error):
        return (
            "Not delivered: the customer's last message is more than 24 hours old, so WhatsApp only accepts "
            f"an approved template now. Send a template instead. (Infobip: {detail})"
        )
    opening = {
        "EXPIRED": "Not delivered in time: the message expired before it reached the customer's phone",
        "REJECTED": "Rejected before sending",
    }.get(group, "Not delivered")
    return f"{opening}: {detail}." if detail else f"{opening}."


def is_window_error(error: dict) -> bool:
    text = f"{error.get('name', '')} {error.get('description', '')}".lower()
    error_id = error.get(
        "id"
    )  # an integer in Infobip's schema; a list or object cannot be looked up in a set
    return (
        (isinstance(error_id, int) and error_id in WINDOW_ERROR_IDS)
        or "24h" in text
        or "24 hour" in text
        or "re-engagement" in text
    )


def _seen_report(result: dict, where: str) -> StatusReport:
    return StatusReport(
        provider_message_id=_string(result, "messageId", where),
        status=ReportStatus.READ,
        reported_at=_timestamp(result, "seenAt", where),
        raw=result,
    )


# --- values ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def address(value: str) -> str:
    """A phone number as E.164 with '+' (Infobip sends digits only); anything else (a Viber service name,
    a WhatsApp user id, a short code) exactly as sent. Kept per process: the phone library's parse cost more
    than the rest of a message's parsing, for the same senders and customers again and again."""
    raw = value.strip()
    digits = raw.removeprefix("+")
    if not digits.isdigit():
        return raw
    try:
        return normalize_e164(digits)
    except ValidationError:
        # Possible but unassigned numbers (test ranges) still get the '+'; short codes stay as they are.
        return "+" + digits if 8 <= len(digits) <= 15 else raw


def parse_timestamp(value: str) -> datetime:
    """Infobip's ``2025-01-01T10:10:00.000+0000`` (also ``-0300``, ``+00:00``, ``Z``, without millis)."""
    text = value.strip().replace("Z", "+0000")
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise ValueError(f"'{value}' is not a timestamp like 2025-01-01T10:10:00.000+0000")


def _timestamp(data: dict, key: str, where: str) -> datetime | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}.{key} is {_type_name(value)}, expected a timestamp string")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ValueError(f"{where}.{key}: {exc}") from None


def _string(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # ids that arrive as numbers are still ids
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else ("empty" if isinstance(value, str) else _type_name(value))
        raise ValueError(f"{where}.{key} must be a non-empty string ({got})")
    return value


def _object(data: dict, key: str, where: str) -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        got = "missing" if value is None else _type_name(value)
        raise ValueError(f"{where}.{key} must be an object ({got})")
    return value


def _text(data: dict, key: str) -> str:
    """Text the customer sent: a string (or a number) as it is; an object or a list is not text."""
    return text_of(data.get(key))


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
