"""The agent's WhatsApp template in their Salesforce conversation, on the one delivery engine.

The Interaction Service only takes entries *from the customer* (``/interactions``); the agent's own messages
originate in Salesforce. The one API that writes business-side entries is ``/conversationHistory``, which
Salesforce opens to BYOC for CCaaS orgs only (10057 elsewhere) and only with ``EndUser`` and ``Chatbot``
participants. So a template sent from the panel on a Messaging Session is imported into that session as a
``Chatbot`` participant named after the agent ("Ada Agent (WhatsApp template)"). On any other org the refusal
is recorded once (a delivery attempt the admin can read) and the org is not asked again for a day; the agent
then sees the template, who sent it and its delivery status in the panel's history beside the conversation.

Each import is a :class:`~relay.models.TemplateHistoryImport` row written in the transaction that stores the
message (:func:`queue`), then run by :func:`record_in_salesforce` after commit. Like every kind on the engine
(``lines/engine.py``): a worker claims the row by a conditional UPDATE, every try is a delivery attempt of the
message, a transient failure comes back with the engine's backoff up to ``HISTORY_MAX_ATTEMPTS`` tries, an
internal error up to ``RELAY_MAX_INTERNAL_ERRORS``, a permanent one gives up at once; and :func:`sweep`
(``relay.tasks.sweep``) re-queues a pending row whose task was lost.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from celery import shared_task
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from portal import queueing

from ..errors import ExternalError
from ..lines import engine
from ..lines.attempts import attempt, describe_internal_error
from ..models import Message, TemplateHistoryImport
from ..salesforce.interactions import InteractionClient, now_ms, text_payload

log = logging.getLogger(__name__)

HISTORY_NAMESPACE = uuid.UUID("3f6c2d7e-5b1a-4f0e-9a8d-7c2b1e4d6a55")
NO_HISTORY_KEY = "salesforce-no-conversation-history:{tenant_id}"
NO_HISTORY_SECONDS = 24 * 3600
ALREADY_IMPORTED = "10073"
HISTORY_REFUSED = "10057"
HISTORY_ACTION = "conversationHistory"  # the delivery attempts' action
HISTORY_MAX_ATTEMPTS = 6  # the first try and five retries
CLAIM_SECONDS = 60  # a worker that dies mid-import leaves the row to the sweep after this
# The task queued at commit (or by the last sweep) goes first; the sweep takes a row untouched this long.
SWEEP_HEAD_START_SECONDS = 30
SWEEP_BATCH = 1000
Status = TemplateHistoryImport.Status


def history_entry_id(message: Message) -> str:
    return str(uuid.uuid5(HISTORY_NAMESPACE, f"{message.tenant_id}:{message.pk}"))


def queue(message: Message) -> None:
    """The import's row, in the caller's transaction (the one that stores the message); its task after
    commit. The row, not the task, is what guarantees the import: a lost task is re-queued by the sweep."""
    TemplateHistoryImport.objects.get_or_create(message=message, defaults={"tenant_id": message.tenant_id})
    queueing.after_commit(record_in_salesforce, message.pk)


# The name it had in template_send.py: tasks already queued use it.
@shared_task(name="relay.template_send.record_in_salesforce", ignore_result=True)
def record_in_salesforce(message_id: int) -> str:
    """One try of the import; a retry comes back at the engine's time (see the module docstring)."""
    outcome, due = import_history(message_id)
    # Run eagerly (tests on embedded defaults), a task cannot wait for its eta: the sweep retries instead.
    if due is not None and not record_in_salesforce.app.conf.task_always_eager:
        record_in_salesforce.apply_async((message_id,), eta=due)
    return outcome


