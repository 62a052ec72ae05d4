"""WhatsApp template send rules beyond the schema, and how a template looks on the customer's phone.

Two kinds of checks (providers.md §1.3, list item 3):

* ``format_errors``: what Infobip documents as synchronous 400s (examples in its OpenAPI file): header
  TEXT placeholder whitespace, media URLs that are not http(s), empty placeholder values, the template
  name's character set and the button count limits.
* ``template_errors``: the checks against the registered template (exists for sender + language, is
  APPROVED, placeholder count, header type, dynamic buttons in order). Whether Infobip makes these
  synchronous is an open question; the account's ``template_checks`` chooses STRICT (400) or ASYNC
  (200, then a failed delivery report).
"""

from __future__ import annotations

import re

from . import errors as e

PLACEHOLDER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
NAME_RE = re.compile(r"^[a-z0-9_]+$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
MEDIA_HEADERS = ("IMAGE", "DOCUMENT", "VIDEO", "GIF")


def placeholder_count(text: str | None) -> int:
    numbers = {int(n) for n in PLACEHOLDER_RE.findall(text or "")}
    return max(numbers) if numbers else 0


def dynamic_buttons(structure: dict) -> list[str]:
    """Types of the buttons a send must fill, in registered order (quick replies and dynamic URLs)."""
    out = []
    for button in structure.get("buttons") or []:
        if button.get("type") == "QUICK_REPLY":
            out.append("QUICK_REPLY")
        elif button.get("type") == "URL" and PLACEHOLDER_RE.search(button.get("url", "")):
            out.append("URL")
        elif button.get("type") in ("COPY_CODE", "FLOW"):
            out.append(button["type"])
    return out


def format_errors(content: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = content.get("templateName", "")
    if name and not NAME_RE.match(name):
        errors["content.templateName"] = [
            "must contain only lowercase alphanumeric characters and underscores"
        ]
    data = content.get("templateData") or {}
    for i, value in enumerate((data.get("body") or {}).get("placeholders") or []):
        if isinstance(value, str) and not value.strip():
            errors[f"content.templateData.body.placeholders[{i}]"] = ["must not be blank"]
    header = data.get("header") or {}
    if header.get("type") == "TEXT" and isinstance(header.get("placeholder"), str):
        text = header["placeholder"]
        if re.search(r"[\n\t]| {5,}", text):
            errors["content.templateData.header.placeholder"] = [
                "cannot have new-line/tab characters or more than 4 consecutive spaces"
            ]
    media_url = header.get("mediaUrl") if header.get("type") in MEDIA_HEADERS else None
    if isinstance(media_url, str) and media_url and not URL_RE.match(media_url):
        errors.setdefault("content.templateData.header.mediaUrl", []).append("is not a valid url")
    buttons = data.get("buttons") or []
    kinds = [b.get("type") for b in buttons if isinstance(b, dict)]
    limits = {"URL": 2, "COPY_CODE": 1, "FLOW": 1}
    if len(buttons) > 10 or any(kinds.count(kind) > limit for kind, limit in limits.items()):
        errors["content.templateData.buttons"] = [
            "can have up to ten buttons including a maximum of two dynamic URL buttons, "
            "one copy code button and one flow button"
        ]
    exclusive = {"CATALOG", "MULTI_PRODUCT", "ORDER_DETAILS"}
    if len(buttons) > 1 and exclusive & set(kinds):
        errors["content.templateData.buttons"] = [
            "catalog, multi product or order details button needs to be the only button"
        ]
    return errors


def template_errors(
    template: dict | None, content: dict, sender: str
) -> tuple[dict[str, list[str]], dict | None]:
    """Mismatches with the registered template: ({path: [messages]}, the DLR error to report)."""
    name, language = content.get("templateName"), content.get("language")
    if template is None:
        return {
            "content.templateName": [
                f"template {name!r} in language {language!r} does not exist for sender {sender}"
            ]
        }, e.TEMPLATE_ERROR
    if template["status"] != "APPROVED":
        return {
            "content.templateName": [f"template {name!r} is not approved (status {template['status']})"]
        }, e.TEMPLATE_ERROR
    errors: dict[str, list[str]] = {}
    structure = template["structure"]
    data = content.get("templateData") or {}
    expected = placeholder_count((structure.get("body") or {}).get("text"))
    given = len((data.get("body") or {}).get("placeholders") or [])
    if given != expected:
        errors["content.templateData.body.placeholders"] = [
            f"template expects {expected} placeholders, got {given}"
        ]
    registered = structure.get("header") or {}
    header = data.get("header")
    fmt = registered.get("format")
    needs_header = fmt in ("IMAGE", "DOCUMENT", "VIDEO", "LOCATION") or (
        fmt == "TEXT" and placeholder_count(registered.get("text")) > 0
    )
    if header and not fmt:
        errors["content.templateData.header"] = ["template has no header"]
    elif header and header.get("type") != fmt:
        errors["content.templateData.header.type"] = [
            f"template header format is {fmt}, got {header.get('type')}"
        ]
    elif needs_header and not header:
        errors["content.templateData.header"] = [f"template has a {fmt} header that needs a value"]
    wanted = dynamic_buttons(structure)
    got = [b.get("type") for b in data.get("buttons") or []]
    if got != wanted:
        errors["content.templateData.buttons"] = [
            f"template expects dynamic buttons [{', '.join(wanted)}] in this order, got [{', '.join(got)}]"
        ]
    return errors, (e.TEMPLATE_PARAMS_ERROR if errors else None)


def fill(text: str, values: list[str]) -> str:
    def value(match):
        index = int(match.group(1)) - 1
        return values[index] if 0 <= index < len(values) else match.group(0)

    return PLACEHOLDER_RE.sub(value, text or "")


def render(template: dict | None, content: dict) -> dict:
    """What the phone shows for a template message: header, body, footer and buttons, values filled in."""
    data = content.get("templateData") or {}
    if template is None:
        return {"template": content.get("templateName"), "body": f"[template {content.get('templateName')}]"}
    structure = template["structure"]
    placeholders = [str(p) for p in (data.get("body") or {}).get("placeholders") or []]
    shown: dict = {
        "template": template["name"],
        "language": template["language"],
        "body": fill((structure.get("body") or {}).get("text", ""), placeholders),
    }
    registered = structure.get("header") or {}
    header = data.get("header") or {}
    if registered.get("format") == "TEXT":
        shown["header"] = {
            "format": "TEXT",
            "text": fill(registered.get("text", ""), [header.get("placeholder", "")]),
        }
    elif registered.get("format"):
        shown["header"] = {
            "format": registered["format"],
            "media_url": header.get("mediaUrl") or registered.get("example", ""),
            "filename": header.get("filename", ""),
        }
    if structure.get("footer"):
        shown["footer"] = structure["footer"].get("text", "")
    given = list(data.get("buttons") or [])
    buttons = []
    for button in structure.get("buttons") or []:
        item = {"type": button.get("type"), "text": button.get("text", "")}
        dynamic = button.get("type") == "QUICK_REPLY" or (
            button.get("type") == "URL" and PLACEHOLDER_RE.search(button.get("url", ""))
        )
        parameter = given.pop(0).get("parameter") if dynamic and given else None
        if button.get("type") == "QUICK_REPLY":
            item["payload"] = parameter or button.get("text", "")
        elif button.get("type") == "URL":
            item["url"] = fill(button.get("url", ""), [parameter or ""])
        elif button.get("type") == "PHONE_NUMBER":
            item["phone_number"] = button.get("phoneNumber", "")
        buttons.append(item)
    if buttons:
        shown["buttons"] = buttons
    return shown
