"""Step 2 on the Cases desk: how Cases are made and kept (transcript, reopen window, origin per channel, status
texts, field mapping, default queue), checked live in a worker (the integration user's access to Case, Contact,
the transcript and files, and the Case change events) and saved there only when the check passes, with the
texts customers see (docs/cases.md)."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from portal import livechecks
from relay import untrusted
from tenants import case_settings
from tenants.models import SalesforceConnection
from tenants.validators import normalize_salesforce_id

from ...session import ConsoleRequest
from ..cases import CASES, TEXTS
from ..forms import SldsForm, TextsMixin, optional_text
from ..saved import Facts
from ..step import StepPage, pending

JSON_ROWS = {"rows": 3, "class": "slds-textarea", "spellcheck": "false"}


def _json_map(text: str, validate) -> dict:
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = untrusted.loads(text)  # json.loads would raise RecursionError (a 500) on "[[[[..."
    except ValueError:
        raise ValidationError('Write a JSON object, e.g. {"Working": "An agent is on it."}') from None
    validate(value)
    return value


class CasesForm(TextsMixin, SldsForm):
    case_transcript = forms.ChoiceField(
        label="Transcript on the Case as",
        choices=[("feed", "Feed items (Chatter)"), ("comment", "Case comments")],
        help_text="Feed items need Chatter (feed tracking on Case); case comments are kept private.",
    )
    case_reopen_hours = forms.IntegerField(
        label="Reopen window (hours)",
        min_value=0,
        max_value=24 * 365,
        help_text="A customer writing within this many hours of the close reopens the Case; 0: a new Case.",
    )
    case_reopen_status = forms.CharField(label="Status of a reopened Case", max_length=40)
    origin_whatsapp = forms.CharField(label="Case origin: WhatsApp", max_length=40, required=False)
    origin_sms = forms.CharField(label="Case origin: SMS", max_length=40, required=False)
    origin_viber = forms.CharField(label="Case origin: Viber", max_length=40, required=False)
    case_status_texts = optional_text(
        "Text to the customer per Case status (JSON)",
        'e.g. {"Working": "An agent is looking at your request."} (Closed sends the closing text).',
        attrs=JSON_ROWS,
    )
    case_field_mapping = optional_text(
        "Case field mapping (JSON)",
        "Case field → value or {customer}, {customer_name}, {channel}, {sender}, {sender_name}.",
        attrs=JSON_ROWS,
    )
    case_default_queue_id = forms.CharField(
        label="Default owner queue id",
        required=False,
        max_length=18,
        help_text="00G…; owns a new Case no routing rule places. Empty: your Case assignment rules.",
    )
    case_create_contacts = forms.BooleanField(label="Create a Contact for a new number", required=False)

    def clean_case_status_texts(self) -> dict:
        return _json_map(self.cleaned_data["case_status_texts"], case_settings.validate_status_texts)

    def clean_case_field_mapping(self) -> dict:
        return _json_map(self.cleaned_data["case_field_mapping"], case_settings.validate_field_mapping)

    def clean_case_default_queue_id(self) -> str:
        value = self.cleaned_data["case_default_queue_id"].strip()
        return normalize_salesforce_id(value, kind="queue") if value else ""

    def settings(self) -> dict:
        data = self.cleaned_data
        origins = {
            ch: data[f"origin_{ch}"].strip() for ch in case_settings.CHANNELS if data[f"origin_{ch}"].strip()
        }
        return {
            "case_transcript": data["case_transcript"],
            "case_reopen_hours": data["case_reopen_hours"],
            "case_reopen_status": data["case_reopen_status"].strip(),
            "case_origins": origins,
            "case_status_texts": data["case_status_texts"],
            "case_field_mapping": data["case_field_mapping"],
            "case_default_queue_id": data["case_default_queue_id"],
            "case_create_contacts": data["case_create_contacts"],
        }


def _initial(request: ConsoleRequest, connection: SalesforceConnection) -> dict:
    origins = connection.case_origins or {}
    return {
        "case_transcript": connection.case_transcript,
        "case_reopen_hours": connection.case_reopen_hours,
        "case_reopen_status": connection.case_reopen_status,
        **{f"origin_{ch}": origins.get(ch, "") for ch in case_settings.CHANNELS},
        "case_status_texts": json.dumps(connection.case_status_texts) if connection.case_status_texts else "",
        "case_field_mapping": json.dumps(connection.case_field_mapping)
        if connection.case_field_mapping
        else "",
        "case_default_queue_id": connection.case_default_queue_id,
        "case_create_contacts": connection.case_create_contacts,
        **{name: getattr(request.tenant, name) for name in TEXTS},
    }


def cases_page(request: ConsoleRequest, connection: SalesforceConnection) -> HttpResponse | StepPage:
    tenant = request.tenant
    form = CasesForm(initial=_initial(request, connection))
    status, check = 200, None
    if request.method == "POST":
        form = CasesForm(request.POST)
        if (
            form.is_valid()
        ):  # checked live in a worker; saved there only if the integration user may do it all
            check = livechecks.start(
                tenant,
                CASES,
                params={
                    "settings": form.settings(),
                    "texts": {name: form.cleaned_data[name].strip() for name in TEXTS},
                },
                dedupe=False,
            )
            if check.done and not check.ok:
                for problem in (check.data.get("problems") or {check.code: check.message}).values():
                    form.add_error(None, problem)
                check, status = None, 400
        else:
            status = 400
    else:
        check = pending(tenant, CASES)
    return StepPage("console/wizard/cases.html", {"form": form, "check": check}, status=status)


def cases_done(facts: Facts) -> tuple[bool, str]:
    connection = facts.connection
    checked = bool(connection and connection.desk == SalesforceConnection.Desk.CASES)
    label = {"feed": "Transcript as feed items", "comment": "Transcript as case comments"}
    return checked, label.get(connection.case_transcript, "") if checked and connection else "Set up Cases"
