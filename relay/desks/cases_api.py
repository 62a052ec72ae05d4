"""The Case and Contact records the Cases desk reads and writes through the REST API (relay/salesforce/rest.py).

Every value put into SOQL goes through :func:`literal` (quotes and backslashes escaped, as the SOQL reference
asks); ids are checked to be ids before they are used at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from ..salesforce.rest import SalesforceRest

_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
CASE_FIELDS = "Id, CaseNumber, Status, IsClosed, ClosedDate, OwnerId, ContactId, Subject"


def literal(value: str) -> str:
    """A SOQL string literal: ``'O\\'Brien'``."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def datetime_literal(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def record_id(value: object) -> str:
    """An id Salesforce gave us, or ValueError: nothing else is stored or put into a query."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(f"not a Salesforce id: {str(value)[:40]!r}")
    return value


def find_contact(rest: SalesforceRest, phone: str) -> str | None:
    """The Contact whose Phone or MobilePhone is the customer's number (the oldest when several are)."""
    number = literal(phone)
    records = rest.query(
        f"SELECT Id FROM Contact WHERE MobilePhone = {number} OR Phone = {number} "  # noqa: S608 - literal()
        "ORDER BY CreatedDate LIMIT 1"
    )
    return record_id(records[0].get("Id")) if records else None


def create_contact(rest: SalesforceRest, phone: str, name: str) -> str:
    """A Contact for a new customer: LastName is required; the channel's profile name when it gave one."""
    first, _, last = name.strip().rpartition(" ")
    fields = {"LastName": (last or name.strip() or phone)[:80], "MobilePhone": phone[:40]}
    if first:
        fields["FirstName"] = first[:40]
    return record_id(rest.create("Contact", fields))


def read_case(rest: SalesforceRest, case_id: str) -> dict | None:
    records = rest.query(f"SELECT {CASE_FIELDS} FROM Case WHERE Id = {literal(record_id(case_id))}")  # noqa: S608
    return records[0] if records else None


def read_cases(rest: SalesforceRest, case_ids: list[str]) -> list[dict]:
    """The Cases of these ids that a query still finds (deleted ones are left out)."""
    if not case_ids:
        return []
    ids = ", ".join(literal(record_id(case_id)) for case_id in case_ids)
    return rest.query(f"SELECT {CASE_FIELDS} FROM Case WHERE Id IN ({ids})")  # noqa: S608 - literal()


def find_created_case(
    rest: SalesforceRest, phone: str, subject: str, since: datetime, *, taken: Callable[[list[str]], set[str]]
) -> dict | None:
    """The Case a lost answer left behind: the customer's number and subject, created since the request, and not
    one ``taken`` says another conversation holds (the same customer writing to two of the tenant's numbers with
    the same first words makes two such Cases in the same minutes)."""
    records = rest.query(
        f"SELECT {CASE_FIELDS} FROM Case WHERE SuppliedPhone = {literal(phone)} "  # noqa: S608 - literal()
        f"AND Subject = {literal(subject)} AND CreatedDate >= {datetime_literal(since)} "
        "ORDER BY CreatedDate ASC LIMIT 20"
    )
    held = taken([str(record.get("Id") or "") for record in records])  # the REST API answers 18-character ids
    return next((record for record in records if str(record.get("Id") or "") not in held), None)
