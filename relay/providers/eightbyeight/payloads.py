"""Request bodies for 8x8 Chat Apps (``POST /api/v1/subaccounts/{subAccountId}/messages``), written from
8x8's OpenAPI file (``shared/reference/8x8-openapi/business_messaging_api.json``; providers.md §2).

8x8 sends through a sub-account and picks the channel with ``channels: [{"channel": "WhatsApp"}]``; the
customer is ``user.msisdn`` in E.164 with ``+``. Templates use Meta-style components. A free-form WhatsApp
``text`` may be matched to a registered template by 8x8; a template is always sent as ``type: template``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ..base import Button, OutboundContent, TemplateValues
from ..choices import ROW_ID_MAX, list_rows, reply_titles_fit, unique_ids

#: The regional API hosts (the file's ``servers``): the region an admin picks is the account's base URL.
REGIONS = {
    "apac": ("Asia-Pacific", "https://chatapps.8x8.com"),
    "na": ("North America", "https://chatapps.us.8x8.com"),
    "eu": ("Europe", "https://chatapps.8x8.uk"),
    "id": ("Indonesia", "https://chatapps.8x8.id"),
}
API_CHANNEL = {"whatsapp": "WhatsApp", "sms": "SMS", "viber": "Viber"}  # the file's channel enumeration
TEXT_MAX = 4096  # WhatsApp's free-form limit (providers.md §5); Viber and SMS allow less than 8x8's own cap
CLIENT_ID_MAX = 50  # clientMessageId: "≤50 chars"
REPLY_BUTTONS_MAX = 3  # reply titles and ids: relay/providers/choices.py
LIST_ROWS_MAX = 10  # a row's title, description and id: relay/providers/choices.py
CTA_TEXT_MAX = 20
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
BSUID = re.compile(
    r"[A-Z]{2}\.[A-Za-z0-9]{1,128}"
)  # "<ISO-3166 alpha-2>.<alphanumeric>" (the file's channelUserId)
INTERACTIVE_BODY_MAX = 1024
MEDIA_TYPES = (("image/", "image"), ("video/", "video"), ("audio/", "audio"))


class ContentError(ValueError):
    """What an agent's message cannot become on 8x8, in words the agent can act on."""


def message(
    channel: str, to: str, content: OutboundContent, message_id: str, *, buttons: list[dict] | None = None
) -> dict:
    """The whole send request body for one message on ``channel`` (whatsapp, sms, viber); ``buttons``: the
    registered template's, when its button indexes are needed."""
    if channel not in API_CHANNEL:
        raise ContentError(f"8x8 cannot send on the {channel} channel.")
    kind, body = _content(channel, content, buttons)
    request = {
        "user": user(channel, to),
        "type": kind,
        "content": body,
        "channels": [{"channel": API_CHANNEL[channel]}],
    }
    if message_id:
        request["clientMessageId"] = message_id[:CLIENT_ID_MAX]
    return request


def user(channel: str, to: str) -> dict:
    """``user``: an E.164 number with ``+`` (8x8 error 1002 otherwise), or on WhatsApp a BSUID."""
    if E164.fullmatch(to):
        return {"msisdn": to}
    if channel == "whatsapp" and BSUID.fullmatch(to):
        return {"channelUserId": to}
    raise ContentError(f"{to[:40]!r} is not an international number with + (E.164), which 8x8 needs.")


def _content(channel: str, content: OutboundContent, buttons: list[dict] | None) -> tuple[str, dict]:
    if content.kind == "template":
        if channel != "whatsapp":
            raise ContentError("Templates are WhatsApp's: on SMS and Viber send text instead.")
        return "template", {"template": template(_values(content), buttons)}
    if content.kind == "media":
        if not content.media_url:
            raise ContentError("The attachment has no URL to send.")
        body = {"url": content.media_url}
        if content.text.strip():
            body["text"] = content.text.strip()
        return media_type(content.media_mime_type, content.media_url), body
    if content.kind == "choices":
        if channel == "whatsapp":
            interactive = whatsapp_choices(content.text, content.buttons)
            if interactive is not None:
                return "interactive", {"interactive": interactive}
        return "text", {"text": _text(text_with_choices(content.text, content.buttons))}
    return "text", {"text": _text(content.text)}


def _text(text: str) -> str:
    if not text.strip():
        raise ContentError("The message is empty: 8x8 needs some text.")
    if len(text) > TEXT_MAX:
        raise ContentError(f"The message has {len(text)} characters; 8x8 sends at most {TEXT_MAX}.")
    return text


def media_type(mime: str, url: str) -> str:
    """8x8's content type for a file: image, video, audio, else file (a document)."""
    mime = (mime or "").lower()
    for prefix, kind in MEDIA_TYPES:
        if mime.startswith(prefix):
            return kind
    if not mime:
        path = urlsplit(url).path.lower()
        if path.endswith((".jpg", ".jpeg", ".png")):
            return "image"
        if path.endswith((".mp4", ".3gp")):
            return "video"
    return "file"


