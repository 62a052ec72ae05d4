"""Case status sync: Change Data Capture events of ``/data/CaseChangeEvent`` → the conversation.

A change event's ``ChangeEventHeader`` names the Case(s) (``recordIds``) and the change; over the Pub/Sub
API every record field is in the event and "unchanged fields are null" (Salesforce, "Differences Between
Change Events Received with Streaming API vs. Pub/Sub API"), so a non-null Status or OwnerId is a change.
Dates arrive as epoch milliseconds. ``changedFields`` is a bitmap over the schema's fields
(Pub/Sub API, "Event Deserialization Considerations"): the values themselves say enough here.

What a change does: a new Status → the tenant's text for it to the customer (if set) and a partner event;
a closed Case → the closing text, the conversation ends; a new owner that is a user → the sticky agent.
A replayed event (a listener restart resumes from its cursor) changes nothing twice: texts are keyed by the
event's ``transactionKey`` and ``sequenceNumber``, the rest are idempotent updates.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from .. import signals
from ..models import Conversation, Message
from ..outbound.record import queue_outbound
from ..salesforce.rest import SalesforceRest
from ..untrusted import bounded_id, max_length_of
from . import cases_api
from .cases_models import CaseEntry, CaseLink
from .cases_transcript import WAITS_FOR_NEXT_CASE, queue_entry

if TYPE_CHECKING:
    from tenants.models import SalesforceConnection

log = logging.getLogger(__name__)

_ENTRY_ID_LENGTH = max_length_of(Message, "salesforce_entry_id")
CHANGE_TYPES = (
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_UNDELETE",
    "GAP_DELETE",
    "GAP_OVERFLOW",
)
#: The Case is gone (in the Recycle Bin). Not UNDELETE nor GAP_UNDELETE, which end in "DELETE" too: those bring
#: it back ("For an undeleted record, the body includes all record and system fields from the original record",
#: Change Data Capture Developer Guide, "Change Event Body Fields").
DELETED = ("DELETE", "GAP_DELETE")
#: Gap events carry the header only: "your application can retrieve the Salesforce record using the record
#: ID value to get the current data" (Change Data Capture Developer Guide, "Gap Events").
READ_AGAIN = ("GAP_CREATE", "GAP_UPDATE", "GAP_UNDELETE")
#: An overflow event (a transaction of more than 100,000 changes) "contains only header fields" and no record
#: id (Change Data Capture Developer Guide, "Overflow Events"): the conversations' open Cases are read again, so
#: many at a time (an IN list well inside SOQL's and a URL's limits).
READ_BATCH = 100


def handle_change_event(connection: SalesforceConnection, event: dict) -> None:
    """Apply one decoded CaseChangeEvent. A malformed event is logged and skipped (never raised: it would
    only come back)."""
    header = event.get("ChangeEventHeader") if isinstance(event, dict) else None
    if not isinstance(header, dict) or header.get("entityName") != "Case":
        log.warning("tenant %s: skipped a change event that is not a Case's", connection.tenant_id)
        return
    change_type = str(header.get("changeType") or "")
    if change_type not in CHANGE_TYPES:
        return  # CREATE: the Case Switchboard just created (its link has what the create answered)
    key = f"{header.get('transactionKey') or ''}:{header.get('sequenceNumber') or ''}"
    at = _epoch_ms(header.get("commitTimestamp")) or timezone.now()
    if change_type == "GAP_OVERFLOW":
        _read_open_cases(connection, key=key, at=at)
        return
    record_ids = header.get("recordIds")
    if not isinstance(record_ids, list):
        log.warning("tenant %s: a Case change event without recordIds", connection.tenant_id)
        return
    deleted = change_type in DELETED
    for case_id in record_ids:
        if not isinstance(case_id, str) or not case_id:
            continue
        values = event
        if change_type in READ_AGAIN:
            if not CaseLink.objects.filter(tenant_id=connection.tenant_id, case_id=case_id[:18]).exists():
                continue  # not a conversation's Case: no call spent on it
            record = cases_api.read_case(
                SalesforceRest(connection), case_id[:18]
            )  # ExternalError: offered again
            if record is None:
                continue
            values = {name: record.get(name) for name in ("Status", "OwnerId", "IsClosed")}
        _apply(connection, case_id[:18], values, key=key, at=at, deleted=deleted)


def _read_open_cases(connection: SalesforceConnection, *, key: str, at: datetime) -> None:
    """After an overflow event: the tenant's open Cases as they are now, applied like a gap event's. A Case
    the query does not return is left as it is (a write on it finds out whether it was deleted)."""
    open_ids = list(
        CaseLink.objects.filter(tenant_id=connection.tenant_id, is_closed=False)
        .exclude(case_id="")
        .order_by("pk")
        .values_list("case_id", flat=True)
    )
    if not open_ids:
        return
    rest = SalesforceRest(connection)
    log.info("tenant %s: a Case overflow event; reading its %s open Cases again", connection.tenant_id,
             len(open_ids))  # fmt: skip
    for start in range(0, len(open_ids), READ_BATCH):
        for record in cases_api.read_cases(
            rest, open_ids[start : start + READ_BATCH]
        ):  # ExternalError: again
            values = {name: record.get(name) for name in ("Status", "OwnerId", "IsClosed")}
            _apply(connection, str(record.get("Id") or "")[:18], values, key=key, at=at, deleted=False)


def _apply(
    connection: SalesforceConnection, case_id: str, event: dict, *, key: str, at: datetime, deleted: bool
) -> None:
    with transaction.atomic():
        link = (
            CaseLink.objects.select_for_update(of=("self",))  # the link only, not its conversation or tenant
            .filter(tenant_id=connection.tenant_id, case_id=case_id)
            .select_related("conversation__tenant", "conversation__sender__account")
            .first()
        )
        if link is None:
            return  # a Case that is not a conversation's
        conversation = link.conversation
        status = _text(event.get("Status"), 40)
        owner = _text(event.get("OwnerId"), 18)
        closed = deleted or event.get("IsClosed") is True
        reopened = event.get("IsClosed") is False and link.is_closed
        # An old Case reopened while the conversation is on a newer open one: a conversation has one open Case
        # (the one its messages go on), so the old link only takes the status; no text about it to the customer.
        elsewhere = (
            reopened
            and CaseLink.objects.filter(conversation_id=conversation.pk, is_closed=False)
            .exclude(pk=link.pk)
            .exists()
        )
        reopened = reopened and not elsewhere
        changes: dict = {}
        if owner and owner != link.owner_id:
            changes["owner_id"] = owner
            if owner.startswith("005"):  # a user took the Case: the customer's agent next time (sticky)
                Conversation.objects.filter(pk=conversation.pk).update(last_agent_id=owner)
        if status and status != link.status:
            changes["status"] = status
            text = (connection.case_status_texts or {}).get(status)
            if text and not closed and not elsewhere:
                _say(conversation, link, text, key=f"case:{key}:{case_id}:status", system="case_status")
        if closed and not link.is_closed:
            changes.update(is_closed=True, closed_at=_epoch_ms(event.get("ClosedDate")) or at)
        elif reopened:
            changes.update(is_closed=False, closed_at=None)
            # Entries that waited for a Case because this one was deleted (now undeleted) are written on it.
            CaseEntry.objects.filter(
                case_link=link, written_at=None, last_error__startswith=WAITS_FOR_NEXT_CASE
            ).update(last_error="", next_attempt_at=timezone.now())
        if not changes:
            return
        CaseLink.objects.filter(pk=link.pk).update(**changes)
        for field, value in changes.items():
            setattr(link, field, value)
        if changes.get("is_closed"):
            _end(conversation, link, key=f"case:{key}:{case_id}:closed")
        with signals.together(conversation.tenant_id, "conversation.session_status_changed"):
            signals.conversation_event.send_robust(
                sender=Conversation,
                conversation=conversation,
                event="session_status_changed",
                data={
                    "session_status": link.status,
                    "case_id": link.case_id,
                    "case_number": link.case_number,
                    "case_closed": link.is_closed,
                    "owner_id": link.owner_id,
                },
            )


def _end(conversation: Conversation, link: CaseLink, *, key: str) -> None:
    """The Case closed: the closing text (if the tenant set one), and the conversation ends."""
    closing = conversation.tenant.closing_text
    if closing:
        _say(conversation, link, closing, key=key, system="closing")
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.CLOSED, updated_at=timezone.now()
    )
    conversation.status = Conversation.Status.CLOSED


def _say(conversation: Conversation, link: CaseLink, text: str, *, key: str, system: str) -> None:
    """A text Switchboard sends the customer for the Case: once per ``key`` however often its event is
    replayed, and written on the Case's transcript too."""
    message = queue_outbound(
        conversation,
        {"kind": "text", "text": text, "system": system},
        salesforce_entry_id=bounded_id(key, _ENTRY_ID_LENGTH),
    )
    if message is not None:
        queue_entry(message, link)


def _text(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _epoch_ms(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
