"""The conversation's transcript on its Salesforce Case: one FeedItem (a text post on the Case's feed) or one
CaseComment per message, as the admin chose, and the message's file as a ContentVersion whose
``FirstPublishLocationId`` is the Case (so Salesforce links the file to it).

Exactly once: a :class:`~relay.desks.cases_models.CaseEntry` row per message notes when the write started
(``started_at``) before the request, and the record id as soon as Salesforce answers. A retry after a lost
answer (a timeout, a killed worker) first looks on the Case for a record with the same text created since the
write started, and adopts it instead of posting a second one.

Customer messages are written by the desk's ``deliver`` (their delivery retries it); agent and Switchboard
messages (a WhatsApp template too, as the rendered text the customer reads) by the task below
(:func:`write_entry`), queued when the message is recorded and swept again while Salesforce is away.
"""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal import queueing

from ..errors import ExternalError
from ..lines.attempts import describe_internal_error
from ..models import Message
from ..providers.registry import get_provider
from ..salesforce.rest import SalesforceRest
from ..untrusted import storable
from . import cases_api
from .cases_api import datetime_literal, literal
from .cases_models import CaseEntry, CaseLink
from .render import as_text, stored_event

log = logging.getLogger(__name__)

#: FeedItem.Body holds at most 10,000 characters; CaseComment.CommentBody 4,000 bytes ("The maximum size of the
#: comment body is 4,000 bytes", the object's reference: 4,000 characters of accented text are refused).
BODY_LIMIT = {"feed": 10000, "comment": 4000}
LIMIT_IN_BYTES = {"comment"}
#: How far back a retry looks for a record of its own (clocks of the org and ours disagree a little).
ADOPT_SLACK = timedelta(minutes=2)
#: A file larger than this is linked, not uploaded (a JSON insert of ContentVersion carries base64 data).
MAX_FILE_BYTES = 25 * 1024 * 1024
#: What Salesforce answers a record written on a Case that is no more: in the Recycle Bin (ENTITY_IS_DELETED), or
#: an id it no longer knows (INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY, NOT_FOUND). The same codes can mean a
#: permission or a trigger, so a query confirms the Case is gone before anything is done about it.
CASE_GONE_CODES = frozenset(
    {"ENTITY_IS_DELETED", "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", "NOT_FOUND"}
)
#: ``last_error`` of an entry whose Case was deleted while the conversation had no other open Case: it is not
#: retried (``next_attempt_at`` empty) but waits for the conversation's next Case (:func:`move_entries`).
WAITS_FOR_NEXT_CASE = "The Case was deleted in Salesforce: this entry goes on the conversation's next Case"


def body_of(message: Message) -> str:
    """What the Case's transcript shows for a message: who wrote, then what."""
    content = message.content if isinstance(message.content, dict) else {}
    conversation = message.conversation
    if message.direction == Message.Direction.INBOUND:
        channel = conversation.sender.get_channel_display()
        who = f"Customer {conversation.customer_name} ({conversation.customer})".replace("  ", " ")
        if not conversation.customer_name:
            who = f"Customer {conversation.customer}"
        text = as_text(message) or "(empty message)"
        return f"{who} via {channel}:\n{text}"
    if content.get("system") or (content.get("kind") == "template" and not content.get("agent")):
        who = "Switchboard to the customer"  # its own texts, and a template a partner sent through the API
    else:
        agent = content.get("agent")
        agent = agent if isinstance(agent, dict) else {}
        who = f"Agent {agent.get('name') or agent.get('id') or ''}".strip()
    lines = [str(content.get("text") or message.text or "")]
    if content.get("kind") == "media" and content.get("media_filename"):
        lines.append(f"[file: {content['media_filename']}]")
    for button in content.get("buttons") or []:
        if isinstance(button, dict) and button.get("title"):
            lines.append(f"• {button['title']}")
    return f"{who}:\n" + "\n".join(line for line in lines if line)


def _clip(text: str, limit: int, *, in_bytes: bool = False) -> str:
    if not in_bytes:
        return text if len(text) <= limit else text[: limit - 1] + "…"
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - len("…".encode())].decode("utf-8", "ignore") + "…"  # no character cut in half


def open_entry(message: Message, link: CaseLink) -> CaseEntry:
    """The message's transcript row (created once; a second call returns the first row)."""
    entry, _ = CaseEntry.objects.get_or_create(
        message=message, defaults={"tenant_id": message.tenant_id, "case_link": link}
    )
    return entry