def whatsapp_choices(text: str, buttons: list[Button]) -> dict | None:
    """An interactive message: reply buttons (≤3, titles ≤20), a list (≤10 rows), a URL button (one);
    None when none fits (the choices then go as numbered text)."""
    body = {"text": text.strip() or "Please choose:"}
    if len(body["text"]) > INTERACTIVE_BODY_MAX:
        return None  # the question goes as text with numbered choices
    links = [b for b in buttons if b.url]
    if links:
        if len(buttons) == 1 and len(links[0].title) <= CTA_TEXT_MAX:
            action = {"parameters": {"display_text": links[0].title, "url": links[0].url}}
            return {"type": "cta_url", "body": body, "action": action}
        return None
    ids = unique_ids(buttons, ROW_ID_MAX)  # within both the reply (256) and the row (200) limits
    if len(buttons) <= REPLY_BUTTONS_MAX and reply_titles_fit(
        buttons, emoji=True
    ):  # 8x8: "Emojis are supported"
        replies = [
            {"type": "reply", "reply": {"id": ids[i], "title": b.title}} for i, b in enumerate(buttons)
        ]
        return {"type": "button", "body": body, "action": {"buttons": replies}}
    if len(buttons) <= LIST_ROWS_MAX:
        rows = list_rows(buttons, ids)
        return {"type": "list", "body": body, "action": {"button": "Choose", "sections": [{"rows": rows}]}}
    return None


def text_with_choices(text: str, buttons: list[Button]) -> str:
    lines = [text.strip()] if text.strip() else []
    for index, button in enumerate(buttons, start=1):
        lines.append(f"{index}. {button.title}" + (f": {button.url}" if button.url else ""))
    return "\n".join(lines)


def _values(content: OutboundContent) -> TemplateValues:
    if content.template is None or not content.template.name:
        raise ContentError("A template message needs the template's name, language and values.")
    return content.template


def template(values: TemplateValues, buttons: list[dict] | None = None) -> dict:
    """``content.template``: name, language and Meta-style components with their parameters. ``buttons``
    are the registered template's buttons (``structure()["buttons"]``), which fix each button's index."""
    components: list[dict] = []
    if values.header_media_url:
        kind = values.header_media_type.lower() or "image"
        if kind not in ("image", "video", "document"):
            raise ContentError(f"A template header is image, video or document media, not {kind}.")
        components.append({"type": "header", "parameters": [{"type": kind, "url": values.header_media_url}]})
    elif values.header_text_placeholder:
        components.append(
            {"type": "header", "parameters": [{"type": "text", "text": values.header_text_placeholder}]}
        )
    if values.body_placeholders:
        parameters = [{"type": "text", "text": value} for value in values.body_placeholders]
        components.append({"type": "body", "parameters": parameters})
    url_indexes, reply_indexes = button_indexes(values, buttons)
    for index, suffix in zip(url_indexes, values.url_button_parameters, strict=True):
        components.append(
            {
                "type": "button",
                "index": index,
                "subType": "Url",
                "parameters": [{"type": "text", "text": suffix}],
            }
        )
    for index, payload in zip(reply_indexes, values.quick_reply_payloads, strict=True):
        components.append(
            {
                "type": "button",
                "index": index,
                "subType": "QuickReply",
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    return {"name": values.name, "language": values.language, "components": components}


def button_indexes(values: TemplateValues, buttons: list[dict] | None) -> tuple[list[int], list[int]]:
    """The ``index`` (position in the registered template) of each dynamic URL button and each quick reply.
    Without the registration: URL buttons first, then quick replies, as the panel lists them."""
    urls, replies = len(values.url_button_parameters), len(values.quick_reply_payloads)
    if buttons:
        dynamic = [i for i, b in enumerate(buttons) if b.get("type") == "URL" and "{{" in str(b.get("url"))]
        quick = [i for i, b in enumerate(buttons) if b.get("type") == "QUICK_REPLY"]
        if len(dynamic) == urls and len(quick) == replies:
            return dynamic, quick
    if urls + replies > 10:
        raise ContentError("A WhatsApp template has at most 10 buttons.")
    return list(range(urls)), list(range(urls, urls + replies))


def structure(components: Any) -> dict:  # JSON from 8x8: anything but a list reads as no components
    """A registered template's components in the shape the template panel reads (header / body / footer /
    buttons, relay/outbound/template_values.py)."""
    out: dict = {}
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type") or "").upper()
        if kind == "HEADER":
            out["header"] = {
                "format": str(component.get("format") or "TEXT").upper(),
                "text": component.get("text") or "",
            }
        elif kind == "BODY":
            out["body"] = {"text": str(component.get("text") or "")}
            example = found if isinstance(found := component.get("example"), dict) else {}
            if isinstance(example.get("bodyText"), list):
                out["body"]["examples"] = [str(e) for e in example["bodyText"]]
        elif kind == "FOOTER":
            out["footer"] = {"text": str(component.get("text") or "")}
        elif kind == "BUTTONS":
            out["buttons"] = [
                {
                    "type": str(b.get("type") or "").upper(),
                    "text": str(b.get("text") or ""),
                    "url": str(b.get("url") or ""),
                }
                for b in component.get("buttons") or []
                if isinstance(b, dict)
            ]
    return out
