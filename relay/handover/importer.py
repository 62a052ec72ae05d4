"""Deliver a handover's place in the inbound line: the bot transcript, then the session is the agent's.

Called by the Messaging desk for a message of kind ``history``. In order:

1. the transcript: stored with the handover, or fetched once from the provider (Infobip Conversations);
2. an agent online? If none is, the customer gets the tenant's no-agent text (once) and the line
   pauses (:class:`~relay.lines.pipeline.RetryLater`), asking again every few seconds until an agent is, or
   the tenant's delivery window ends; customer messages that arrive meanwhile wait behind it;
3. the import: ``/conversationHistory`` (BYOC for CCaaS orgs: at most 5 entries per call, newest first,
   nothing older than 24 hours, so older entries become one summary entry), or, where Salesforce
   answers 10057 (not CCaaS, remembered for the tenant), each entry replayed as the customer's message
   with the speaker and time written in front;
4. the tenant's welcome text ("an agent will join shortly") to the customer.

Every entry has a stable id (derived from the handover and the entry) and the entries Salesforce has
are recorded after each call, so a retry sends only the rest and never makes a second copy.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ..desks.routing import routing_attributes
from ..errors import ExternalError
from ..lines.attempts import attempt
from ..lines.pipeline import RetryLater
from ..models import Conversation, Message
from ..outbound.record import queue_outbound
from ..providers.registry import get_provider
from ..salesforce.interactions import MAX_HISTORY_ENTRIES, InteractionClient, end_user, text_payload
from .models import Handover, HandoverEndpoint

log = logging.getLogger(__name__)

ENTRY_NAMESPACE = uuid.UUID("0c8f3a52-1d7e-4a0b-9b2f-5e6d7c8b9a01")
NOT_CCAAS = "10057"  # "Only Bring Your Own Channel for CCaaS partners can access them"
ALREADY_IMPORTED = "10073"  # a message id of the batch is in the conversation already
# Salesforce refuses history older than 24 hours; keep a margin for the time the calls take.
HISTORY_MAX_AGE = timedelta(hours=24) - timedelta(minutes=10)
SUMMARY_MAX_CHARS = 8000
SPEAKER_LABELS = {"customer": "Customer", "bot": "Bot", "agent": "Agent", "system": "System"}


def entry_uuid(handover: Handover, entry_id: str) -> str:
    return str(uuid.uuid5(ENTRY_NAMESPACE, f"{handover.tenant_id}:{handover.key}:{entry_id}"))


def speaker_label(entry: dict) -> str:
    return entry.get("name") or SPEAKER_LABELS.get(entry.get("speaker", ""), "Bot")


def clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M UTC")


def entry_text(entry: dict) -> str:
    text = entry.get("text") or ""
    media = entry.get("media") or {}
    if media.get("url"):
        name = media.get("filename") or "attachment"
        text = f"{text} 📎 {name}: {media['url']}".strip()
    return text or "(empty message)"


def replay_text(entry: dict) -> str:
    """The speaker and time in front: every replayed entry arrives as the customer's."""
    return f"[{speaker_label(entry)} {clock(entry['time'])}] {entry_text(entry)}"


# --- the line's deliver --------------------------------------------------------------------------------


def handover_of(message: Message, *related: str) -> Handover:
    """The handover a history message imports (its content names it); Handover.DoesNotExist if none."""
    handover_id = (message.content or {}).get("handover")
    if handover_id is None:  # what .get(pk=None) raised: no handover has a null id
        raise Handover.DoesNotExist(f"message {message.pk} names no handover")
    return Handover.objects.select_related(*related).get(tenant_id=message.tenant_id, pk=handover_id)


def deliver_history(message: Message, *, agent_available: Callable[[Conversation], bool | None]) -> None:
    """``agent_available``: the desk's (:meth:`relay.desks.base.Desk.agent_available`)."""
    handover = handover_of(message, "tenant__salesforce")
    conversation = message.conversation
    ensure_transcript(message, handover)
    if not handover.imported_ids:  # once the import has started, it finishes without asking again
        wait_for_agent(handover, conversation, agent_available)
    endpoint = HandoverEndpoint.objects.filter(tenant_id=message.tenant_id).first()
    mode = endpoint.history_mode if endpoint else HandoverEndpoint.HistoryMode.AUTO
    client = InteractionClient(handover.tenant.salesforce)
    method = Handover.Method.REPLAY
    if mode != HandoverEndpoint.HistoryMode.REPLAY:
        try:
            import_with_history_api(client, message, handover, conversation)
            method = Handover.Method.HISTORY_API
        except ExternalError as exc:
            if exc.code != NOT_CCAAS:
                raise
            remember_replay(endpoint, exc)
    if method == Handover.Method.REPLAY:
        replay(client, message, handover, conversation)
    finish(message, handover, conversation, method)


