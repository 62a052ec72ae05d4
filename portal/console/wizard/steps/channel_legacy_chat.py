"""Step 2 on the Legacy Chat desk: the two snippets Setup shows (Deployment Code, Chat Button Code), checked
live at the Chat API in a worker and saved there only when it agrees, and the texts customers see."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from portal import livechecks
from tenants.models import SalesforceConnection

from ...session import ConsoleRequest
from .. import checks
from ..forms import SldsForm, TextsMixin
from ..saved import Facts
from ..step import StepPage, pending

if TYPE_CHECKING:
    from ...snippets import LegacyChatSettings


class LegacyChatForm(TextsMixin, SldsForm):
    deployment_code = forms.CharField(
        label="Deployment Code",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Setup → Chat → Deployments.",
    )
    button_code = forms.CharField(
        label="Chat Button Code",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Setup → Chat → Chat Buttons & Invitations.",
    )

    def __init__(self, *args, org_id: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.org_id = org_id
        self.parsed: LegacyChatSettings | None = None  # set by a successful clean()

    def clean(self):
        from ...snippets import parse_legacy_chat

        data = super().clean()
        if self.errors:
            return data
        try:
            self.parsed = parse_legacy_chat(data.get("deployment_code", ""), data.get("button_code", ""))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        if self.parsed.org_id != self.org_id:
            raise ValidationError(
                {
                    "deployment_code": f"This code is for the org {self.parsed.org_id}, but this tenant is the "
                    f"org {self.org_id}: copy it from the right org."
                }
            )
        return data


def legacy_chat_page(request: ConsoleRequest, connection: SalesforceConnection) -> HttpResponse | StepPage:
    tenant = request.tenant
    action = request.POST.get("action", "")
    texts = {name: getattr(tenant, name) for name in ("welcome_text", "closing_text", "no_agent_text")}
    form = LegacyChatForm(initial=texts, org_id=tenant.org_id)
    status = 200
    check = None
    if request.method == "POST":
        form = LegacyChatForm(request.POST, org_id=tenant.org_id)
        if form.is_valid() and form.parsed is not None:  # a valid form has parsed the snippets
            if action == "confirm":  # checked live in a worker; saved there only if the Chat API agrees
                check = livechecks.start(
                    tenant,
                    checks.LIVECHAT,
                    params={
                        "settings": dataclasses.asdict(form.parsed),
                        "texts": {name: form.cleaned_data[name].strip() for name in checks.CHAT_TEXTS},
                    },
                    dedupe=False,  # each confirmation checks its own snippets
                )
                if check.done and not check.ok:
                    form.add_error(CHAT_FIELD_OF.get(check.data.get("field", "")), check.message)
                    check, status = None, 400
        else:
            status = 400
    else:
        check = pending(tenant, checks.LIVECHAT)
    return StepPage(
        "console/wizard/legacy_chat.html",
        {
            "form": form,
            "connection": connection,
            "parsed": form.parsed if form.is_bound else None,
            "check": check,
        },
        status=status,
    )


# The snippet that holds each value the Chat API check can name as wrong.
CHAT_FIELD_OF = {
    "chat_api_endpoint": "deployment_code",
    "org_id": "deployment_code",
    "deployment_id": "deployment_code",
    "button_id": "button_code",
}


def legacy_chat_done(facts: Facts) -> tuple[bool, str]:
    connection = facts.connection
    done = bool(connection and connection.chat_api_endpoint and connection.chat_button_id)
    return done, "Chat button set" if done else "Paste the chat snippets"
