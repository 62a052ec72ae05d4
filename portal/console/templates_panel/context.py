"""The Messaging Session the panel sits on: who the customer is and the Salesforce values the agent may
insert into a template, read with one SOQL query per panel load.

If Salesforce cannot answer, the panel still works by hand: the customer's number comes from the
conversation Switchboard already has for that session, and the panel says why the values are missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from relay.errors import ExternalError
from relay.models import Conversation
from relay.salesforce.rest import SalesforceRest
from tenants.models import Tenant
from tenants.validators import normalize_e164, normalize_salesforce_id

log = logging.getLogger(__name__)

CONTACT_FIELDS = (
    ("Name", "Contact name"),
    ("FirstName", "Contact first name"),
    ("LastName", "Contact last name"),
    ("Email", "Contact email"),
    ("Phone", "Contact phone"),
    ("MobilePhone", "Contact mobile"),
    ("Title", "Contact title"),
)
CASE_FIELDS = (
    ("CaseNumber", "Case number"),
    ("Subject", "Case subject"),
    ("Status", "Case status"),
    ("Priority", "Case priority"),
)


def session_soql(record_id: str) -> str:
    """One query for everything: the end user, their contact (on the session or the end user) and the case."""
    contact = [f"EndUserContact.{name}" for name, _ in CONTACT_FIELDS] + ["EndUserContact.Account.Name"]
    end_user_contact = [f"MessagingEndUser.Contact.{name}" for name, _ in CONTACT_FIELDS] + [
        "MessagingEndUser.Contact.Account.Name"
    ]
    case = [f"Case.{name}" for name, _ in CASE_FIELDS]
    fields = [
        "Id",
        "Name",
        "Status",
        "MessagingChannel.ChannelAddressIdentifier",
        "MessagingEndUser.Name",
        "MessagingEndUser.MessagingPlatformKey",
        *contact,
        *end_user_contact,
        *case,
    ]
    record_id = normalize_session_id(record_id)  # letters and digits only: safe inside the quotes
    return f"SELECT {', '.join(fields)} FROM MessagingSession WHERE Id = '{record_id}'"  # noqa: S608


@dataclass(frozen=True)
class PickerValue:
    label: str
    value: str


@dataclass
class SessionContext:
    record_id: str = ""  # 18 characters; "" when the panel is not on a session
    name: str = ""  # MS-0000001
    exists: bool | None = None  # None: could not be checked
    customer: str = ""  # E.164 when it is a phone number, else as Salesforce has it
    customer_name: str = ""
    channel_address: str = ""
    values: list[PickerValue] = field(default_factory=list)
    problem: str = ""  # why the Salesforce values are not available

    @property
    def picker_json(self) -> list[dict]:
        return [{"label": v.label, "value": v.value} for v in self.values]


def normalize_session_id(value: str) -> str:
    """18-character MessagingSession id, or ValidationError saying what is wrong with it."""
    return normalize_salesforce_id(value, kind="messaging_session")


def load(tenant: Tenant, record_id: str, *, agent_name: str = "") -> SessionContext:
    context = SessionContext(record_id=record_id)
    connection = getattr(tenant, "salesforce", None)
    row = None
    if connection is None:
        context.problem = "Salesforce is not connected for this org yet, so its values cannot be inserted."
    else:
        try:
            rows = SalesforceRest(connection).query(session_soql(record_id))
        except ExternalError as exc:
            log.warning("tenant %s: panel context for %s failed: %s", tenant.slug, record_id, exc)
            context.problem = (
                f"Salesforce values could not be loaded ({exc.message}). Type the values instead."
            )
        else:
            row = rows[0] if rows else None
            context.exists = row is not None
    if row is not None:
        _from_salesforce(context, row)
    else:
        _from_switchboard(context, tenant)
    if agent_name:
        context.values.append(PickerValue("Your name", agent_name))
    return context


def _get(row: dict | None, path: str) -> str:
    for part in path.split("."):
        if not isinstance(row, dict):
            return ""
        row = row.get(part)
    return "" if row is None or isinstance(row, dict) else str(row)


def _from_salesforce(context: SessionContext, row: dict) -> None:
    context.name = _get(row, "Name")
    context.channel_address = _get(row, "MessagingChannel.ChannelAddressIdentifier")
    key = _get(row, "MessagingEndUser.MessagingPlatformKey")
    context.customer = customer_number(key)
    context.customer_name = _get(row, "MessagingEndUser.Name")
    values = []
    if context.customer_name and context.customer_name != key:
        values.append(PickerValue("Customer name", context.customer_name))
    if context.customer:
        values.append(PickerValue("Customer number", context.customer))
    contact = "EndUserContact" if row.get("EndUserContact") else "MessagingEndUser.Contact"
    for name, label in CONTACT_FIELDS:
        values.append(PickerValue(label, _get(row, f"{contact}.{name}")))
    values.append(PickerValue("Account name", _get(row, f"{contact}.Account.Name")))
    for name, label in CASE_FIELDS:
        values.append(PickerValue(label, _get(row, f"Case.{name}")))
    context.values = [v for v in values if v.value.strip()]


def _from_switchboard(context: SessionContext, tenant: Tenant) -> None:
    """Salesforce did not answer: the conversation Switchboard knows for this session, if any."""
    conversation = (
        Conversation.objects.for_tenant(tenant)
        .filter(messaging_session_id__in=session_id_forms(context.record_id))
        .select_related("sender")
        .first()
    )
    if conversation is None:
        return
    if context.exists is None:
        context.exists = True
    context.customer = conversation.customer
    context.customer_name = conversation.customer_name
    context.channel_address = conversation.sender.channel_address_identifier
    if conversation.customer_name:
        context.values.append(PickerValue("Customer name", conversation.customer_name))


def session_id_forms(record_id: str) -> list[str]:
    """The 15- and 18-character forms of an id, to match a stored one exactly (ids are case-sensitive, so
    never a prefix match, which SQLite's LIKE would also case-fold)."""
    return [record_id[:15], record_id] if len(record_id) == 18 else [record_id]


def customer_number(key: str) -> str:
    """``MessagingPlatformKey`` as E.164 when it is a number (``whatsapp:+44...`` too), else unchanged."""
    raw = (key or "").strip()
    candidate = raw.split(":", 1)[1] if ":" in raw else raw
    try:
        return normalize_e164(candidate)
    except ValidationError:
        return raw