def write(entry: CaseEntry, rest: SalesforceRest, how: str) -> None:
    """Write the entry's message on its Case once. Raises ExternalError when Salesforce refuses or is away."""
    if entry.written_at is not None:
        return
    message = entry.message
    case_id = entry.case_link.case_id
    body = _clip(storable(body_of(message)), BODY_LIMIT[how], in_bytes=how in LIMIT_IN_BYTES)
    if not entry.record_id:
        now = timezone.now()
        if entry.started_at is not None:
            entry.record_id = _find_written(rest, how, entry, body) or ""
        if not entry.record_id:
            CaseEntry.objects.filter(pk=entry.pk).update(started_at=entry.started_at or now)
            entry.started_at = entry.started_at or now
            if how == "comment":
                fields = {"ParentId": case_id, "CommentBody": body, "IsPublished": False}
                entry.record_id = rest.create("CaseComment", fields)
            else:
                fields = {"ParentId": case_id, "Body": body, "Type": "TextPost"}
                entry.record_id = rest.create("FeedItem", fields)
        CaseEntry.objects.filter(pk=entry.pk).update(record_id=entry.record_id)
    _write_file(entry, rest, case_id)
    entry.written_at = timezone.now()
    CaseEntry.objects.filter(pk=entry.pk).update(
        written_at=entry.written_at, last_error="", next_attempt_at=None
    )


def _find_written(rest: SalesforceRest, how: str, entry: CaseEntry, body: str) -> str | None:
    """The record a lost answer left behind: same Case, same text, created since the write started, and not one
    another entry holds (the customer or an agent may write the same words twice: "ok", "Thanks")."""
    assert entry.started_at is not None  # noqa: S101 - only a write that started has something to find
    after = datetime_literal(entry.started_at - ADOPT_SLACK)
    case = literal(entry.case_link.case_id)
    if how == "comment":
        field, sobject = "CommentBody", "CaseComment"
    else:
        field, sobject = "Body", "FeedItem"
    soql = (
        f"SELECT Id, {field} FROM {sobject} WHERE ParentId = {case} AND CreatedDate >= {after} "  # noqa: S608
        "ORDER BY CreatedDate ASC"
    )
    found = [str(r.get("Id") or "") for r in rest.query(soql) if r.get(field) == body and r.get("Id")]
    held = set(
        CaseEntry.objects.filter(case_link_id=entry.case_link_id, record_id__in=found)
        .exclude(pk=entry.pk)
        .values_list("record_id", flat=True)
    )
    return next((record_id for record_id in found if record_id not in held), None)


def _write_file(entry: CaseEntry, rest: SalesforceRest, case_id: str) -> None:
    """A customer's file as a Salesforce file on the Case (agent files came from a link the agent has)."""
    message = entry.message
    if message.direction != Message.Direction.INBOUND or message.kind != "media" or entry.file_ids:
        return
    download = _download(message)
    if download is None:
        return
    content, filename = download
    version_id = rest.create(
        "ContentVersion",
        {
            "Title": filename[:255],
            "PathOnClient": filename[:255],
            "VersionData": base64.b64encode(content).decode("ascii"),
            "FirstPublishLocationId": case_id,
        },
    )
    entry.file_ids = [version_id]
    CaseEntry.objects.filter(pk=entry.pk).update(file_ids=entry.file_ids)


def _download(message: Message) -> tuple[bytes, str] | None:
    """The customer's file from the provider, or None when it cannot be had (the text names the file)."""
    media = stored_event(message).media
    if media is None or not media.url:
        return None
    account = message.conversation.sender.account
    try:
        content, _mime, filename = get_provider(account.provider).download_media(account, media.url)
    except ExternalError as exc:
        if not exc.permanent:
            raise
        return None
    if len(content) > MAX_FILE_BYTES:
        return None
    return content, media.filename or filename or media.kind or "file"


# --- a deleted Case: its entries go on the conversation's next Case -----------------------------------------


def case_gone(rest: SalesforceRest, link: CaseLink, exc: ExternalError) -> bool:
    """Whether ``exc``, a refusal of a write on ``link``'s Case, is because the Case was deleted (a query,
    which leaves deleted records out, no longer finds it)."""
    if not exc.permanent or exc.code not in CASE_GONE_CODES or not link.case_id:
        return False
    return cases_api.read_case(rest, link.case_id) is None


def close_gone(link: CaseLink) -> None:
    """Close the link of a deleted Case (what its DELETE change event does when it comes)."""
    now = timezone.now()
    CaseLink.objects.filter(pk=link.pk, is_closed=False).update(is_closed=True, closed_at=now, updated_at=now)
    link.is_closed = True


def move_entries(
    conversation_id: int, link: CaseLink, *, gone: CaseLink | None = None, besides: int | None = None
) -> list[int]:
    """Put the conversation's unwritten entries of deleted Cases on ``link``: those waiting for a Case
    (:data:`WAITS_FOR_NEXT_CASE`) and every one still on ``gone``, except message ``besides`` (the caller's
    own). Their ids, oldest message first: write them in that order so the new Case reads as it happened.
    What the deleted Case had of them (a post, a file) went with it, so each is written again."""
    from_gone = Q(case_link__is_closed=True, last_error__startswith=WAITS_FOR_NEXT_CASE)
    if gone is not None:
        from_gone |= Q(case_link=gone)
    entries = CaseEntry.objects.filter(
        from_gone, case_link__conversation_id=conversation_id, written_at=None
    ).exclude(case_link=link)
    if besides is not None:
        entries = entries.exclude(message_id=besides)
    ids = list(entries.order_by("message__created_at", "message_id").values_list("pk", flat=True))
    if ids:
        CaseEntry.objects.filter(pk__in=ids, written_at=None).update(
            case_link=link,
            record_id="",
            file_ids=[],
            started_at=None,
            attempts=0,
            last_error="",
            next_attempt_at=timezone.now(),
        )
        log.info("tenant %s: %s transcript entries of a deleted Case go on Case %s", link.tenant_id, len(ids),
                 link.case_id)  # fmt: skip
    return ids


