"""A bot conversation's messages from Infobip's Conversations API (providers.md §1.13), for handovers.

``GET /ccaas/1/conversations/{id}/messages`` is paged (``limit`` ≤ 999, ``page`` from 0, ``pagination.
totalItems``). ``createdBefore`` bounds the transcript at the moment of the handover, so the messages
Switchboard and the customer exchange afterwards (which Infobip records in the same conversation) are
not imported twice. Errors come in the legacy envelope (``NOT_FOUND`` for an unknown id), handled by
the client's :func:`~relay.providers.infobip.client.raise_for_error`.

Each message becomes a transcript entry: ``{"id", "speaker", "name", "text", "time", "media"}`` with
``speaker`` one of customer, bot, agent, system and ``time`` in epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.utils.dateparse import parse_datetime

from ...errors import ExternalError
from .client import InfobipProvider, _json

if TYPE_CHECKING:
    from tenants.models import ProviderAccount

PAGE_SIZE = 100
MAX_PAGES = 50  # 5,000 messages: far beyond any bot conversation; stops a runaway loop
SPEAKERS = {"CUSTOMER": "customer", "BOT": "bot", "AGENT": "agent", "SYSTEM": "system"}
MEDIA_TYPES = {"IMAGE", "DOCUMENT", "VIDEO", "AUDIO", "FILE", "STICKER", "VOICE"}


def conversations_time(moment: datetime) -> str:
    """``yyyy-MM-dd'T'HH:mm:ss.SSS+0000``, the form the API's date filters take."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def fetch_transcript(
    account: ProviderAccount,
    conversation_id: str,
    *,
    created_before: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> list[dict]:
    """Every message of the conversation, oldest first, as transcript entries."""
    if not conversation_id.strip():
        raise ExternalError("No Infobip conversation id to fetch the transcript from.", permanent=True)
    provider = InfobipProvider()
    path = f"/ccaas/1/conversations/{quote(conversation_id, safe='')}/messages"
    params: dict = {"limit": page_size, "orderBy": "createdAt:asc"}
    if created_before is not None:
        params["createdBefore"] = conversations_time(created_before)
    entries: list[dict] = []
    for page in range(MAX_PAGES):
        data = _json(
            provider._call(
                account,
                "GET",
                path,
                f"the messages of conversation {conversation_id}",
                params={**params, "page": page},
            )
        )
        messages = [m for m in data.get("messages") or [] if isinstance(m, dict)]
        entries.extend(entry for entry in map(transcript_entry, messages) if entry is not None)
        total = int((data.get("pagination") or {}).get("totalItems") or 0)
        if not messages or (page + 1) * page_size >= total:
            break
    entries.sort(key=lambda e: e["time"])  # stable: equal times keep the API's order
    return entries


def transcript_entry(message: dict) -> dict | None:
    """One Conversations API message as a transcript entry (None for one without an id or a time)."""
    created = parse_datetime(str(message.get("createdAt") or "").replace("+0000", "+00:00"))
    if not message.get("id") or created is None:
        return None
    content = message.get("content") if isinstance(message.get("content"), dict) else {}
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
