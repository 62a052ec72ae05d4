"""8x8 Chat Apps webhooks → normalized events (relay/events.py).

Two documents (``shared/reference/8x8-openapi/``): the inbound message, format v3
(``inbound-chatapps-message.mdx``: ``eventType: inbound_message_received``) and the delivery receipt, format
v9 (``delivery-receipts-for-outbound-chatapps.mdx``: ``outbound_message_status_changed``). One webhook is
one event. The message ``type`` is compared case-insensitively (the docs write ``Text`` and ``text``).
Our sender is the channel that received the message, ``recipient.channelId``; the customer is
``user.msisdn`` (E.164 with ``+``), or the WhatsApp ``channelUserId`` (BSUID) when there is no number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...events import (
    IgnoredEvent,
    InboundMessage,
    Kind,
    Location,
    Media,
    ParsedEvent,
    ReportStatus,
    StatusReport,
    list_choice_text,
    number_of,
    object_of,
    text_of,
)

INBOUND = "inbound_message_received"
RECEIPT = "outbound_message_status_changed"
BUSINESS_APP_ECHO = "external_app_message"  # the business's own WhatsApp Business App messages: not ours
CHANNELS = {"whatsapp", "sms", "viber"}
MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
# MessageStatus.state (business_messaging_api.json): "unknown" is "an exceptional/intermediate status" and "ok"
# an operation's success, neither the end of a message; "error" is "an error occurred during operation".
PENDING_STATES = {"queued", "sent", "accepted", "scheduled", "unknown", "ok"}
FAILED_STATES = {"failed", "undelivered", "rejected", "expired", "error"}
# WhatsApp's "delivered_to_operator" receipt is "generated before the message reaches WhatsApp" (the v9 receipt
# document, "When channelUserId is missing"): the recipient's own receipt is still to come. On Viber the same
# document's "delivered to recipient" sample carries this detail, so there it stays a delivery.
NOT_YET_DELIVERED = {("whatsapp", "delivered_to_operator")}
SESSION_EXPIRED = 61  # "Message trashed by session expired reason (i.e. 24 hours for WhatsApp)"
ID_MAX = 100


def parse_webhook(body: Any) -> list[ParsedEvent]:
    """Raise ValueError with a readable reason when the body is not an 8x8 Chat Apps webhook."""
    if not isinstance(body, dict):
        raise ValueError("the body is not a JSON object")
    event_type = body.get("eventType")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise ValueError("no payload object")
    if event_type == INBOUND:
        return [_inbound(payload)]
    if event_type == RECEIPT:
        return [_receipt(payload)]
    if event_type == BUSINESS_APP_ECHO:
        why = "not a message of the customer's: one the business sent from the WhatsApp Business App"
        return [IgnoredEvent(event=BUSINESS_APP_ECHO, why=why)]
    raise ValueError(f"eventType {_shown(event_type)} is not an inbound message or a delivery receipt")


def _inbound(payload: dict) -> InboundMessage:
    user = object_of(payload.get("user"))
    recipient = object_of(payload.get("recipient"))
    channel = text_of(recipient.get("channel")).strip().lower()
    if channel not in CHANNELS:
        raise ValueError(
            f"recipient.channel {_shown(recipient.get('channel'))} is not WhatsApp, SMS or Viber"
        )
    customer = text_of(user.get("msisdn")).strip() or text_of(user.get("channelUserId")).strip()
    if not customer:
        raise ValueError("payload.user has neither msisdn nor channelUserId")
    common: dict[str, Any] = {
        "provider_message_id": _id(payload, "umid"),
        "channel": channel,
        "sender_address": _id(recipient, "channelId", where="recipient.channelId").lower(),
        "customer": customer,
        "customer_name": text_of(user.get("name")).strip(),
        "received_at": _timestamp(payload.get("timestamp")),
        "raw": payload,
    }
    content = object_of(payload.get("content"))
    kind = text_of(payload.get("type")).strip().lower()
    text = text_of(content.get("text"))
    if kind == "text":
        return InboundMessage(kind=Kind.TEXT, text=text, **common)
    if kind in MEDIA_KINDS:
        url = text_of(content.get("url")).strip()
        if not url:  # the document's content.url is "the URL of the media attachment (rich content) if any"
            note = (
                f"[The customer sent {'an' if kind[0] in 'aeiou' else 'a'} {kind} that 8x8 gave no link for.]"
            )
            return InboundMessage(kind=Kind.UNSUPPORTED, text=f"{note} {text}".strip(), **common)
        media = Media(url=url, kind=MEDIA_KINDS[kind], caption=text)
        return InboundMessage(kind=Kind.MEDIA, text=text, media=media, **common)
    if kind == "location":
        return _location(content, common)
    if kind == "interactive":
        return _interactive(object_of(content.get("interactive")), common)
    payload_value = text_of(content.get("payload"))
    if payload_value and kind in ("buttons", "template", "list"):  # a template's quick-reply tap
        return InboundMessage(kind=Kind.BUTTON, text=text or payload_value, payload=payload_value, **common)
    shown = text_of(payload.get("type")).strip() or "empty"
    note = f"[The customer sent a {shown} message, which Switchboard cannot show yet.]"
    return InboundMessage(kind=Kind.UNSUPPORTED, text=f"{note} {text}".strip(), **common)


def _location(content: dict, common: dict) -> InboundMessage:
    """``content.location{latitude, longitude}``. A pin without usable coordinates is still the customer's
    message: kept as a location without them (the agent reads so), as Infobip's are, never refused."""
    location = Location.from_stored(content.get("location")) or Location()
    return InboundMessage(kind=Kind.LOCATION, text=text_of(content.get("text")), location=location, **common)


