"""Request bodies for Infobip sends, exactly as its OpenAPI file (v3.210.0) describes them.

Numbers go out without '+' (Infobip's international form). Our message id goes out as Infobip's
``messageId``, which Infobip echoes in the send answer and in every delivery/seen report, so a report maps
to our row even if we crashed between sending and storing the answer. Limits that Infobip would only
reject with a 400 are checked here first, with a message the agent can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..base import Button, OutboundContent, TemplateValues
from ..choices import ROW_ID_MAX, list_rows, reply_titles_fit, unique_ids

URL_IN_TEXT = re.compile(r"https?://\S+", re.IGNORECASE)
WHATSAPP_TEXT_MAX = 4096
WHATSAPP_CAPTION_MAX = 3000
INTERACTIVE_BODY_MAX = 1024
REPLY_BUTTONS_MAX = 3
LIST_ROWS_MAX = 10  # WhatsApp's limit for all sections together
VIBER_TEXT_MAX = 1000
WHATSAPP_IMAGE_TYPES = {"image/jpeg", "image/jpg", "image/png"}
WHATSAPP_VIDEO_TYPES = {"video/mp4", "video/3gpp"}
VIBER_IMAGE_TYPES = {"image/jpeg", "image/jpg", "image/png"}
# Viber FILE messages accept only these extensions (the schema's fileName pattern).
VIBER_FILE_NAME = re.compile(
    r".*\.(docx?|dotx?|xlsx?|f?ods|f?odt|rtf|odf|txt|info|pdf|xps|pdax|eps|csv|xlsm|xltx)$", re.IGNORECASE
)


class ContentError(ValueError):
    """The content cannot be sent on this channel as it is (too long, wrong kind). Retrying cannot help."""


@dataclass(frozen=True)
class Request:
    path: str
    body: dict


def number(value: str) -> str:
    """Infobip's form of an address: international numbers without the leading '+'; names (Viber,
    alphanumeric SMS) unchanged."""
    return value.strip().removeprefix("+")


# --- WhatsApp --------------------------------------------------------------------------------------------


def whatsapp(
    sender: str, to: str, content: OutboundContent, message_id: str, notify_url: str, *, button_order=None
) -> Request:
    """``button_order``: the template's dynamic button types in registered order (only needed when a
    template send has both URL and quick-reply parameters)."""
    envelope = {"from": number(sender), "to": number(to), "messageId": message_id}
    if notify_url:
        envelope["notifyUrl"] = notify_url
    if content.kind == "template":
        message = {**envelope, "content": template_content(_template(content), button_order)}
        return Request("/whatsapp/1/message/template", {"messages": [message]})
    if content.kind == "media":
        path, media = whatsapp_media(content)
        return Request(path, {**envelope, "content": media})
    if content.kind == "choices" and content.buttons:
        choice = whatsapp_choices(content.text, content.buttons)
        if choice is not None:
            path, body = choice
            return Request(path, {**envelope, "content": body})
        text = text_with_choices(content.text, content.buttons)
    else:
        text = content.text
    return Request("/whatsapp/1/message/text", {**envelope, "content": whatsapp_text(text)})


def whatsapp_text(text: str) -> dict:
    if not text.strip():
        raise ContentError("The message is empty: WhatsApp needs some text.")
    if len(text) > WHATSAPP_TEXT_MAX:
        raise ContentError(f"The message has {len(text)} characters; WhatsApp allows {WHATSAPP_TEXT_MAX}.")
    return {"text": text, "previewUrl": bool(URL_IN_TEXT.search(text))}


def whatsapp_media(content: OutboundContent) -> tuple[str, dict]:
    """The endpoint by MIME type: JPEG/PNG images, MP4/3GPP videos, audio; anything else as a document."""
    if not content.media_url:
        raise ContentError("The attachment has no URL to send.")
    mime = (content.media_mime_type or "").lower().split(";")[0].strip()
    caption = content.text or ""
    if len(caption) > WHATSAPP_CAPTION_MAX:
        raise ContentError(
            f"The caption has {len(caption)} characters; WhatsApp allows {WHATSAPP_CAPTION_MAX}."
        )
    if mime in WHATSAPP_IMAGE_TYPES:
        return "/whatsapp/1/message/image", _with_caption({"mediaUrl": content.media_url}, caption)
    if mime in WHATSAPP_VIDEO_TYPES:
        return "/whatsapp/1/message/video", _with_caption({"mediaUrl": content.media_url}, caption)
    if (
        mime.startswith("audio/") and not caption
    ):  # audio messages have no caption: keep the text as a document
        return "/whatsapp/1/message/audio", {"mediaUrl": content.media_url}
    document = _with_caption({"mediaUrl": content.media_url}, caption)
    if content.media_filename:
        document["filename"] = content.media_filename[:240]
    return "/whatsapp/1/message/document", document


def _with_caption(body: dict, caption: str) -> dict:
    return {**body, "caption": caption} if caption else body


def whatsapp_choices(text: str, buttons: list[Button]) -> tuple[str, dict] | None:
    """Reply buttons (up to 3 short titles) or a list (up to 10 rows); None when neither fits."""
    if any(button.url for button in buttons):
        return None  # URL buttons are not reply buttons: the links go in the text
    question = text.strip() or "Please choose:"
    if len(question) > INTERACTIVE_BODY_MAX:
        return None  # over the interactive body's limit: numbered text, within a text message's 4,096
    body = {"text": question}
    ids = unique_ids(buttons, ROW_ID_MAX)  # within both the reply (256) and the row (200) limits
    if len(buttons) <= REPLY_BUTTONS_MAX and reply_titles_fit(buttons, emoji=False):
        replies = [{"type": "REPLY", "id": ids[i], "title": b.title} for i, b in enumerate(buttons)]
        return "/whatsapp/1/message/interactive/buttons", {"body": body, "action": {"buttons": replies}}
    if len(buttons) <= LIST_ROWS_MAX:
        action = {"title": "Choose", "sections": [{"rows": list_rows(buttons, ids)}]}
        return "/whatsapp/1/message/interactive/list", {"body": body, "action": action}
    return None


def text_with_choices(text: str, buttons: list[Button]) -> str:
    """Choices as plain text, for channels (or counts) without buttons."""
    lines = [text.strip()] if text.strip() else []
    for index, button in enumerate(buttons, start=1):
        lines.append(f"{index}. {button.title}" + (f": {button.url}" if button.url else ""))
    return "\n".join(lines)


def _template(content: OutboundContent) -> TemplateValues:
    if content.template is None:
        raise ContentError("A template message needs the template's name, language and values.")
    return content.template


def template_content(values: TemplateValues, button_order: list[str] | None = None) -> dict:
    """``content`` of a template send: name, language, body placeholders, header, dynamic buttons."""
    data: dict = {"body": {"placeholders": list(values.body_placeholders)}}
    header = template_header(values)
    if header:
        data["header"] = header
    buttons = template_buttons(values, button_order)
    if buttons:
        data["buttons"] = buttons
    return {"templateName": values.name, "templateData": data, "language": values.language}


def template_header(values: TemplateValues) -> dict | None:
    if values.header_media_url:
        kind = (values.header_media_type or "IMAGE").upper()
        if kind not in ("IMAGE", "VIDEO", "DOCUMENT"):
            raise ContentError(f"A template header is IMAGE, VIDEO or DOCUMENT media, not {kind}.")
        header = {"type": kind, "mediaUrl": values.header_media_url}
        if kind == "DOCUMENT":
            header["filename"] = (values.header_filename or _name_from_url(values.header_media_url))[:240]
        return header
    if values.header_text_placeholder:
        return {"type": "TEXT", "placeholder": values.header_text_placeholder}
    return None


def template_buttons(values: TemplateValues, button_order: list[str] | None = None) -> list[dict]:
    """Dynamic buttons in the template's registered order (QUICK_REPLY payloads, URL suffixes)."""
    quick = [{"type": "QUICK_REPLY", "parameter": p} for p in values.quick_reply_payloads]
    urls = [{"type": "URL", "parameter": p} for p in values.url_button_parameters]
    if not button_order:  # one kind only: its order is the order given
        return quick + urls
    queues = {"QUICK_REPLY": quick, "URL": urls}
    ordered = [queues[kind].pop(0) for kind in button_order if kind in queues and queues[kind]]
    return ordered + quick + urls  # anything the registered order did not place goes last