def import_history(message_id: int) -> tuple[str, datetime | None]:
    """One try of the import: (what came of it, when to try again or None)."""
    row = TemplateHistoryImport.objects.filter(message_id=message_id).first() or _adopt(message_id)
    if row is None:
        return "nothing to import", None
    now = timezone.now()
    if row.status != Status.PENDING:
        return f"done before ({row.status})", None
    if row.next_attempt_at > now:
        return "not due yet", row.next_attempt_at
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    mine = TemplateHistoryImport.objects.filter(pk=row.pk, status=Status.PENDING, next_attempt_at__lte=now)
    if not engine.claim(mine.filter(free), claimed_until=now + timedelta(seconds=CLAIM_SECONDS)):
        return "taken by another worker", None
    message = (
        Message.objects.select_related("tenant__salesforce", "conversation__sender")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return "message gone", None  # deleted since (its row with it)
    content = message.content or {}
    if content.get("salesforce_history_entry"):
        return _finish(row, Status.RECORDED, "done before")
    if cache.get(NO_HISTORY_KEY.format(tenant_id=message.tenant_id)):
        return _finish(row, Status.UNAVAILABLE, "not available for this org")
    connection = getattr(message.tenant, "salesforce", None)
    if connection is None or connection.desk != connection.Desk.MESSAGING:
        return _finish(row, Status.SKIPPED, "no Messaging desk")
    entry = history_entry_id(message)
    row.attempts += 1
    try:
        with attempt(message, target="salesforce", action=HISTORY_ACTION):
            _import(message, connection, entry)
    except Exception as exc:  # noqa: BLE001 - recorded as an attempt; the engine decides what comes next
        if isinstance(exc, ExternalError) and exc.code == HISTORY_REFUSED:
            cache.set(NO_HISTORY_KEY.format(tenant_id=message.tenant_id), True, NO_HISTORY_SECONDS)
            return _finish(row, Status.UNAVAILABLE, "not available for this org", error=str(exc))
        if not (isinstance(exc, ExternalError) and exc.code == ALREADY_IMPORTED):
            return _failed(row, exc)
    Message.objects.filter(pk=message.pk).update(content={**content, "salesforce_history_entry": entry})
    return _finish(row, Status.RECORDED, "recorded")


def _adopt(message_id: int) -> TemplateHistoryImport | None:
    """The row of an import whose task was queued before imports had rows (its tries so far counted)."""
    message = Message.objects.filter(pk=message_id).first()
    content = (message.content or {}) if message else {}
    if message is None or not (content.get("agent") and content.get("messaging_session_id")):
        return None
    tries = message.delivery_attempts.filter(action=HISTORY_ACTION).count()
    row, _ = TemplateHistoryImport.objects.get_or_create(
        message=message, defaults={"tenant_id": message.tenant_id, "attempts": tries}
    )
    return row


def _finish(row: TemplateHistoryImport, status: str, outcome: str, *, error: str = "") -> tuple[str, None]:
    TemplateHistoryImport.objects.filter(pk=row.pk).update(
        status=status,
        attempts=row.attempts,
        last_error=error or row.last_error,
        claimed_until=None,
        updated_at=timezone.now(),
    )
    return outcome, None


def _failed(row: TemplateHistoryImport, exc: Exception) -> tuple[str, datetime | None]:
    kind = engine.kind_of(exc)
    internal_errors = row.internal_errors + (kind == engine.INTERNAL)
    due = engine.next_try(
        kind,
        attempts=row.attempts,
        internal_errors=internal_errors,
        retry_after=getattr(exc, "retry_after", None),
        max_attempts=HISTORY_MAX_ATTEMPTS,
    )
    now = timezone.now()
    TemplateHistoryImport.objects.filter(pk=row.pk).update(
        status=Status.PENDING if due is not None else Status.FAILED,
        attempts=row.attempts,
        internal_errors=internal_errors,
        next_attempt_at=due or now,
        last_error=str(exc) if isinstance(exc, ExternalError) else describe_internal_error(exc),
        claimed_until=None,
        updated_at=now,
    )
    if due is not None:
        return "retrying", due
    log.warning("tenant %s: template %s not recorded in Salesforce: %s", row.tenant_id, row.message_id, exc)
    return "failed", None


def sweep(now: datetime | None = None) -> int:
    """Re-queue the pending imports that are due, not claimed and not touched for the head start (their task
    was lost, or never queued); touched now, so the next sweeps leave them to the task just queued."""
    now = now or timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    pending = TemplateHistoryImport.objects.filter(status=Status.PENDING).filter(free)
    due = engine.due(pending, now=now, head_start=SWEEP_HEAD_START_SECONDS)
    found = list(due.values_list("pk", "message_id")[:SWEEP_BATCH])
    TemplateHistoryImport.objects.filter(pk__in=[pk for pk, _ in found]).update(updated_at=now)
    for _, message_id in found:
        record_in_salesforce.delay(message_id)
    return len(found)


def _import(message: Message, connection, entry: str) -> None:
    conversation = message.conversation
    agent = message.content.get("agent") or {}
    stamp = now_ms()
    end_user = {"appType": "custom", "subject": conversation.customer, "role": "EndUser"}
    author = {
        "appType": "custom",
        "subject": f"switchboard-agent-{agent.get('id') or 'unknown'}",
        "role": "Chatbot",
    }
    InteractionClient(connection).send_history(
        conversation.sender.channel_address_identifier,
        participants=[
            {"displayName": conversation.customer_name or conversation.customer, "participant": end_user,
             "joinedTime": stamp - 2000},
            {"displayName": f"{agent.get('name') or 'Agent'} (WhatsApp template)", "participant": author,
             "joinedTime": stamp - 2000, "leftTime": stamp},
        ],
        entries=[{"clientTimestamp": stamp - 1000, "sender": author, "entryPayload": text_payload(entry, message.text)}],
        messaging_session={
            "messagingSessionRequestType": "AttachMessagingSession",
            "payload": {"sessionId": message.content["messaging_session_id"]},
        },
    )  # fmt: skip
