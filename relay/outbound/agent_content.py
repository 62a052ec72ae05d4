"""What an agent's message becomes on the customer's channel: one table for every documented message type.

Salesforce's outbound ``abstractMessage`` has a ``messageType`` and, inside it, a ``formatType``
(``outbound-custom-event-payload.yaml``: ``AbstractStaticContent``, ``AbstractChoices``,
``AbstractForm`` and their discriminators). Each pair gets exactly one treatment:

- ``native``: sent as the provider's own kind of message (text, a file, buttons or a list). A channel
  without that kind (buttons on SMS or Viber) gets the provider adapter's plain-text form of it.
- ``readable``: turned into text here, because the text says everything the message says (a rich link is
  its title and URL; a form is its title and its questions as a numbered list).
- ``refused``: not sent at all, because no text would be faithful (a reference to a component whose
  content Salesforce did not send, an app extension, an Experience Type). The agent gets a
  MessageDeliveryFailed with the reason; the customer gets nothing, never a placeholder.

A documented pair whose particular message cannot be rendered faithfully (a file without a link, a form
that branches on its answers) is refused too, with the reason. Anything not in the table is refused as
unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

NATIVE = "native"
READABLE = "readable"
REFUSED = "refused"

REFUSED_CODE = "UNSUPPORTED_MESSAGE"


class Unrenderable(ValueError):
    """This message (of a type we do render) cannot be shown faithfully; the text says why."""


@dataclass(frozen=True)
class Format:
    treatment: str  # NATIVE, READABLE or REFUSED
    render: Callable[[dict], list[dict]] | None = None  # the abstractMessage's body -> outbound contents
    reason: str = ""  # why a REFUSED format is not sent (completes "the customer's channel cannot show ...")


@dataclass(frozen=True)
class Rendering:
    treatment: str
    contents: list[dict]  # one outbound content per message to send; one "refused" content when refused
    message_type: str
    format_type: str


# --- small readers (everything here comes from outside: any member may be missing, null or mistyped) -----


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _str(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _title(item) -> str:
    """The text of an AbstractTitleItem, with its subtitles."""
    item = _dict(item)
    parts = [_str(item.get(k)) for k in ("title", "subTitle", "secondarySubTitle", "tertiarySubTitle")]
    return " – ".join(p for p in parts if p)


def _option_title(item: dict) -> str:
    """A TitleOptionItem's or TitleLinkItem's title (``titleItem.title``; older events put ``title`` flat)."""
    return _title(item.get("titleItem")) or _str(item.get("title"))


def _lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _paragraphs(*blocks: str) -> str:
    return "\n\n".join(b for b in blocks if b)


def _text(text: str) -> list[dict]:
    if not text.strip():
        raise Unrenderable("an empty message")
    return [{"kind": "text", "text": text}]


# --- StaticContentMessage ------------------------------------------------------------------------------------


def _static_text(static: dict) -> list[dict]:
    """Text, with the sources an Agentforce answer cites (``citationContent``) listed under it."""
    text = _str(static.get("text"))
    sources: list[str] = []
    for citation in _list(_dict(static.get("citationContent")).get("citations")):
        reference = _dict(citation.get("citedReference"))
        url = _str(_dict(reference.get("link")).get("url"))
        if url:
            label = _str(reference.get("label"))
            sources.append(f"{len(sources) + 1}. {label}: {url}" if label else f"{len(sources) + 1}. {url}")
    if sources:
        text = _paragraphs(text, _lines("Sources:", *sources))
    return _text(text)


def _static_attachments(static: dict) -> list[dict]:
    """One media message per file; the text goes with the first."""
    attachments = _list(static.get("attachments"))
    linked = [a for a in attachments if _str(a.get("url"))]
    if len(linked) < len(attachments) or not linked:
        raise Unrenderable("an attachment that came without a link to download it")
    return [
        {
            "kind": "media",
            "text": _str(static.get("text")) if index == 0 else "",
            "media_url": _str(a.get("url")),
            "media_mime_type": _str(a.get("mimeType")),
            "media_filename": _str(a.get("name")),
        }
        for index, a in enumerate(linked)
    ]


def _link_lines(items: list[dict]) -> list[str]:
    return [
        f"{title}: {url}" if (title := _option_title(item)) else url
        for item in items
        if (url := _str(item.get("url")))
    ]


def _static_media(static: dict) -> list[dict]:
    """StaticContentMedia: the image, video or document, captioned with its description and links."""
    asset = _dict(static.get("mediaAsset"))
    url = _str(asset.get("assetUrl"))
    if not url:
        raise Unrenderable("a media message whose file has no URL")
    caption = _lines(_str(asset.get("description")), *_link_lines(_list(static.get("linkItems"))))
    return [
        {"kind": "media", "text": caption, "media_url": url, "media_mime_type": _str(asset.get("mimeType"))}
    ]


def _static_rich_link(static: dict) -> list[dict]:
    link = _dict(static.get("linkItem"))
    url = _str(link.get("url"))
    if not url:
        raise Unrenderable("a rich link without its URL")
    return _text(_lines(_str(static.get("text")), _option_title(link), url))


def _static_links(static: dict) -> list[dict]:
    urls = [_str(link.get("url")) for link in _list(static.get("links")) if _str(link.get("url"))]
    if not urls:
        raise Unrenderable("a links message without a URL")
    return _text(_lines(*urls))


def _static_web_view(static: dict) -> list[dict]:
    if static.get("parameters"):
        # Salesforce's own clients open the page with these values; a bare link would open another page.
        raise Unrenderable("a web page (WebView) that needs parameters only Salesforce's own clients pass")
    url = _str(static.get("url"))
    if not url:
        raise Unrenderable("a web page (WebView) without its URL")
    return _text(_lines(_title(static.get("title")), url))


# --- ChoicesMessage -------------------------------------------------------------------------------------------


def _button(item: dict, index: int) -> dict:
    title = _option_title(item)
    if not title:
        raise Unrenderable(f"a choice (number {index}) without a title")
    button = {"title": title, "payload": _str(item.get("optionIdentifier"))}
    if _str(item.get("url")):
        button["url"] = _str(item["url"])
    return button


def _choices(text: str, items: list[dict]) -> list[dict]:
    if not items:
        raise Unrenderable("choices without options")
    buttons = [_button(item, index) for index, item in enumerate(items, start=1)]
    return [{"kind": "choices", "text": text, "buttons": buttons}]


def _images_first(render: Callable[[dict], list[dict]]) -> Callable[[dict], list[dict]]:
    """Choices that carry pictures (``images``, ImageAsset[]): each picture goes first, as a media message of its
    own captioned with its description, then the choices; dropped, the customer missed what the question was
    about. A picture without its URL cannot be sent: the message is refused."""

    def rendered(choices: dict) -> list[dict]:
        pictures = []
        for number, image in enumerate(_list(choices.get("images")), start=1):
            url = _str(_dict(image).get("assetUrl"))
            if not url:
                raise Unrenderable(f"a picture (number {number}) without its URL")
            pictures.append(
                {
                    "kind": "media",
                    "text": _str(image.get("description")),
                    "media_url": url,
                    "media_mime_type": _str(image.get("mimeType")),
                }
            )
        return [*pictures, *render(choices)]

    return rendered


def _choices_buttons(choices: dict) -> list[dict]:
    """Buttons and QuickReplies: a question and its options."""
    return _choices(_str(choices.get("text")), _list(choices.get("optionItems")))


def _choices_list_picker(choices: dict) -> list[dict]:
    title, message = _str(choices.get("title")), _title(choices.get("message"))
    text = _lines(title, message if message != title else "")
    return _choices(text, _list(choices.get("optionItems")))


def _slot_title(slot: dict, index: int) -> str:
    """A time slot as people read it, in UTC (the event's ``timezoneOffset`` has no documented unit)."""
    try:
        start = datetime.fromisoformat(_str(slot.get("startTime")).replace("Z", "+00:00"))
        duration_value: Any = slot.get("duration")  # JSON; int() refuses null and non-numbers
        duration = int(duration_value)
    except (TypeError, ValueError):
        raise Unrenderable(
            f"a time slot (number {index}) without a readable start time and duration"
        ) from None
    if start.tzinfo is None:
        raise Unrenderable(f"a time slot (number {index}) whose start time has no time zone")
    start = start.astimezone(UTC)
    end = start + timedelta(seconds=duration)
    return f"{start:%a %d %b %Y, %H:%M}–{end:%H:%M} UTC"


def _choices_time_picker(choices: dict) -> list[dict]:
    event = _dict(choices.get("calendarEvent"))
    location = _str(_dict(event.get("location")).get("name"))
    text = _lines(_title(choices.get("message")), _str(event.get("title")), location)
    slots = _list(event.get("timeSlotOptionItems"))
    items = [
        {"title": _slot_title(slot, index), "optionIdentifier": slot.get("optionIdentifier")}
        for index, slot in enumerate(slots, start=1)
    ]
    return _choices(text, items)


def _choices_carousel(choices: dict) -> list[dict]:
    """Each card as a numbered entry, with its options and links under it."""
    cards = _list(choices.get("items"))
    if not cards:
        raise Unrenderable("a carousel without cards")
    lines = [_str(choices.get("title"))]
    for number, card in enumerate(cards, start=1):
        title = _title(card.get("titleItem"))
        if not title:
            raise Unrenderable(f"a carousel card (number {number}) without a title")
        lines.append(f"{number}. {title}")
        for item in _list(card.get("interactionItems")):
            url, label = _str(item.get("url")), _option_title(item)
            if label or url:
                lines.append("   - " + (f"{label}: {url}" if label and url else label or url))
    return _text(_lines(*lines))


# --- FormMessage ----------------------------------------------------------------------------------------------

_ANSWER_HINTS = {
    "DatePickerInput": "a date",
    "DateTimePickerInput": "a date and time",
}


def _question(form_input: dict, number: int) -> str:
    label = _title(form_input.get("label")) or _str(form_input.get("hintText"))
    if not label:
        raise Unrenderable(f"a form question (number {number}) without a label")
    notes = []
    kind = form_input.get("inputType")
    if kind in _ANSWER_HINTS:
        fmt = _str(form_input.get("dateFormat") or form_input.get("dateTimeFormat"))
        notes.append(_ANSWER_HINTS[kind] + (f", {fmt}" if fmt else ""))
    if form_input.get("multipleSelection") is True:
        notes.append("one or more")
    if form_input.get("required") is False:
        notes.append("optional")
    line = f"{number}. {label}" + (f" ({'; '.join(notes)})" if notes else "")
    hint = _str(form_input.get("hintText"))
    options = _list(form_input.get("optionItems"))
    extra = []
    if hint and hint != label:
        extra.append(f"   {hint}")
    if options:
        titles = [_option_title(option) for option in options]
        if not all(titles):
            raise Unrenderable(f"a form question (number {number}) with an option without a title")
        extra.append("   " + " / ".join(titles))
    return _lines(line, *extra)


def _form_inputs(form: dict) -> list[dict]:
    """The form's title (and intro), then its questions as a numbered list."""
    title = _title(form.get("formTitle"))
    message = _title(form.get("message"))
    intro = _dict(form.get("introScreen"))
    lines = [title, message if message != title else "", _str(intro.get("title")), _str(intro.get("text"))]
    body: list[str] = []
    number = 0
    for section in _list(form.get("sections")):
        form_input = _dict(section.get("input"))
        kind = form_input.get("inputType")
        if kind == "SelectNavigationInput":
            # Which questions follow depends on the answer: a flat list would ask questions that do not apply.
            raise Unrenderable("a form whose next questions depend on the answers")
        if kind in ("StaticTitle", "StaticFooter"):  # text between the questions, not a question
            body.append(_title(form_input.get("titleItem")) or _title(form_input.get("label")))
            continue
        number += 1
        body.append(_question(form_input, number))
    if not number:
        raise Unrenderable("a form without questions")
    if not title:
        raise Unrenderable("a form without a title")
    return _text(_paragraphs(_lines(*lines), _lines(*body)))


# --- the table -----------------------------------------------------------------------------------------------

_BY_REFERENCE = (
    "a messaging component sent by reference (MessageDefinition): Salesforce sends its name, not its content"
)
_END_USER_ONLY = "a response message, which only the customer sends"

FORMATS: dict[tuple[str, str], Format] = {
    ("StaticContentMessage", "Text"): Format(NATIVE, _static_text),
    ("StaticContentMessage", "Attachments"): Format(NATIVE, _static_attachments),
    ("StaticContentMessage", "Media"): Format(NATIVE, _static_media),
    ("StaticContentMessage", "RichLink"): Format(READABLE, _static_rich_link),
    ("StaticContentMessage", "Links"): Format(READABLE, _static_links),
    ("StaticContentMessage", "WebView"): Format(READABLE, _static_web_view),
    ("StaticContentMessage", "Application"): Format(
        REFUSED,
        reason="a link into an app extension (Application), which only Apple Messages for Business opens",
    ),
    ("StaticContentMessage", "ExperienceType"): Format(
        REFUSED, reason="an Experience Type message, which only Salesforce's own chat clients display"
    ),
    ("ChoicesMessage", "Buttons"): Format(NATIVE, _choices_buttons),  # the only choices without ``images``
    ("ChoicesMessage", "QuickReplies"): Format(NATIVE, _images_first(_choices_buttons)),
    ("ChoicesMessage", "ListPicker"): Format(NATIVE, _images_first(_choices_list_picker)),
    ("ChoicesMessage", "TimePicker"): Format(NATIVE, _images_first(_choices_time_picker)),
    ("ChoicesMessage", "Carousel"): Format(READABLE, _images_first(_choices_carousel)),
    ("ChoicesMessage", "MessageDefinition"): Format(REFUSED, reason=_BY_REFERENCE),
    ("FormMessage", "Inputs"): Format(READABLE, _form_inputs),
    ("FormMessage", "MessageDefinition"): Format(REFUSED, reason=_BY_REFERENCE),
    ("ChoicesResponseMessage", "Selections"): Format(REFUSED, reason=_END_USER_ONLY),
    ("FormResponseMessage", "Inputs"): Format(REFUSED, reason=_END_USER_ONLY),
    ("FormResponseMessage", "Result"): Format(REFUSED, reason=_END_USER_ONLY),
}

# Where each message type keeps its format (the member named in the YAML's allOf).
BODY_MEMBER = {
    "StaticContentMessage": "staticContent",
    "ChoicesMessage": "choices",
    "FormMessage": "form",
    "ChoicesResponseMessage": "choicesResponse",
    "FormResponseMessage": "formResponse",
}


def refusal(reason: str, *, code: str = REFUSED_CODE) -> dict:
    """The outbound content of a message that is not sent: the pipeline fails it and tells the agent."""
    return {
        "kind": "refused",
        "text": "",
        "reason": f"Not sent: the customer's channel cannot show {reason}.",
        "code": code,
    }


def render(abstract_message) -> Rendering:
    """The outbound contents of an agent's ``abstractMessage``, by the table above."""
    message = _dict(abstract_message)
    message_type = _str(message.get("messageType"))
    body = _dict(message.get(BODY_MEMBER.get(message_type, "")))
    format_type = _str(body.get("formatType"))
    found = FORMATS.get((message_type, format_type))
    if found is None:
        what = "/".join(p for p in (message_type, format_type) if p) or "a message without a type"
        reason = f"a {what} message, a type Switchboard does not know"
        return Rendering(REFUSED, [refusal(reason)], message_type, format_type)
    if found.treatment == REFUSED or found.render is None:
        return Rendering(REFUSED, [refusal(found.reason)], message_type, format_type)
    try:
        contents = found.render(body)
    except Unrenderable as exc:
        return Rendering(REFUSED, [refusal(str(exc))], message_type, format_type)
    return Rendering(found.treatment, contents, message_type, format_type)