def _interactive(interactive: dict, common: dict) -> InboundMessage:
    reply_type = text_of(interactive.get("type")).strip()
    if reply_type in ("button_reply", "list_reply"):
        reply = object_of(interactive.get(reply_type))
        title = text_of(reply.get("title"))
        if reply_type == "button_reply":
            return InboundMessage(kind=Kind.BUTTON, text=title, payload=text_of(reply.get("id")), **common)
        text = list_choice_text(title, text_of(reply.get("description")))
        return InboundMessage(kind=Kind.LIST_REPLY, text=text, payload=text_of(reply.get("id")), **common)
    if reply_type == "nfmReply":
        answer = text_of(object_of(interactive.get("nfmReply")).get("responseJson"))
        text = f"[The customer completed a WhatsApp Flow.] {answer}".strip()
        return InboundMessage(kind=Kind.UNSUPPORTED, text=text, **common)
    if reply_type == "callPermissionReply":
        decision = text_of(object_of(interactive.get("callPermissionReply")).get("response")) or "answered"
        text = f"[The customer {'allowed' if decision == 'accept' else 'did not allow'} WhatsApp calls.]"
        return InboundMessage(kind=Kind.UNSUPPORTED, text=text, **common)
    note = f"[The customer sent an interactive {reply_type or 'reply'} Switchboard cannot show yet.]"
    return InboundMessage(kind=Kind.UNSUPPORTED, text=note, **common)


def _receipt(payload: dict) -> StatusReport:
    status = object_of(payload.get("status"))
    state = text_of(status.get("state")).strip().lower()
    common: dict[str, Any] = {
        "provider_message_id": _id(payload, "umid"),
        "client_message_id": text_of(payload.get("clientMessageId")).strip(),
        "reported_at": _timestamp(status.get("timestamp")),
        "raw": payload,
    }
    if state == "delivered":
        channel = text_of(payload.get("channel")).strip().lower()
        detail = text_of(status.get("detail")).strip().lower()
        if (channel, detail) in NOT_YET_DELIVERED:
            return StatusReport(status=ReportStatus.PENDING, **common)
        return StatusReport(status=ReportStatus.DELIVERED, **common)
    if state == "read":
        return StatusReport(status=ReportStatus.READ, **common)
    if state in PENDING_STATES:
        return StatusReport(status=ReportStatus.PENDING, **common)
    if state not in FAILED_STATES:
        raise ValueError(f"status.state {_shown(status.get('state'))} is not one 8x8 documents")
    code = number_of(status.get("errorCode"))
    code_text = str(int(code)) if code is not None and code == int(code) else text_of(status.get("errorCode"))
    return StatusReport(
        status=ReportStatus.FAILED,
        error_code=code_text[:60],
        error_message=failure_reason(state, code, text_of(status.get("errorMessage"))),
        permanent=True,
        **common,
    )


def failure_reason(state: str, code: float | None, said: str) -> str:
    """Why a message did not arrive, in words an agent can act on."""
    detail = said.strip().rstrip(".")[:300]
    if code == SESSION_EXPIRED:
        return (
            "Not delivered: the customer's last message is more than 24 hours old, so WhatsApp only accepts "
            f"an approved template now. Send a template instead. (8x8 error 61: {detail or 'session expired'})"
        )
    opening = "Rejected before sending" if state == "rejected" else "Not delivered"
    suffix = f" (8x8 error {int(code)})" if code is not None and code == int(code) else ""
    return f"{opening}: {detail}{suffix}." if detail else f"{opening}{suffix}."


def _id(data: dict, key: str, *, where: str = "") -> str:
    value = text_of(data.get(key)).strip()
    if not value:
        raise ValueError(f"{where or 'payload.' + key} is missing")
    if len(value) > ID_MAX or not value.isprintable():
        raise ValueError(f"{where or 'payload.' + key} is not an 8x8 identifier")
    return value


def _timestamp(value: Any) -> datetime | None:
    text = text_of(value).strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _shown(value: Any) -> str:
    text = text_of(value)
    return repr(text[:40]) if text else "(none)"
