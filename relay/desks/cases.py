"""The Cases desk: a conversation is a Service Cloud Case (Service Cloud user licences only, docs/cases.md).

Customer → agent (:meth:`CasesDesk.deliver`): the first message of a conversation creates the Case through the
REST API (subject from the message, Origin per channel, SuppliedPhone, the Contact matched by phone or created,
the tenant's field mapping, OwnerId from the routing rules); a customer writing after the Case closed reopens
it within the tenant's window or opens a new one. Every message, both ways, is written on the Case
(relay/desks/cases_transcript.py).

Agent → customer: agents answer from the Case chat panel (:func:`reply_from_panel`, portal/console/case_panel);
a WhatsApp template sent into the conversation (the template panel, the partner API) goes on its Case too
(:func:`queue_template_on_case`).
The Case's own changes come as Change Data Capture events on ``/data/CaseChangeEvent`` over the Pub/Sub API
(:meth:`CasesDesk.receive`, relay/desks/cases_status.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.models import RoutingRule
from tenants.validators import normalize_salesforce_id

from ..errors import ExternalError
from ..lines.attempts import attempt
from ..models import Conversation, Message
from ..outbound.record import queue_outbound
from ..salesforce.rest import SalesforceRest
from . import cases_api, cases_status
from .base import Desk, mark_delivered
from .cases_models import CaseEntry, CaseLink
from .cases_transcript import case_gone, close_gone, move_entries, open_entry, queue_entry, write, write_entry
from .render import as_text
from .routing import matching_rule

if TYPE_CHECKING:
    from tenants.models import SalesforceConnection

log = logging.getLogger(__name__)

SUBJECT_LENGTH = 255  # Case.Subject
#: A Case create whose answer was lost is looked for from a little before it was sent (clock skew).
CREATE_SLACK = timedelta(minutes=2)
PANEL_TEXT_LIMIT = 4096  # WhatsApp's longest text; the provider adapters split or refuse beyond
PANEL_CHOICES_LIMIT = 10


class PanelReplyError(ValidationError):
    """An agent's reply that cannot be sent as given: the message says what to change (shown in the panel)."""


class CasesDesk(Desk):
    name = "cases"
    agent_feed = "pubsub"

    @staticmethod
    def pubsub_topic(connection: SalesforceConnection) -> str:
        return "/data/CaseChangeEvent"

    def deliver(self, message: Message) -> None:
        conversation = message.conversation
        rest = SalesforceRest(self.connection)
        with attempt(message, target="salesforce", action="case"):
            link = ensure_case(self.connection, rest, conversation, message)
            # What was written for a Case since deleted (an agent's reply, the closing text) goes first.
            _write_moved(move_entries(conversation.pk, link, besides=message.pk))
            entry = open_entry(message, link)
            try:
                write(entry, rest, self.connection.case_transcript)
            except ExternalError as exc:
                if not case_gone(rest, entry.case_link, exc):
                    raise
                # Deleted in Salesforce and its DELETE change event never reached us: the link said open,
                # and every message of the conversation would have been refused on it for good.
                gone = entry.case_link
                entry = _move_to_new_case(self.connection, rest, conversation, message, entry)
                _write_moved(move_entries(conversation.pk, entry.case_link, gone=gone, besides=message.pk))
                write(entry, rest, self.connection.case_transcript)
        mark_delivered(message, salesforce_entry_id=f"case:{entry.record_id}" if entry.record_id else "")

    def agent_available(self, conversation: Conversation) -> bool | None:
        return None  # Omni-Channel routes the Case when an agent is free; the customer's message waits on it

    def receive(self, event: dict) -> None:
        cases_status.handle_change_event(self.connection, event)

    def end_session(self, conversation: Conversation) -> None:
        """Close the open Case (Status "Closed"); the change event that follows ends the conversation."""
        link = conversation.case_links.filter(is_closed=False).exclude(case_id="").first()
        if link is not None:
            SalesforceRest(self.connection).update("Case", link.case_id, {"Status": "Closed"})


# --- the Case of a conversation ------------------------------------------------------------------------


def current_link(conversation: Conversation) -> CaseLink | None:
    """The conversation's open Case, else its last one (None before its first message reached Salesforce)."""
    return conversation.case_links.order_by("is_closed", "-created_at", "-id").first()