def _after_gone(entry: CaseEntry, rest: SalesforceRest, exc: ExternalError) -> bool:
    """``entry``'s Case was deleted (its write refused, confirmed by a query): its entries go on the
    conversation's open Case, written now in order, or wait for its next one. False when the Case is there."""
    gone = entry.case_link
    if not case_gone(rest, gone, exc):
        return False
    close_gone(gone)
    open_link = (
        CaseLink.objects.filter(conversation_id=gone.conversation_id, is_closed=False)
        .exclude(case_id="")
        .first()
    )
    if (
        open_link is None
    ):  # the customer's next message opens one, and takes these with it (CasesDesk.deliver)
        CaseEntry.objects.filter(case_link=gone, written_at=None).update(
            last_error=f"{WAITS_FOR_NEXT_CASE} ({exc.code}).", next_attempt_at=None
        )
        log.info("tenant %s: Case %s is gone; its transcript entries wait for the next Case", gone.tenant_id,
                 gone.case_id)  # fmt: skip
        return True
    for pk in move_entries(gone.conversation_id, open_link, gone=gone):
        write_entry(pk)
    return True


# --- agent and Switchboard messages: written by a task, swept while Salesforce is away -------------------


def queue_entry(message: Message, link: CaseLink) -> CaseEntry:
    """Note that ``message`` belongs on ``link``'s Case and write it after the caller's commit."""
    entry = open_entry(message, link)
    CaseEntry.objects.filter(pk=entry.pk, written_at=None).update(next_attempt_at=timezone.now())
    queueing.after_commit(write_entry, entry.pk)
    return entry


@shared_task(name="relay.cases.write_transcript", ignore_result=True)
def write_entry(entry_id: int) -> None:
    """Write one pending entry; on failure note the error and when to try again (the sweep retries)."""
    with transaction.atomic():
        entry = (
            CaseEntry.objects.select_for_update(
                skip_locked=True, of=("self",)
            )  # the row only: joins may be outer
            .select_related(
                "case_link", "message__conversation__sender__account", "message__tenant__salesforce"
            )
            .filter(pk=entry_id, written_at=None)
            .first()
        )
        if entry is None or not entry.case_link.case_id:
            return
        connection = entry.message.tenant.salesforce
        rest = SalesforceRest(connection)
        try:
            write(entry, rest, connection.case_transcript)
        except Exception as exc:  # noqa: BLE001 - kept on the row; the sweep tries again with a backoff
            if isinstance(exc, ExternalError):
                try:
                    if _after_gone(entry, rest, exc):
                        return  # a deleted Case's entry is never dropped: on the next Case, or waiting for it
                except ExternalError as unconfirmed:  # the query that would tell failed: tried again later
                    exc = unconfirmed
            attempts = entry.attempts + 1
            delay = min(settings.RELAY_RETRY_CAP_SECONDS, 5 * 2**attempts)
            error = str(exc) if isinstance(exc, ExternalError) else describe_internal_error(exc)
            give_up = isinstance(exc, ExternalError) and exc.permanent
            CaseEntry.objects.filter(pk=entry.pk).update(
                attempts=attempts,
                last_error=error[:1000],
                next_attempt_at=None if give_up else timezone.now() + timedelta(seconds=delay),
            )
            log.warning("tenant %s: transcript entry %s not written: %s", entry.tenant_id, entry.pk, error)


@shared_task(name="relay.cases.sweep_transcripts", ignore_result=True)
def sweep_transcripts() -> int:
    """Queue every transcript entry that is due again (Salesforce was away, or a worker died), after moving
    the entries that wait for a Case onto their conversation's open one (opened while they were being
    refused: its customer's message found none waiting yet)."""
    waiting = (
        CaseEntry.objects.filter(
            written_at=None, next_attempt_at=None, last_error__startswith=WAITS_FOR_NEXT_CASE
        )
        .values_list("case_link__conversation_id", flat=True)
        .distinct()[:100]
    )
    for conversation_id in list(waiting):
        open_link = (
            CaseLink.objects.filter(conversation_id=conversation_id, is_closed=False)
            .exclude(case_id="")
            .first()
        )
        if open_link is not None:
            move_entries(conversation_id, open_link)  # due now: taken below, in their order
    due = list(
        CaseEntry.objects.filter(written_at=None, next_attempt_at__lte=timezone.now())
        .exclude(case_link__case_id="")
        .order_by("message__created_at", "message_id")
        .values_list("pk", flat=True)[:500]
    )
    for pk in due:
        write_entry.delay(pk)
    return len(due)
