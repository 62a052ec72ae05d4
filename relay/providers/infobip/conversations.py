"""A bot conversation's messages from Infobip's Conversations API (providers.md §1.13), for handovers.

``GET /ccaas/1/conversations/{id}/messages`` is paged (``limit`` ≤ 999, ``page`` from 0, ``pagination.
totalItems``). ``createdBefore`` bounds the transcript at the moment of the handover, so the messages
Switchboard and the customer exchange afterwards (which Infobip records in the same conversation) are
not imported twice. Errors come in the legacy envelope (``NOT_FOUND`` for an unknown id), handled by
the client's :func:`~relay.providers.infobip.client.raise_for_error`. The client's
:meth:`~relay.providers.infobip.client.InfobipProvider.fetch_transcript` pages; this module reads the pages.

Each message becomes a transcript entry: ``{"id", "speaker", "name", "text", "time", "media"}`` with
``speaker`` one of customer, bot, agent, system and ``time`` in epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

PAGE_SIZE = 100
MAX_PAGES = 50  # 5,000 messages: far beyond any bot conversation; stops a runaway loop
SPEAKERS = {"CUSTOMER": "customer", "BOT": "bot", "AGENT": "agent", "SYSTEM": "system"}
MEDIA_TYPES = {"IMAGE", "DOCUMENT", "VIDEO", "AUDIO", "FILE", "STICKER", "VOICE"}


def conversations_time(moment: datetime) -> str:
    """``yyyy-MM-dd'T'HH:mm:ss.SSS+0000``, the form the API's date filters take."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def transcript_entry(message: dict) -> dict | None:
    """One Conversations API message as a transcript entry (None for one without an id or a time)."""
    created = parse_datetime(str(message.get("createdAt") or "").replace("+0000", "+00:00"))
    if not message.get("id") or created is None:
        return None
    content = found if isinstance(found := message.get("content"), dict) else {}
    content_type = str(message.get("contentType") or "TEXT").upper()
    speaker = SPEAKERS.get(str(message.get("authorType") or "").upper())
    if speaker is None:
        speaker = "customer" if str(message.get("direction")).upper() == "INBOUND" else "bot"
    entry = {
        "id": str(message["id"]),
        "speaker": speaker,
        "name": "",
        "text": str(content.get("text") or content.get("caption") or ""),
        "time": int(created.timestamp() * 1000),
        "media": None,
    }
    if content_type in MEDIA_TYPES and content.get("url"):
        entry["media"] = {"url": str(content["url"]), "mime_type": "", "filename": ""}
    elif content_type != "TEXT" and not entry["text"]:
        entry["text"] = f"(a {content_type.lower()} message)"
    return entry
