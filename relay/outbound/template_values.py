"""WhatsApp templates: which values a template needs (from its registered structure), their validation, the
:class:`TemplateValues` a send carries, and the preview and text that show what the customer will see.

Values are a flat dict of field names, the same in the template panel's form and the partner API:

=====================  =====================================================================
``header_text``        the header's ``{{1}}`` (TEXT headers with a placeholder)
``header_media_url``   IMAGE, VIDEO and DOCUMENT headers: a public https URL of the file
``header_filename``    DOCUMENT headers: the file name the customer sees (optional)
``body_1`` ...         each body placeholder ``{{1}}``, ``{{2}}``, ...
``url_1`` ...          the ``{{1}}`` of each dynamic URL button, in the template's order
``reply_1`` ...        the payload of each quick-reply button, in order (1–128 characters)
=====================  =====================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from ..providers.base import TemplateValues

PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT")
PAYLOAD_MAX = 128
PARAMETER_MAX = 1024  # Meta's limit for one body parameter
HEADER_TEXT_MAX = 60  # Meta's limit for the whole text header
FILENAME_MAX = 240
URL_MAX = 2000
# Meta refuses parameters with new lines, tabs or more than four spaces in a row (error 132018).
PARAMETER_LAYOUT = re.compile(r"[\n\t]| {5,}")
LIST_ALIASES = {"body": "body_", "url_buttons": "url_", "quick_replies": "reply_"}


@dataclass(frozen=True)
class FieldSpec:
    """One value a template needs, as the panel shows it."""

    name: str
    label: str
    kind: str  # text | media_url | filename | url_parameter | payload
    required: bool = True
    max_length: int = PARAMETER_MAX
    hint: str = ""
    example: str = ""
    initial: str = ""
    pickable: bool = False  # Salesforce values may be inserted


@dataclass(frozen=True)
class ButtonShape:
    type: str  # QUICK_REPLY | URL | PHONE_NUMBER | COPY_CODE | ...
    text: str
    url: str = ""
    phone_number: str = ""
    field_name: str = ""  # the value that fills it, for dynamic buttons

    @property
    def dynamic(self) -> bool:
        return bool(self.field_name)


@dataclass(frozen=True)
class TemplateShape:
    header_format: str  # "", TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION, ...
    header_text: str
    body_text: str
    footer: str
    buttons: list[ButtonShape]
    fields: list[FieldSpec]
    unsupported: str = ""  # why Switchboard cannot send this template, if it cannot

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def fields_of(self, kind: str) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind == kind]


def placeholder_numbers(text: str) -> list[int]:
    """``{{1}}``..``{{n}}``: WhatsApp numbers placeholders from 1 without gaps, so n values are needed."""
    numbers = {int(n) for n in PLACEHOLDER.findall(text or "")}
    return list(range(1, max(numbers) + 1)) if numbers else []


def shape_of(structure: dict) -> TemplateShape:
    """What a registered template (the provider's ``structure``) looks like and which values it needs."""
    structure = structure if isinstance(structure, dict) else {}
    header = part if isinstance(part := structure.get("header"), dict) else {}
    body = part if isinstance(part := structure.get("body"), dict) else {}
    footer = part if isinstance(part := structure.get("footer"), dict) else {}
    header_format = str(header.get("format") or "").upper()
    fields: list[FieldSpec] = []
    unsupported = ""
    if header_format == "TEXT" and placeholder_numbers(header.get("text", "")):
        fields.append(
            FieldSpec(
                "header_text",
                "Header {{1}}",
                "text",
                max_length=HEADER_TEXT_MAX,
                example=str(header.get("example") or ""),
                pickable=True,
            )
        )
    elif header_format in MEDIA_HEADERS:
        kind = header_format.lower()
        fields.append(
            FieldSpec(
                "header_media_url",
                f"Header {kind} URL",
                "media_url",
                max_length=URL_MAX,
                hint=f"A public https:// link to the {kind}; WhatsApp downloads it when sending.",
                example=str(header.get("example") or ""),
            )
        )
        if header_format == "DOCUMENT":
            fields.append(
                FieldSpec(
                    "header_filename",
                    "Document file name",
                    "filename",
                    required=False,
                    max_length=FILENAME_MAX,
                    hint="What the customer sees; empty: the name in the link.",
                )
            )
    elif header_format:
        unsupported = f"Its {header_format.lower()} header cannot be sent from Switchboard yet."
    body_examples = examples if isinstance(examples := body.get("examples"), list) else []
    for number in placeholder_numbers(body.get("text", "")):
        example = body_examples[number - 1] if number <= len(body_examples) else ""
        fields.append(
            FieldSpec(f"body_{number}", f"Body {{{{{number}}}}}", "text", example=str(example), pickable=True)
        )
    buttons: list[ButtonShape] = []
    url_count = reply_count = 0
    for raw in structure.get("buttons") or []:
        if not isinstance(raw, dict):
            continue
        kind = str(raw.get("type") or "").upper()
        text = str(raw.get("text") or "")
        url = str(raw.get("url") or "")
        if kind == "QUICK_REPLY":
            reply_count += 1
            name = f"reply_{reply_count}"
            fields.append(
                FieldSpec(
                    name,
                    f"Quick reply “{text}” payload",
                    "payload",
                    max_length=PAYLOAD_MAX,
                    hint="Comes back to you when the customer taps the button (1–128 characters).",
                    initial=text[:PAYLOAD_MAX],
                )
            )
            buttons.append(ButtonShape(kind, text, field_name=name))
        elif kind == "URL" and PLACEHOLDER.search(url):
            url_count += 1
            name = f"url_{url_count}"
            fields.append(
                FieldSpec(
                    name,
                    f"“{text}” link: {{{{1}}}} in {url}",
                    "url_parameter",
                    max_length=URL_MAX,
                    example=_url_example(url, str(raw.get("example") or "")),
                    pickable=True,
                )
            )
            buttons.append(ButtonShape(kind, text, url=url, field_name=name))
        elif kind in ("URL", "PHONE_NUMBER"):
            buttons.append(ButtonShape(kind, text, url=url, phone_number=str(raw.get("phoneNumber") or "")))
        else:
            buttons.append(ButtonShape(kind, text))
            unsupported = unsupported or f"Its {kind.lower().replace('_', ' ')} button cannot be sent yet."
    return TemplateShape(
        header_format=header_format,
        header_text=str(header.get("text") or ""),
        body_text=str(body.get("text") or ""),
        footer=str(footer.get("text") or ""),
        buttons=buttons,
        fields=fields,
        unsupported=unsupported,
    )


def _url_example(url: str, example: str) -> str:
    """The part of a registered example URL that fills ``{{1}}`` (``https://x/{{1}}`` + ``https://x/42`` → 42)."""
    prefix = url.split("{{", 1)[0]
    return example[len(prefix) :] if example.startswith(prefix) else ""


def initial_values(shape: TemplateShape) -> dict[str, str]:
    return {f.name: f.initial for f in shape.fields if f.initial}


def normalize_values(values: dict | None) -> dict[str, str]:
    """Flat field names; the partner API may also give ``body``/``url_buttons``/``quick_replies`` lists."""
    flat: dict[str, str] = {}
    for key, value in (values or {}).items():
        if key in LIST_ALIASES and isinstance(value, list | tuple):
            for index, item in enumerate(value, start=1):
                flat[f"{LIST_ALIASES[key]}{index}"] = "" if item is None else str(item)
        elif value is not None and not isinstance(value, dict | list | tuple):
            flat[str(key)] = str(value)
    return flat


# --- validation ------------------------------------------------------------------------------------


def clean_values(shape: TemplateShape, values: dict | None) -> dict[str, str]:
    """The values the template needs, checked; raises ValidationError({field: message}) listing every
    problem at once. Values the template does not use are refused too (a typo would otherwise go unseen)."""
    given = normalize_values(values)
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for spec in shape.fields:
        raw = given.get(spec.name, "")
        value = raw if spec.kind == "payload" else raw.strip()
        problem = _problem(spec, value, shape)
        if problem:
            errors[spec.name] = problem
        cleaned[spec.name] = value
    unknown = sorted(set(given) - set(shape.field_names))
    for name in unknown:
        if given[name].strip():
            errors[name] = "This template has no such value."
    if errors:
        raise ValidationError(errors)
    return cleaned


def _problem(spec: FieldSpec, value: str, shape: TemplateShape) -> str:
    if not value.strip():
        if not spec.required:
            return ""
        if spec.kind == "payload":
            return f"Enter a payload of 1 to {PAYLOAD_MAX} characters."
        if spec.kind == "media_url":
            return f"Enter the https:// link of the {shape.header_format.lower()}."
        return "Enter a value: WhatsApp does not send a template with an empty placeholder."
    if len(value) > spec.max_length:
        if spec.kind == "payload":
            return f"A payload has at most {PAYLOAD_MAX} characters; this one has {len(value)}."
        return f"At most {spec.max_length} characters; this has {len(value)}."
    if spec.kind == "media_url":
        return media_url_problem(value, shape.header_format)
    if spec.kind == "filename" and ("/" in value or "\\" in value):
        return "A file name without / or \\, such as invoice-123.pdf."
    if spec.kind in ("text", "url_parameter") and PARAMETER_LAYOUT.search(value):
        return "WhatsApp refuses new lines, tabs or more than four spaces in a row here."
    if spec.kind == "text" and spec.name == "header_text":
        total = len(PLACEHOLDER.sub(value, shape.header_text))
        if total > HEADER_TEXT_MAX:
            return f"The header would have {total} characters; WhatsApp allows {HEADER_TEXT_MAX}."
    if spec.kind == "url_parameter":
        if re.search(r"\s", value):
            return "The link part cannot contain spaces."
        button = next(b for b in shape.buttons if b.field_name == spec.name)
        try:
            URLValidator(schemes=["https", "http"])(PLACEHOLDER.sub(value, button.url))
        except ValidationError:
            return f"This does not make a valid link with {button.url}."
    return ""


def media_url_problem(url: str, header_format: str = "") -> str:
    """Why WhatsApp could not fetch this header media URL, or ""."""
    kind = (header_format or "media").lower()
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"The {kind} link must start with https:// (WhatsApp fetches it from the internet)."
    try:
        URLValidator(schemes=["https"])(url)
    except ValidationError:
        return f"“{url[:80]}” is not a valid link to the {kind}."
    return ""


def template_values(name: str, language: str, structure: dict, values: dict | None) -> TemplateValues:
    """What the relay sends. Raises ValidationError({field: message}) for missing or bad values, or a
    template Switchboard cannot send."""
    shape = shape_of(structure)
    if shape.unsupported:
        raise ValidationError({"template": f"This template cannot be sent: {shape.unsupported}"})
    cleaned = clean_values(shape, values)
    media = shape.header_format in MEDIA_HEADERS
    return TemplateValues(
        name=name,
        language=language,
        body_placeholders=[cleaned[f.name] for f in shape.fields if f.name.startswith("body_")],
        header_text_placeholder=cleaned.get("header_text", ""),
        header_media_url=cleaned.get("header_media_url", "") if media else "",
        header_media_type=shape.header_format if media else "",
        header_filename=cleaned.get("header_filename", "") if shape.header_format == "DOCUMENT" else "",
        url_button_parameters=[cleaned[f.name] for f in shape.fields_of("url_parameter")],
        quick_reply_payloads=[cleaned[f.name] for f in shape.fields_of("payload")],
        rendered_text=preview_text(preview(name, structure, cleaned)),
    )


# --- preview ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    text: str
    missing: bool = False  # an unfilled placeholder, shown highlighted


@dataclass(frozen=True)
class PreviewButton:
    type: str
    text: str
    target: str = ""  # the link or phone number, when it has one


@dataclass(frozen=True)
class Preview:
    name: str
    header_format: str = ""
    header: list[Segment] = field(default_factory=list)
    media_url: str = ""
    media_filename: str = ""
    body: list[Segment] = field(default_factory=list)
    footer: str = ""
    buttons: list[PreviewButton] = field(default_factory=list)

    @property
    def header_text(self) -> str:
        return "".join(s.text for s in self.header)

    @property
    def body_text(self) -> str:
        return "".join(s.text for s in self.body)


def _segments(text: str, values: list[str]) -> list[Segment]:
    out: list[Segment] = []
    position = 0
    for match in PLACEHOLDER.finditer(text or ""):
        if match.start() > position:
            out.append(Segment(text[position : match.start()]))
        index = int(match.group(1)) - 1
        value = values[index] if 0 <= index < len(values) else ""
        out.append(Segment(value, False) if value.strip() else Segment(match.group(0), True))
        position = match.end()
    if position < len(text or ""):
        out.append(Segment(text[position:]))
    return out


def preview(name: str, structure: dict, values: dict | None) -> Preview:
    """The message as WhatsApp shows it, with whatever values are entered so far (unfilled ones marked)."""
    shape = shape_of(structure)
    given = normalize_values(values)
    body_values = [given.get(f"body_{n}", "") for n in placeholder_numbers(shape.body_text)]
    header: list[Segment] = []
    media_url = media_filename = ""
    if shape.header_format == "TEXT":
        header = _segments(shape.header_text, [given.get("header_text", "")])
    elif shape.header_format in MEDIA_HEADERS:
        media_url = given.get("header_media_url", "").strip()
        media_filename = given.get("header_filename", "").strip()
        if shape.header_format == "DOCUMENT" and not media_filename and media_url:
            media_filename = urlsplit(media_url).path.rstrip("/").rsplit("/", 1)[-1]
    buttons = []
    for button in shape.buttons:
        target = button.phone_number
        if button.type == "URL":
            parameter = given.get(button.field_name, "").strip() if button.dynamic else ""
            target = PLACEHOLDER.sub(parameter or "{{1}}", button.url) if button.dynamic else button.url
        buttons.append(PreviewButton(button.type, button.text, target))
    return Preview(
        name=name,
        header_format=shape.header_format,
        header=header,
        media_url=media_url,
        media_filename=media_filename,
        body=_segments(shape.body_text, body_values),
        footer=shape.footer,
        buttons=buttons,
    )


def preview_text(shown: Preview) -> str:
    """The message as plain text: what the message row, the admin and the panel's history show."""
    lines = [f"[WhatsApp template {shown.name}]"]
    if shown.media_url:
        kind = shown.header_format.lower()
        lines.append(f"{kind}: {shown.media_filename or shown.media_url}")
    elif shown.header_text:
        lines.append(shown.header_text)
    lines.append(shown.body_text)
    if shown.footer:
        lines.append(shown.footer)
    for button in shown.buttons:
        lines.append(f"[{button.text}{': ' + button.target if button.target else ''}]")
    return "\n".join(line for line in lines if line)
