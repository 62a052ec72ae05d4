"""The Cases desk's live check, for the wizard and the partner API (runs in a worker, portal.livechecks).

The wizard hands the settings typed in (``params["settings"]``, not saved yet) and they are saved, with the
texts, only when the integration user has what the desk needs (relay/desks/cases_check.py); the partner API
checks the saved connection's. A failure's ``data["problems"]`` maps what is wrong (``case``, ``contact``,
``transcript``, ``files``, ``change_events``) to what to change in Setup; its code is ``missing_access``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from portal.livechecks import Check, Outcome, runner
from relay.desks.cases_check import check_cases_access
from relay.errors import ExternalError
from tenants.models import SalesforceConnection, Tenant

from .saved import connection_of

CASES = "cases-config"
SETTINGS = (
    "case_transcript",
    "case_reopen_hours",
    "case_reopen_status",
    "case_origins",
    "case_status_texts",
    "case_field_mapping",
    "case_default_queue_id",
    "case_create_contacts",
)
TEXTS = ("welcome_text", "closing_text", "no_agent_text")


@runner(CASES)
def cases_config(tenant: Tenant, check: Check) -> Outcome:
    connection = connection_of(tenant)
    if connection is None or connection.desk != SalesforceConnection.Desk.CASES:
        return Outcome(False, "This tenant's Salesforce connection does not use the Cases desk.", "desk")
    given = check.params.get("settings")
    if isinstance(given, dict):
        for name in SETTINGS:
            if name in given:
                setattr(connection, name, given[name])
        try:
            others = [f.name for f in SalesforceConnection._meta.fields if f.name not in SETTINGS]
            connection.clean_fields(exclude=others)
        except ValidationError as exc:
            return Outcome(False, "; ".join(exc.messages), "invalid", {"errors": exc.message_dict})
    try:
        access = check_cases_access(connection, connection.case_transcript)
    except ExternalError as exc:
        return Outcome(False, f"Salesforce could not be asked: {exc.message}", "unreachable")
    if not access.ok:
        return Outcome(
            False, " ".join(access.problems.values()), "missing_access", {"problems": access.problems}
        )
    if isinstance(given, dict):
        with transaction.atomic():
            connection.save(update_fields=[*SETTINGS, "updated_at"])
            given_texts = check.params.get("texts") or {}
            texts = {name: str(given_texts[name]) for name in TEXTS if name in given_texts}
            if texts:
                for name, value in texts.items():
                    setattr(tenant, name, value)
                tenant.save(update_fields=[*texts, "updated_at"])
    return Outcome(
        True,
        "Checked: the integration user can create Cases, Contacts and the transcript, and receives the Case "
        "change events.",
    )