def dynamic_button_order(structure: dict) -> list[str]:
    """The types of a registered template's buttons that a send fills, in order."""
    order = []
    for button in structure.get("buttons") or []:
        kind = button.get("type")
        if kind == "QUICK_REPLY" or (kind == "URL" and "{{" in str(button.get("url", ""))):
            order.append(kind)
    return order


def _name_from_url(url: str) -> str:
    name = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return name or "document.pdf"


# --- SMS and Viber ---------------------------------------------------------------------------------------


def plain_text(content: OutboundContent) -> str:
    """What a text-only channel shows for any content."""
    if content.kind == "template":
        values = _template(content)
        return values.rendered_text or " ".join([values.name, *values.body_placeholders])
    if content.kind == "choices":
        return text_with_choices(content.text, content.buttons)
    if content.kind == "media":
        return "\n".join(part for part in (content.text.strip(), content.media_url) if part)
    return content.text


def sms(sender: str, to: str, content: OutboundContent, message_id: str, notify_url: str) -> Request:
    """``POST /sms/3/messages``: Infobip's current SMS API (v2 ``/text/advanced`` is the legacy one)."""
    text = plain_text(content)
    if not text.strip():
        raise ContentError("The message is empty: an SMS needs some text.")
    message: dict = {
        "sender": number(sender),
        "destinations": [{"to": number(to), "messageId": message_id}],
        "content": {"text": text},
    }
    if notify_url:
        message["webhooks"] = {"delivery": {"url": notify_url}, "contentType": "application/json"}
    return Request("/sms/3/messages", {"messages": [message]})