def ensure_transcript(message: Message, handover: Handover) -> None:
    if handover.transcript_ready:
        return
    account = message.conversation.sender.account
    try:
        provider = get_provider(account.provider)
    except LookupError:
        provider = None
    if handover.provider != account.provider or provider is None or not provider.has_transcripts:
        raise ExternalError(
            f"No transcript to fetch: {handover.provider or 'the bot'} keeps no conversations Switchboard can read.",
            permanent=True,
            code="NO_TRANSCRIPT_SOURCE",
        )
    with attempt(message, target=account.provider, action="transcript"):
        entries = provider.fetch_transcript(
            # +1 ms: the filter is exclusive and Infobip's times have millisecond precision.
            account,
            handover.provider_conversation_id,
            created_before=handover.received_at + timedelta(milliseconds=1),
        )
    handover.entries, handover.transcript_ready = entries, True
    Handover.objects.filter(pk=handover.pk).update(entries=entries, transcript_ready=True)


def wait_for_agent(
    handover: Handover, conversation: Conversation, agent_available: Callable[[Conversation], bool | None]
) -> None:
    """Pause the line while no agent is online (the no-agent text goes out once)."""
    if agent_available(conversation) is not False:
        return
    now = timezone.now()
    if handover.status != Handover.Status.WAITING:
        Handover.objects.filter(pk=handover.pk).update(
            status=Handover.Status.WAITING, waiting_since=now, updated_at=now
        )
        text = handover.tenant.no_agent_text
        if text:
            queue_outbound(
                conversation,
                {"kind": "text", "text": text, "system": "no_agent"},
                salesforce_entry_id=f"handover-no-agent:{handover.pk}",
            )
    raise RetryLater(
        now + timedelta(seconds=settings.HANDOVER_AGENT_POLL_SECONDS),
        reason="Waiting for an agent to come online in Omni-Channel (no agent is available).",
    )


def remember_replay(endpoint: HandoverEndpoint | None, error: ExternalError) -> None:
    if endpoint is None:
        return
    reason = (
        f"Salesforce answered {error.code} on {timezone.now():%Y-%m-%d %H:%M} UTC: not a BYOC for CCaaS org"
    )
    HandoverEndpoint.objects.filter(pk=endpoint.pk).update(
        history_mode=HandoverEndpoint.HistoryMode.REPLAY, history_mode_reason=reason[:255]
    )
    log.info(
        "tenant %s: conversationHistory refused (10057); replaying transcripts from now on",
        endpoint.tenant_id,
    )


def finish(message: Message, handover: Handover, conversation: Conversation, method: str) -> None:
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.DELIVERED, delivered_at=now, last_error="", updated_at=now
    )
    first_time = handover.status != Handover.Status.DELIVERED
    Handover.objects.filter(pk=handover.pk).update(
        status=Handover.Status.DELIVERED,
        method=method,
        delivered_at=now,
        last_error="",
        messaging_session_id=handover.messaging_session_id,
        updated_at=now,
    )
    text = handover.tenant.welcome_text
    if first_time and text:
        queue_outbound(
            conversation,
            {"kind": "text", "text": text, "system": "welcome"},
            salesforce_entry_id=f"handover-welcome:{handover.pk}",
        )


def _record_session(handover: Handover, conversation: Conversation, response: dict) -> None:
    session_id = response.get("messagingSessionId") or next(iter(response.get("workItemIds") or []), "")
    changes = {}
    if response.get("conversationIdentifier"):
        changes["salesforce_conversation_id"] = response["conversationIdentifier"]
    if session_id:
        changes["messaging_session_id"] = session_id[:18]
        handover.messaging_session_id = session_id[:18]
    if changes:
        Conversation.objects.filter(pk=conversation.pk).update(**changes)


def _mark_imported(handover: Handover, entry_ids: list[str]) -> None:
    handover.imported_ids = [*handover.imported_ids, *entry_ids]
    Handover.objects.filter(pk=handover.pk).update(
        imported_ids=handover.imported_ids,
        messaging_session_id=handover.messaging_session_id,
        updated_at=timezone.now(),
    )


def _pending(handover: Handover) -> list[dict]:
    done = set(handover.imported_ids)
    return sorted((e for e in handover.entries if e["id"] not in done), key=lambda e: e["time"])


def _open_session_without_entries(client, message, handover, conversation) -> None:
    """An empty transcript: the session still opens, so the conversation reaches an agent."""
    sender = conversation.sender
    with attempt(message, target="salesforce", action="conversation"):
        response = client.establish_conversation(
            sender.channel_address_identifier,
            conversation.customer,
            routing_attributes=routing_attributes(conversation) or None,
        )
    _record_session(handover, conversation, response)


# --- replay (BYOC for Messaging) -------------------------------------------------------------------------


