"""Checks of what an Enhanced Chat client sends: every field it names, before anything changes.

Each check raises :class:`ApiError` (400 unless said otherwise) naming the field, so a bad request
gets a clear answer and changes nothing.
"""

from __future__ import annotations

import re

from starlette.requests import Request

from ..inputs import parse_json
from .state import ApiError

ORG_ID15_RE = re.compile(r"^00D[0-9A-Za-z]{12}$")
DEVELOPER_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
LOWER_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PLATFORMS = ("Web", "iOS", "Android")
MAX_JSON_BYTES = 1024 * 1024
MAX_TEXT_CHARS = 32_000  # undocumented: our choice (ConversationEntry.Message is a 32k long text)
MAX_ATTRIBUTE_CHARS = 4_000
MAX_ACKS = 25
MAX_ATTRIBUTES = 100  # hidden pre-chat fields per request (undocumented: our bound on hostile input)


def digits(value: str) -> bool:
    """Whether ``value`` is a plain decimal number (``str.isdigit`` also takes "²", which int() refuses)."""
    return value.isascii() and value.isdigit()


async def json_object(request: Request) -> dict:
    """The request's JSON object body, read no further than the size limit."""
    declared = request.headers.get("content-length", "")
    if digits(declared) and int(declared) > MAX_JSON_BYTES:
        raise ApiError(413, "The request body is too large.")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_JSON_BYTES:
            raise ApiError(413, "The request body is too large.")
    try:
        data = parse_json(bytes(raw) or b"{}")
    # RecursionError: arrays or objects nested deeper than the parser goes
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


def required_string(data: dict, name: str, pattern: re.Pattern | None = None) -> str:
    value = string(data, name, pattern=pattern)
    assert value is not None  # string() raises when a required field is missing
    return value


def string(data: dict, name: str, *, required: bool = True, pattern: re.Pattern | None = None) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"{name} is required.")
        return None
    if not isinstance(value, str) or len(value) > 255 or (pattern is not None and not pattern.match(value)):
        raise ApiError(400, f"{name} is invalid.")
    return value


def conversation_id(value: object) -> str:
    if not isinstance(value, str) or not LOWER_UUID_RE.match(value):
        raise ApiError(400, "conversationId must be a UUID in lowercase.")
    return value


def flag(data: dict, name: str) -> bool:
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false.")
    return value


def routing_attributes(data: dict, allowed: list[str] | None) -> tuple[dict, dict]:
    """The hidden pre-chat fields sent: (taken, ignored). Values must be strings, numbers or booleans."""
    attributes = data.get("routingAttributes")
    if attributes is None:
        return {}, {}
    if not isinstance(attributes, dict):
        raise ApiError(400, "routingAttributes must be an object.")
    if len(attributes) > MAX_ATTRIBUTES:
        raise ApiError(400, f"routingAttributes may hold at most {MAX_ATTRIBUTES} fields.")
    taken: dict = {}
    ignored: dict = {}
    for key, value in attributes.items():
        if not key or len(key) > 255:
            raise ApiError(400, "routingAttributes has an invalid field name.")
        if isinstance(value, str):
            if len(value) > MAX_ATTRIBUTE_CHARS:
                raise ApiError(400, f"routingAttributes.{key} is too long.")
        elif value is not None and not isinstance(value, (bool, int, float)):
            raise ApiError(400, f"routingAttributes.{key} must be a string, number or boolean.")
        (taken if allowed is None or key in allowed else ignored)[key] = value
    return taken, ignored


def message(data: dict) -> dict:
    """The ``message`` of a send-message request: a Text StaticContentMessage or a ChoicesResponseMessage."""
    message = data.get("message")
    if not isinstance(message, dict):
        raise ApiError(400, "message is required.")
    identifier = message.get("id")
    if not isinstance(identifier, str) or not UUID_RE.match(identifier):
        raise ApiError(400, "message.id must be a UUID.")
    reply_to = message.get("inReplyToMessageId")
    if reply_to is not None and (not isinstance(reply_to, str) or len(reply_to) > 255):
        raise ApiError(400, "message.inReplyToMessageId is invalid.")
    kind = message.get("messageType")
    if kind == "StaticContentMessage":
        static = message.get("staticContent")
        if not isinstance(static, dict) or static.get("formatType") != "Text":
            raise ApiError(400, "message.staticContent.formatType must be Text (files go to /file).")
        text = static.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "message.staticContent.text is required.")
        if len(text) > MAX_TEXT_CHARS:
            raise ApiError(400, f"message.staticContent.text is longer than {MAX_TEXT_CHARS} characters.")
        content: dict = {"staticContent": {"formatType": "Text", "text": text}}
    elif kind == "ChoicesResponseMessage":
        response = message.get("choicesResponse")
        options = response.get("selectedOptions") if isinstance(response, dict) else None
        if not isinstance(options, list) or not 1 <= len(options) <= 10:
            raise ApiError(400, "message.choicesResponse.selectedOptions must list 1 to 10 options.")
        chosen = []
        for option in options:
            if not isinstance(option, dict) or not isinstance(option.get("optionIdentifier"), str):
                raise ApiError(400, "each selected option needs an optionIdentifier.")
            item = {"optionIdentifier": option["optionIdentifier"][:255]}
            if isinstance(option.get("title"), str):
                item["optionTitle"] = {"title": option["title"][:1000]}
            chosen.append(item)
        content = {"choicesResponse": {"formatType": "Selections", "selectedOptions": chosen}}
    else:
        raise ApiError(400, "message.messageType must be StaticContentMessage or ChoicesResponseMessage.")
    result = {"messageType": kind, "id": identifier, **content}
    if reply_to:
        result["inReplyToMessageId"] = reply_to
    return result


def bounded_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not digits(value) or not low <= int(value) <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def acks(data: dict) -> list[dict]:
    items = data.get("acks")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ACKS:
        raise ApiError(400, f"acks must list 1 to {MAX_ACKS} acknowledgements.")
    checked = []
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(400, "each ack must be an object.")
        if item.get("entryType") not in ("Delivery", "Read"):
            raise ApiError(400, "ack entryType must be Delivery or Read.")
        if not isinstance(item.get("id"), str) or not UUID_RE.match(item["id"]):
            raise ApiError(400, "ack id must be a UUID.")
        if not isinstance(item.get("conversationEntryId"), str):
            raise ApiError(400, "ack conversationEntryId is required.")
        checked.append(item)
    return checked