def viber(sender: str, to: str, content: OutboundContent, message_id: str, notify_url: str) -> Request:
    """``POST /viber/2/messages``: TEXT, IMAGE (JPEG/PNG) or FILE (documents Viber accepts); else a link."""
    body = viber_content(content)
    message: dict = {
        "sender": number(sender),
        "destinations": [{"to": number(to), "messageId": message_id}],
        "content": body,
    }
    if notify_url:
        message["webhooks"] = {
            "delivery": {"url": notify_url},
            "seen": {"url": notify_url},
            "contentType": "application/json",
        }
    return Request("/viber/2/messages", {"messages": [message]})


def viber_content(content: OutboundContent) -> dict:
    mime = (content.media_mime_type or "").lower().split(";")[0].strip()
    caption = content.text.strip()
    if content.kind == "media" and content.media_url:
        if mime in VIBER_IMAGE_TYPES and len(content.media_url) <= 1000:
            image = {"type": "IMAGE", "mediaUrl": content.media_url}
            if caption:
                image["text"] = _viber_text(caption)
            return image
        if not caption and content.media_filename and VIBER_FILE_NAME.match(content.media_filename):
            return {"type": "FILE", "mediaUrl": content.media_url, "fileName": content.media_filename}
    text = plain_text(content)
    if not text.strip():
        raise ContentError("The message is empty: Viber needs some text.")
    return {"type": "TEXT", "text": _viber_text(text)}


def _viber_text(text: str) -> str:
    if len(text) > VIBER_TEXT_MAX:
        raise ContentError(f"The message has {len(text)} characters; Viber allows {VIBER_TEXT_MAX}.")
    return text