def replay(
    client: InteractionClient, message: Message, handover: Handover, conversation: Conversation
) -> None:
    pending = _pending(handover)
    if not pending and not handover.imported_ids:
        _open_session_without_entries(client, message, handover, conversation)
        return
    sender = conversation.sender
    routing = routing_attributes(conversation) or None
    for entry in pending:
        with attempt(message, target="salesforce", action="interaction"):
            response = client.send_text(
                to=sender.channel_address_identifier,
                from_=conversation.customer,
                text=replay_text(entry),
                entry_id=entry_uuid(handover, entry["id"]),
                timestamp_ms=int(entry["time"]),
                routing_attributes=routing,
            )
        _record_session(handover, conversation, response)
        _mark_imported(handover, [entry["id"]])


# --- conversationHistory (BYOC for CCaaS) ----------------------------------------------------------------

BOT_SUBJECT = "switchboard-bot"


def history_items(handover: Handover, pending: list[dict], now_ms: int) -> list[dict]:
    """What to send: recent entries as they are, older ones (over 24 h) as one summary entry first."""
    cutoff = now_ms - int(HISTORY_MAX_AGE.total_seconds() * 1000)
    old = [e for e in pending if e["time"] < cutoff]
    recent = [e for e in pending if e["time"] >= cutoff]
    items = [
        {
            "uuid": entry_uuid(handover, e["id"]),
            "role": "EndUser" if e["speaker"] == "customer" else "Chatbot",
            "text": entry_text(e)
            if e["speaker"] in ("customer", "bot")
            else f"[{speaker_label(e)}] {entry_text(e)}",
            "stamp": int(e["time"]),
            "ids": [e["id"]],
        }
        for e in recent
    ]
    if old:
        stamp = max(cutoff + 1, min(e["time"] for e in recent) - 1) if recent else now_ms - 1000
        items.insert(
            0,
            {
                "uuid": entry_uuid(handover, "summary:" + ",".join(e["id"] for e in old)),
                "role": "Chatbot",
                "text": summary_text(old),
                "stamp": stamp,
                "ids": [e["id"] for e in old],
            },
        )
    return items


def summary_text(entries: list[dict]) -> str:
    lines = [f"Earlier in the conversation with the bot ({len(entries)} messages, over 24 hours ago):"]
    size = len(lines[0])
    for index, entry in enumerate(entries):
        line = replay_text(entry)
        if size + len(line) + 1 > SUMMARY_MAX_CHARS:
            lines.append(f"… and {len(entries) - index} more (see the conversation history panel).")
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def import_with_history_api(
    client: InteractionClient, message: Message, handover: Handover, conversation: Conversation
) -> None:
    pending = _pending(handover)
    if not pending:
        if not handover.imported_ids:
            _open_session_without_entries(client, message, handover, conversation)
        return
    items = history_items(handover, pending, int(timezone.now().timestamp() * 1000))
    first, last = min(i["stamp"] for i in items), max(i["stamp"] for i in items)
    customer = conversation.customer
    participants = [
        {
            "displayName": conversation.customer_name or "Customer",
            "participant": end_user(customer),
            "joinedTime": first,
        },
        {
            "displayName": "Bot",
            "participant": {"subject": BOT_SUBJECT, "role": "Chatbot", "appType": "custom"},
            "joinedTime": first,
            "leftTime": last + 1,
        },
    ]
    newest_first = sorted(items, key=lambda i: i["stamp"], reverse=True)  # as Salesforce asks
    cai = conversation.sender.channel_address_identifier
    for start in range(0, len(newest_first), MAX_HISTORY_ENTRIES):
        batch = newest_first[start : start + MAX_HISTORY_ENTRIES]
        entries = [
            {
                "clientTimestamp": item["stamp"],
                "sender": {
                    "subject": customer if item["role"] == "EndUser" else BOT_SUBJECT,
                    "role": item["role"],
                    "appType": "custom",
                },
                "entryPayload": text_payload(item["uuid"], item["text"]),
            }
            for item in batch
        ]
        if handover.messaging_session_id:
            session = {
                "messagingSessionRequestType": "AttachMessagingSession",
                "payload": {"sessionId": handover.messaging_session_id},
            }
        else:
            session = {
                "messagingSessionRequestType": "EstablishMessagingSession",
                "payload": {"startTime": first, "endTime": last + 1},
            }
        try:
            with attempt(message, target="salesforce", action="conversationHistory"):
                response = client.send_history(
                    cai, participants=participants, entries=entries, messaging_session=session
                )
        except ExternalError as exc:
            if exc.code != ALREADY_IMPORTED:
                raise
            # The batch went in before and the answer was lost: carry on with the next one.
            response = {}
            if not handover.messaging_session_id:
                response = client.establish_conversation(cai, customer)
        _record_session(handover, conversation, response)
        _mark_imported(handover, [entry_id for item in batch for entry_id in item["ids"]])
