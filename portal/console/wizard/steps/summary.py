"""Step 6, check and test: the live health check of everything set up, and a test message to the admin's phone
(on WhatsApp, an approved template) that counts as done once the provider reports it delivered."""

from __future__ import annotations

from typing import cast

from django import forms
from django.http import HttpResponse

from portal import livechecks
from relay.models import Message
from tenants.models import Sender

from ...session import ConsoleRequest
from .. import checks
from ..forms import SldsForm
from ..sample_message import test_message_of
from ..saved import Facts, wizard_account
from ..step import Step, StepPage


class TestMessageForm(SldsForm):
    sender = forms.ChoiceField(label="Send from")
    number = forms.CharField(
        label="To (your phone)", max_length=32, help_text="International format, e.g. +447400123456."
    )

    def __init__(self, *args, senders: list[Sender], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.senders = {str(s.pk): s for s in senders}
        # SMS and Viber first: free text works there; WhatsApp needs a template.
        ordered = sorted(senders, key=lambda s: s.channel == Sender.Channel.WHATSAPP)
        # Declared above as a ChoiceField; Form.fields is typed as plain Field.
        cast(forms.ChoiceField, self.fields["sender"]).choices = [
            (str(s.pk), f"{s.get_channel_display()} {s.address}") for s in ordered
        ]

    def clean_sender(self) -> Sender:
        return self.senders[self.cleaned_data["sender"]]


def summary_step(request: ConsoleRequest) -> HttpResponse | StepPage:
    tenant = request.tenant
    account = wizard_account(tenant)
    senders = list(Sender.objects.for_tenant(tenant).filter(account=account, enabled=True)) if account else []
    form = TestMessageForm(senders=senders)
    message = check = None
    status = 200
    if request.method == "POST":
        form = TestMessageForm(request.POST, senders=senders)
        if form.is_valid():  # on WhatsApp it reads the templates first: a live check, in a worker
            check = livechecks.start(
                tenant,
                checks.TEST_MESSAGE,
                params={"sender": form.cleaned_data["sender"].pk, "number": form.cleaned_data["number"]},
            )
            if check.done and check.ok:
                message = test_message_of(tenant, check)
                check = None
            elif check.done:
                form.add_error(check.data.get("field") or None, check.message)
                check, status = None, 400
        else:
            status = 400
    return StepPage(
        "console/wizard/summary.html",
        {"form": form, "senders": senders, "message": message, "test_check": check},
        status=status,
    )


def done(facts: Facts) -> tuple[bool, str]:
    delivered = bool(facts.progress.test_delivered_at)
    if facts.progress.test_message_id and not delivered:
        status = (
            Message.objects.for_tenant(facts.tenant)
            .filter(pk=facts.progress.test_message_id)
            .values_list("status", flat=True)
        )
        delivered = bool(status) and status[0] in (Message.Status.DELIVERED, Message.Status.READ)
    return delivered, "Test message delivered" if delivered else "No test message yet"


STEP = Step("summary", "Check and test", view=summary_step, done=done)
