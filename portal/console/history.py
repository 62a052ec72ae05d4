"""The conversation-history panel: an iframe on the Messaging Session record page (Canvas sign-in;
the record id is the MessagingSession id) showing the full bot transcript of the conversation's
handovers and the relay timeline (every message both ways, its status and each delivery attempt).

It is the place to read a transcript where it could not go into the session itself (entries over
24 hours old were summarised, or the org replays them as customer messages). Everything comes from
Switchboard's own rows, scoped to the console session's tenant: the panel never calls Salesforce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from relay.handover.importer import speaker_label
from relay.handover.models import Handover
from relay.models import Conversation, DeliveryAttempt, Message
from tenants.validators import normalize_salesforce_id

from .session import console_view

TIMELINE_SIZE = 100
HANDOVERS_SHOWN = 5
TABS = ("transcript", "timeline")


@dataclass(frozen=True)
class TranscriptLine:
    speaker: str
    label: str
    when: datetime
    text: str
    media_url: str
    media_name: str
    imported: bool


def _record_id(request) -> tuple[str, str]:
    """(15-character session id, problem): Canvas gives the record; ``?id=`` works outside Salesforce."""
    raw = (request.console.record_id or request.GET.get("id") or "").strip()
    if not raw:
        return "", "Open this panel on a Messaging Session record page: it shows that conversation."
    try:
        return normalize_salesforce_id(raw, kind="messaging_session")[:15], ""
    except ValidationError as exc:
        return "", f"This is not a Messaging Session: {' '.join(exc.messages)}"


def _conversation(tenant, session_id: str) -> Conversation | None:
    """The conversation of a session: the handover that opened it, or the conversation's latest session."""
    handover = (
        Handover.objects.for_tenant(tenant)
        .filter(messaging_session_id__startswith=session_id)
        .select_related("conversation__sender")
        .first()
    )
    if handover is not None:
        return handover.conversation
    return (
        Conversation.objects.for_tenant(tenant)
        .filter(messaging_session_id__startswith=session_id)
        .select_related("sender")
        .first()
    )


def _transcript(handover: Handover) -> list[TranscriptLine]:
    imported = set(handover.imported_ids)
    lines = []
    for entry in handover.entries:
        media = entry.get("media") or {}
        lines.append(
            TranscriptLine(
                speaker=entry.get("speaker", "bot"),
                label=speaker_label(entry),
                when=datetime.fromtimestamp(entry["time"] / 1000, tz=UTC),
                text=entry.get("text") or "",
                media_url=media.get("url", ""),
                media_name=media.get("filename") or "attachment",
                imported=entry["id"] in imported,
            )
        )
    return lines


def _context(request, tab: str) -> dict:
    tenant = request.tenant
    session_id, problem = _record_id(request)
    conversation = _conversation(tenant, session_id) if session_id else None
    if session_id and conversation is None:
        problem = "Switchboard has no conversation for this Messaging Session (yet)."
    context = {
        "console_token": request.console.token(),
        "session_id": session_id,
        "problem": problem,
        "conversation": conversation,
        "tab": tab if tab in TABS else "transcript",
        "handovers": [],
        "timeline": [],
    }
    if conversation is None:
        return context
    handovers = list(
        Handover.objects.for_tenant(tenant)
        .filter(conversation=conversation)
        .order_by("-received_at")[:HANDOVERS_SHOWN]
    )
    lines = {m.content.get("handover"): m for m in _history_rows(tenant, conversation, handovers)}
    context["handovers"] = [
        {"handover": h, "lines": _transcript(h), "line_message": lines.get(h.pk)} for h in handovers
    ]
    if context["tab"] == "timeline":
        context["timeline"] = _timeline(tenant, conversation)
    return context


def _history_rows(tenant, conversation: Conversation, handovers: list[Handover]) -> list[Message]:
    if not handovers:
        return []
    ids = Q()
    for handover in handovers:
        ids |= Q(provider_message_id=handover.line_message_id)
    return list(
        Message.objects.for_tenant(tenant).filter(
            ids, conversation=conversation, provider="handover", kind="history"
        )
    )


def _timeline(tenant, conversation: Conversation) -> list[Message]:
    attempts = DeliveryAttempt.objects.for_tenant(tenant).order_by("created_at")
    messages = (
        Message.objects.for_tenant(tenant)
        .filter(conversation=conversation)
        .prefetch_related(Prefetch("delivery_attempts", queryset=attempts))
        .order_by("-created_at", "-id")[:TIMELINE_SIZE]
    )
    rows = list(reversed(list(messages)))
    for message in rows:
        message.route_label = route_label(message)
    return rows


SYSTEM_TEXTS = {"welcome": "welcome text", "closing": "closing text", "no_agent": "no-agent text"}


def route_label(message: Message) -> str:
    if message.kind == "history":
        return "bot transcript → agent"
    if message.direction == Message.Direction.INBOUND:
        return "customer → agent"
    system = (message.content or {}).get("system")
    if system:
        return f"Switchboard → customer ({SYSTEM_TEXTS.get(system, system.replace('_', ' '))})"
    return "agent → customer"


@require_GET
@console_view()
def panel(request):
    return render(request, "console/history/panel.html", _context(request, request.GET.get("tab", "")))


@require_GET
@console_view()
def part(request):
    """The tabs and what the chosen one shows (htmx: switching tabs and refreshing)."""
    return render(request, "console/history/_main.html", _context(request, request.GET.get("tab", "")))


urlpatterns = [
    path("history/", panel, name="history"),
    path("history/part/", part, name="history-part"),
]
