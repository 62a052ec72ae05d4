"""The conversation-history panel: an iframe on the Messaging Session record page (Canvas sign-in;
the signed record is the MessagingSession id, and ``?id=`` serves only a session opened without one) showing the full bot transcript of the conversation's
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

from .session import RecordRefused, console_view, panel_record
from .templates_panel.context import session_id_forms

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


def _record_id(request) -> tuple[str, bool, str]:
    """(18-character session id, named by ``?id=``, problem): the signed record always wins."""
    try:
        record_id, from_url = panel_record(request)
    except ValidationError as exc:
        return "", False, f"This is not a Messaging Session: {' '.join(exc.messages)}"
    if not record_id:
        return "", False, "Open this panel on a Messaging Session record page: it shows that conversation."
    return record_id, from_url, ""


def _conversation(tenant, session_id: str) -> Conversation | None:
    """The conversation of a session: the handover that opened it, or the conversation's latest session."""
    forms = session_id_forms(session_id)
    handover = (
        Handover.objects.for_tenant(tenant)
        .filter(messaging_session_id__in=forms)
        .select_related("conversation__sender")
        .first()
    )
    if handover is not None:
        return handover.conversation
    return (
        Conversation.objects.for_tenant(tenant)
        .filter(messaging_session_id__in=forms)
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
    session_id, from_url, problem = _record_id(request)
    conversation = _conversation(tenant, session_id) if session_id else None
    if from_url and conversation is None:
        # Named by ?id= only: Switchboard shows it only as one of the tenant's own conversations.
        raise RecordRefused(
            f"{session_id} is not a Messaging Session of this org that Switchboard knows. Open this panel "
            "from one of your own Messaging Sessions."
        )
    if session_id and conversation is None:
        problem = "Switchboard has no conversation for this Messaging Session (yet)."
    # The page's token is bound to this session from here on: its tabs and refresh name no record.
    if session_id:
        request.console = request.console.for_record(session_id)
    context = {
        "console_token": request.console.token(),
        "session_id": session_id[:15],
        "problem": problem,
        "conversation": conversation,
        "tab": tab if tab in TABS else "transcript",
        "tabs": TABS,
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
    if not handovers:
        # No bot was involved: the relay timeline is what there is to read, so it comes first and opens.
        context["tabs"] = tuple(reversed(TABS))
        if tab not in TABS:
            context["tab"] = "timeline"
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
