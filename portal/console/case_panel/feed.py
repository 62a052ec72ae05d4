"""What the Case panel shows, as JSON: the Case's messages (both ways, with ticks and failure reasons), the
Case's state and WhatsApp's 24-hour window; and the cursor the page polls with.

The page asks every second or two for what changed since its cursor (``updated_at`` of the rows). A row
written by a transaction that committed a little after a later one could carry an ``updated_at`` below the
cursor: each poll therefore looks back ``OVERLAP`` before it, and the page replaces rows it already has (by
id), so nothing is missed and nothing is shown twice. Every text goes out as JSON data; the page puts it in
the document with ``textContent`` only, so hostile text stays text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from relay.desks.cases_models import CaseLink
from relay.desks.render import describe, stored_event
from relay.models import Conversation, Message
from tenants.models import Sender

from . import lookup

MESSAGES_SHOWN = 200  # a full load: the latest ones (older ones are on the Case's transcript)
OVERLAP = timedelta(seconds=10)
TICKS: dict[str, tuple[str, str]] = {
    Message.Status.PENDING: ("🕓", "Sending"),
    Message.Status.SENT: ("✓", "Sent"),
    Message.Status.DELIVERED: ("✓✓", "Delivered"),
    Message.Status.READ: ("✓✓", "Read"),
    Message.Status.FAILED: ("!", "Not delivered"),
}
FILE_PATH_PREFIX = "/console/case/file/"
SYSTEM_AUTHORS = {"welcome": "welcome text", "closing": "closing text", "no_agent": "no-agent text"}


def cursor_of(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def parse_cursor(value: str) -> datetime | None:
    """The moment a cursor names; None for none or nonsense (a full load then)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not 0 < seconds < 32503680000:  # before year 3000: anything else is not a cursor of ours
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def snapshot(link: CaseLink, since: datetime | None = None) -> dict:
    """The panel's data: all of the Case's latest messages (``since`` None), or those changed since."""
    started = timezone.now()
    messages = lookup.case_messages(link).select_related("conversation")
    if since is not None:
        changed = messages.filter(updated_at__gte=since - OVERLAP).order_by("created_at", "id")
        rows = list(changed[:MESSAGES_SHOWN])
    else:
        rows = list(reversed(messages.order_by("-created_at", "-id")[:MESSAGES_SHOWN]))
    conversation = link.conversation
    return {
        "cursor": cursor_of(started),
        "full": since is None,
        "messages": [message_json(m, conversation) for m in rows],
        "case": case_json(link),
        "window": window_json(conversation),
    }


def message_json(message: Message, conversation: Conversation) -> dict:
    content = message.content if isinstance(message.content, dict) else {}
    inbound = message.direction == Message.Direction.INBOUND
    data: dict[str, Any] = {
        "id": message.pk,
        "direction": "in" if inbound else "out",
        "author": _author(message, content, conversation),
        "text": _text(message, content),
        "at": message.created_at.isoformat(),
        "order": f"{message.created_at.timestamp():.6f}:{message.pk:012d}",
        "status": message.status,
        "ticks": "",
        "status_label": "",
        "error": "",
        "file": None,
        "choices": [],
    }
    if inbound:
        if message.status == Message.Status.FAILED:
            data["status_label"] = "Not on the Case"
            data["error"] = message.last_error
        data["file"] = _inbound_file(message)
        return data
    ticks, label = TICKS.get(message.status, ("", message.status))
    data.update(ticks=ticks, status_label=label)
    if message.status == Message.Status.FAILED:
        # The label already says it was not delivered: the reason follows, without saying it twice.
        data["error"] = message.last_error.removeprefix("Not delivered: ") or "The provider did not say why."
    elif message.status == Message.Status.PENDING and message.last_error:
        data["error"] = f"Trying again: {message.last_error}"  # a transient failure, retried
    if content.get("media_url") or content.get("media_filename"):
        data["file"] = {
            "name": str(content.get("media_filename") or "attachment"),
            "type": str(content.get("media_mime_type") or ""),
            "link": _own_file(content.get("panel_path")),
        }
    data["choices"] = [str(b.get("title", "")) for b in content.get("buttons") or [] if isinstance(b, dict)]
    return data


def _own_file(path) -> str:
    """Only a file the panel itself stored is linked (its site-relative path); anything else is no link."""
    path = str(path or "")
    return path if path.startswith(FILE_PATH_PREFIX) and "//" not in path else ""


def _author(message: Message, content: dict, conversation: Conversation) -> str:
    if message.direction == Message.Direction.INBOUND:
        return conversation.customer_name or conversation.customer
    system = content.get("system")
    if system:
        return f"Switchboard ({SYSTEM_AUTHORS.get(str(system), str(system).replace('_', ' '))})"
    agent = content.get("agent")
    if isinstance(agent, dict) and agent.get("name"):
        return str(agent["name"])
    if message.kind == "template":
        return "WhatsApp template"
    return "Agent"


def _text(message: Message, content: dict) -> str:
    if message.direction == Message.Direction.INBOUND:
        return describe(stored_event(message))
    if message.kind == "template":
        template = content.get("template")
        template = template if isinstance(template, dict) else {}
        return str(template.get("rendered_text") or message.text or template.get("name") or "")
    return message.text


def _inbound_file(message: Message) -> dict | None:
    """The customer's file, by name: its provider URL needs the account's credentials, so it is not linked
    (the Cases desk attaches it to the Case as a file)."""
    event = stored_event(message)
    if event.media is None:
        return None
    return {
        "name": event.media.filename or event.media.kind or "file",
        "type": event.media.mime_type,
        "link": "",
    }


def case_json(link: CaseLink) -> dict:
    return {
        "id": link.case_id,
        "number": link.case_number,
        "subject": link.subject,
        "status": link.status,
        "closed": link.is_closed,
    }


def window_json(conversation: Conversation) -> dict:
    """WhatsApp's 24-hour window (other channels have none): free text only within 24 hours of the
    customer's last message; after that only an approved template reaches them."""
    if conversation.sender.channel != Sender.Channel.WHATSAPP:
        return {"applies": False, "open": True, "closes_at": ""}
    if conversation.last_inbound_at is None:
        return {"applies": True, "open": False, "closes_at": ""}
    closes = conversation.last_inbound_at + timedelta(hours=24)
    return {"applies": True, "open": conversation.window_open(), "closes_at": closes.isoformat()}
