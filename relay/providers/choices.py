"""What the WhatsApp adapters (``<name>/payloads.py``) share about an agent's options as interactive messages,
where both vendors pass on WhatsApp's own rules: a reply button's title is 1..20 characters and unique within
the message (Infobip's ``InteractiveReplyButtonContent``, 8x8's ``action.buttons``: "must be unique within the
message"); button and row ids are unique. Each adapter keeps its own counts and shapes.
"""

from __future__ import annotations

import unicodedata

from .base import Button

REPLY_TITLE_MAX = 20
# A list row (WhatsApp's, which both vendors pass on): title, description and id.
ROW_TITLE_MAX, ROW_DESCRIPTION_MAX, ROW_ID_MAX = 24, 72, 200


def reply_titles_fit(buttons: list[Button], *, emoji: bool) -> bool:
    """Whether the options' titles can be reply buttons; ``emoji``: whether the vendor takes emojis in them
    (Infobip: "Doesn't allow emojis or markdown"; 8x8: "Emojis are supported"). Options that cannot go as a
    list, whose rows have none of these rules."""
    titles = [button.title for button in buttons]
    return (
        all(1 <= len(title) <= REPLY_TITLE_MAX for title in titles)
        and len(set(titles)) == len(titles)
        and (emoji or not any(has_emoji(title) for title in titles))
    )


def has_emoji(text: str) -> bool:
    """Pictographs, symbols and flags (Unicode's "Symbol, other"), and the emoji variation selector."""
    return any(unicodedata.category(ch) == "So" or ch == "\ufe0f" for ch in text)


def unique_ids(buttons: list[Button], limit: int) -> list[str]:
    """Button/row ids: the payload (what comes back in the reply), else the title; unique, 1..``limit``
    characters, no surrounding spaces. An id already taken (or cut to one) becomes the option's number, or
    the next number no option has."""
    ids: list[str] = []
    for index, button in enumerate(buttons):
        candidate = (button.payload or button.title).strip()[:limit].strip()
        number = index + 1
        while not candidate or candidate in ids:
            candidate, number = str(number), number + len(buttons)
        ids.append(candidate)
    return ids


def list_rows(buttons: list[Button], ids: list[str]) -> list[dict]:
    """One list row per option, with its id: the title cut to a row's length, and the full title, when cut, kept
    readable in the row's description."""
    rows = []
    for button, row_id in zip(buttons, ids, strict=True):
        row = {"id": row_id, "title": shorten(button.title, ROW_TITLE_MAX)}
        if len(button.title) > ROW_TITLE_MAX:
            row["description"] = shorten(button.title, ROW_DESCRIPTION_MAX)
        rows.append(row)
    return rows


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