def link_for_case(tenant_id: int, case_id: str) -> CaseLink | None:
    """The link of a Case id (15 or 18 characters) in the tenant; None for an id that is not one of ours."""
    try:
        case_id = normalize_salesforce_id(case_id)
    except Exception:  # noqa: BLE001 - a ValidationError: not an id, so not one of our Cases
        return None
    return (
        CaseLink.objects.filter(tenant_id=tenant_id, case_id=case_id)
        .select_related("conversation__sender__account")
        .first()
    )


def ensure_case(
    connection: SalesforceConnection, rest: SalesforceRest, conversation: Conversation, message: Message
) -> CaseLink:
    """The open Case the message goes on: the open one, the last one reopened within the window, or a new one."""
    link = conversation.case_links.filter(is_closed=False).first()
    if link is not None and link.case_id:
        return link
    if link is None:
        last = conversation.case_links.exclude(case_id="").first()
        if last is not None and _within_reopen_window(connection, last):
            try:
                return _reopen(connection, rest, last)
            except ExternalError as exc:
                if not (exc.permanent and exc.status == 404):
                    raise
                # Deleted in Salesforce (404 NOT_FOUND / ENTITY_IS_DELETED): nothing to reopen, and failing
                # would lose the customer's message - a new Case takes it.
                log.info("tenant %s: Case %s is gone (%s); opening a new one", conversation.tenant_id,
                         last.case_id, exc.code)  # fmt: skip
        link = _start_link(conversation, message)
    return _create_case(connection, rest, conversation, message, link)


def _move_to_new_case(
    connection: SalesforceConnection,
    rest: SalesforceRest,
    conversation: Conversation,
    message: Message,
    entry: CaseEntry,
) -> CaseEntry:
    """Close the link of a deleted Case (what its DELETE change event does) and put ``entry`` on the Case
    the conversation gets instead (a new one: the deleted Case cannot be reopened)."""
    gone = entry.case_link
    log.info("tenant %s: Case %s is gone; its conversation moves to a new Case", conversation.tenant_id,
             gone.case_id)  # fmt: skip
    close_gone(gone)
    link = ensure_case(connection, rest, conversation, message)
    CaseEntry.objects.filter(pk=entry.pk, written_at=None).update(
        case_link=link, record_id="", started_at=None
    )
    entry.refresh_from_db()
    return entry


def _write_moved(entry_ids: list[int]) -> None:
    """Write entries moved off a deleted Case, in order, before the customer's message that follows them (a
    failure is kept on the entry and retried by the sweep, as any transcript entry's: it holds no message)."""
    for pk in entry_ids:
        write_entry(pk)


def _within_reopen_window(connection: SalesforceConnection, link: CaseLink) -> bool:
    hours = connection.case_reopen_hours
    closed_at = link.closed_at or link.updated_at
    return bool(hours) and timezone.now() - closed_at <= timedelta(hours=hours)


def _reopen(connection: SalesforceConnection, rest: SalesforceRest, link: CaseLink) -> CaseLink:
    status = connection.case_reopen_status or "New"
    rest.update("Case", link.case_id, {"Status": status})  # a retry sets the same status again: harmless
    CaseLink.objects.filter(pk=link.pk).update(
        is_closed=False, closed_at=None, status=status, reopened_count=link.reopened_count + 1
    )
    link.refresh_from_db()
    return link


def _start_link(conversation: Conversation, message: Message) -> CaseLink:
    """The row of a Case about to be created, written before the request (see :func:`_create_case`)."""
    subject = subject_of(message)
    try:
        with transaction.atomic():
            return CaseLink.objects.create(
                tenant_id=conversation.tenant_id,
                conversation=conversation,
                subject=subject,
                create_started_at=timezone.now(),
            )
    except IntegrityError:  # another worker started it first (a lease taken over): use that one
        return conversation.case_links.get(is_closed=False)


def _create_case(
    connection: SalesforceConnection,
    rest: SalesforceRest,
    conversation: Conversation,
    message: Message,
    link: CaseLink,
) -> CaseLink:
    """Create the Case of ``link`` once: a retry first looks for the Case a lost answer left behind."""
    since = (link.create_started_at or link.created_at) - CREATE_SLACK
    record = cases_api.find_created_case(
        rest, conversation.customer, link.subject, since, taken=lambda ids: _held_cases(link, ids)
    )
    if record is None:
        contact_id = link.contact_id or _contact(connection, rest, conversation)
        if contact_id and not link.contact_id:
            CaseLink.objects.filter(pk=link.pk).update(contact_id=contact_id)
            link.contact_id = contact_id
        fields = case_fields(connection, conversation, link)
        case_id = cases_api.record_id(rest.create("Case", fields))
        record = cases_api.read_case(rest, case_id) or {"Id": case_id}
    changes = {
        "case_id": normalize_salesforce_id(str(record["Id"])),
        "case_number": str(record.get("CaseNumber") or "")[:30],
        "status": str(record.get("Status") or "")[:40],
        "owner_id": str(record.get("OwnerId") or "")[:18],
        "contact_id": str(record.get("ContactId") or link.contact_id or "")[:18],
    }
    CaseLink.objects.filter(pk=link.pk).update(**changes)
    for field, value in changes.items():
        setattr(link, field, value)
    return link


def _held_cases(link: CaseLink, case_ids: list[str]) -> set[str]:
    """Of ``case_ids``, those another link of the tenant holds already."""
    held = CaseLink.objects.filter(tenant_id=link.tenant_id, case_id__in=[c for c in case_ids if c])
    return set(held.exclude(pk=link.pk).values_list("case_id", flat=True))


def _contact(connection: SalesforceConnection, rest: SalesforceRest, conversation: Conversation) -> str:
    if not conversation.customer.startswith("+"):
        return ""  # a Viber user id is no phone number: no Contact to match
    found = cases_api.find_contact(rest, conversation.customer)
    if found or not connection.case_create_contacts:
        return found or ""
    return cases_api.create_contact(rest, conversation.customer, conversation.customer_name)


def subject_of(message: Message) -> str:
    """The first line of the customer's first message, cut to Case.Subject's length."""
    text = " ".join((as_text(message) or "").split())
    channel = message.conversation.sender.get_channel_display()
    subject = f"{channel}: {text}" if text else f"{channel} conversation with {message.conversation.customer}"
    return subject if len(subject) <= SUBJECT_LENGTH else subject[: SUBJECT_LENGTH - 1] + "…"


def case_fields(connection: SalesforceConnection, conversation: Conversation, link: CaseLink) -> dict:
    """The new Case's fields: the tenant's mapping first, then what Switchboard sets (which the mapping
    cannot override, tenants/case_settings.py)."""
    sender = conversation.sender
    values = {
        "{customer}": conversation.customer,
        "{customer_name}": conversation.customer_name,
        "{channel}": sender.get_channel_display(),
        "{sender}": sender.address,
        "{sender_name}": sender.display_name or sender.address,
    }
    fields: dict[str, object] = {}
    for field, template in (connection.case_field_mapping or {}).items():
        value = str(template)
        for placeholder, actual in values.items():
            value = value.replace(placeholder, actual)
        fields[field] = value
    fields["Subject"] = link.subject
    fields["Origin"] = (connection.case_origins or {}).get(sender.channel) or sender.get_channel_display()
    fields["SuppliedPhone"] = conversation.customer[:40]
    if conversation.customer_name:
        fields["SuppliedName"] = conversation.customer_name[:80]
    if link.contact_id:
        fields["ContactId"] = link.contact_id
    owner = owner_for(connection, conversation)
    if owner:
        fields["OwnerId"] = owner
    return fields


def owner_for(connection: SalesforceConnection, conversation: Conversation) -> str:
    """OwnerId of a new Case: the returning customer's last agent (sticky rule), the rule's queue or agent,
    else the tenant's default queue; "" leaves it to the org's Case assignment rules."""
    rule = matching_rule(conversation)
    if rule is not None:
        if rule.sticky_agent and conversation.last_agent_id:
            return conversation.last_agent_id
        if rule.target_type in (RoutingRule.Target.QUEUE, RoutingRule.Target.AGENT) and rule.target_id:
            return rule.target_id
    return connection.case_default_queue_id


# --- the agent's side -----------------------------------------------------------------------------------


def reply_from_panel(
    conversation: Conversation,
    user_id: str,
    text: str,
    attachment: dict | None = None,
    choices: list[str] | None = None,
    user_name: str = "",
) -> Message:
    """Record an agent's reply from the Case chat panel: an outbound message the provider sends (the
    conversation's line, relay/outbound) and an entry for the Case's transcript, written after commit.

    ``attachment``: ``{"media_url", "media_mime_type", "media_filename", ...}``, the file where the provider
    fetches it (other keys are kept on the message's content). ``choices``: the titles of quick replies.
    Raises :class:`PanelReplyError` (a ValidationError) for a reply that cannot be sent as given; then nothing
    is stored."""
    try:
        agent_id = normalize_salesforce_id(user_id, kind="user")
    except Exception as exc:  # noqa: BLE001 - a ValidationError with its reason
        raise PanelReplyError("The agent is not a Salesforce user.") from exc
    content = _panel_content(text, attachment, choices)
    content["agent"] = {"id": agent_id, "name": str(user_name or "")[:255]}
    content["source"] = "case_panel"
    with transaction.atomic():
        link = current_link(conversation)
        if link is None or not link.case_id:
            raise PanelReplyError("This conversation has no Case yet.")
        message = queue_outbound(conversation, content)
        if message is None:  # only an entry id can make it None, and the panel gives none
            raise PanelReplyError("The reply was already recorded.")
        Conversation.objects.filter(pk=conversation.pk).update(last_agent_id=agent_id)
        queue_entry(message, link)
    return message


def _panel_content(text: str, attachment: dict | None, choices: list[str] | None) -> dict:
    text = (text or "").strip() if isinstance(text, str) else ""
    if len(text) > PANEL_TEXT_LIMIT:
        raise PanelReplyError(f"A reply has at most {PANEL_TEXT_LIMIT} characters.")
    if attachment:
        if not isinstance(attachment, dict):
            raise PanelReplyError("The attachment could not be read.")
        url = attachment.get("media_url") or attachment.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise PanelReplyError("The attachment has no link the provider can fetch.")
        extra = {k: v for k, v in attachment.items() if isinstance(k, str) and not k.startswith("media_")}
        extra.pop("url", None)
        return {
            **extra,
            "kind": "media",
            "text": text,
            "media_url": url,
            "media_mime_type": str(attachment.get("media_mime_type") or attachment.get("mime_type") or "")[
                :100
            ],
            "media_filename": str(attachment.get("media_filename") or attachment.get("filename") or "")[:255],
        }
    if not text:
        raise PanelReplyError("Write a reply first.")
    if choices:
        titles = [c.strip() for c in choices if isinstance(c, str) and c.strip()]
        if not titles or len(titles) > PANEL_CHOICES_LIMIT or any(len(t) > 80 for t in titles):
            raise PanelReplyError(
                f"Quick replies: 1 to {PANEL_CHOICES_LIMIT} options of at most 80 characters."
            )
        return {"kind": "choices", "text": text, "buttons": [{"title": t, "payload": t} for t in titles]}
    return {"kind": "text", "text": text}


def queue_template_on_case(message: Message, case_id: str = "") -> CaseEntry | None:
    """Note a WhatsApp template just queued to the customer for the conversation's Case transcript, in the
    caller's transaction (the one that stores the message), so it is written once, as a panel reply is.

    The Case: the one the template panel was opened on (``case_id``, when it is one of this conversation's),
    else the open Case, else the last one (what the customer was told belongs with the exchange it follows;
    their answer reopens or opens a Case as usual). None when the tenant is on another desk or the
    conversation has no Case yet (the panel then shows the message in the Case's time, as any other)."""
    connection = getattr(message.tenant, "salesforce", None)
    if connection is None or connection.desk != connection.Desk.CASES:
        return None
    links = CaseLink.objects.filter(conversation_id=message.conversation_id).exclude(case_id="")
    link = None
    if case_id:
        try:
            link = links.filter(case_id=normalize_salesforce_id(case_id)).first()
        except ValidationError:
            link = None  # not a Case id (a Messaging Session's, say): the conversation's own Case
    link = link or links.order_by("is_closed", "-created_at", "-id").first()
    return None if link is None else queue_entry(message, link)
