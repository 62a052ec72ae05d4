"""Step 2, the channel: on Messaging for In-App and Web (BYOC), the channel definition and platform event set
up by Tooling calls, the Messaging channel picked and its SCRT host, and the texts customers see. Another desk
shows its own page here: ``DESK_PAGES`` (Legacy Chat: ``channel_legacy_chat.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect

from portal import livechecks
from relay.untrusted import max_length_of
from tenants.models import SalesforceConnection, derive_scrt_url
from tenants.validators import validate_salesforce_url

from ...models import SetupProgress
from ...session import ConsoleRequest
from .. import channel_setup, checks, lists
from ..forms import SldsForm, TextsMixin
from ..lists import FetchedList
from ..saved import Facts, connection_of, salesforce_verified
from ..step import Step, StepPage, step_url
from .channel_cases import cases_done, cases_page
from .channel_enhanced_chat import enhanced_chat_done, enhanced_chat_page
from .channel_legacy_chat import legacy_chat_done, legacy_chat_page

API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,38}[A-Za-z0-9]$")


class ChannelSetupForm(SldsForm):
    authorization_context = forms.CharField(
        label="Channel definition name",
        max_length=max_length_of(SalesforceConnection, "authorization_context"),
        initial="Switchboard_Messaging",
        help_text="The ConversationChannelDefinition developer name.",
    )
    platform_event = forms.CharField(
        label="Platform event",
        initial="Switchboard_Interaction__e",
        max_length=max_length_of(SalesforceConnection, "platform_event"),
    )

    def clean_authorization_context(self) -> str:
        value = self.cleaned_data["authorization_context"].strip()
        if not API_NAME.match(value) or "__" in value:
            raise ValidationError("Use letters, digits and single underscores, starting with a letter.")
        return value

    def clean_platform_event(self) -> str:
        value = self.cleaned_data["platform_event"].strip()
        if not value.endswith("__e") or not API_NAME.match(value.removesuffix("__e") + "x"):
            raise ValidationError("A platform event's API name ends in __e, e.g. Switchboard_Interaction__e.")
        return value


class ChannelPickForm(TextsMixin, SldsForm):
    channel = forms.ChoiceField(label="Messaging channel", help_text="Setup → Messaging Settings.")
    scrt_url = forms.CharField(
        label="SCRT URL",
        max_length=max_length_of(SalesforceConnection, "scrt_url"),
        validators=[validate_salesforce_url],
        help_text="Derived from your My Domain; change it only if Salesforce shows another.",
    )

    def __init__(self, *args, channels: FetchedList, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channels = channels
        # Declared above as a ChoiceField; Form.fields is typed as plain Field.
        cast(forms.ChoiceField, self.fields["channel"]).choices = [("", "Choose a channel…")] + [
            (item["value"], item["label"] + ("" if item.get("ours") else " – another channel definition"))
            for item in channels.items
        ]

    def clean_scrt_url(self) -> str:
        return self.cleaned_data["scrt_url"].strip().rstrip("/")


def channel_step(request: ConsoleRequest) -> HttpResponse | StepPage:
    connection = connection_of(request.tenant)
    if connection is None or not connection.pk:
        return redirect(step_url(request, "salesforce"))
    page = DESK_PAGES.get(connection.desk)
    return page.view(request, connection) if page else _messaging_step(request, connection)


def _messaging_step(request: ConsoleRequest, connection: SalesforceConnection) -> HttpResponse | StepPage:
    tenant = request.tenant
    progress = SetupProgress.of(tenant)
    verified = salesforce_verified(connection, progress)
    action = request.POST.get("action", "")
    setup_error = ""
    setup_check = None
    status = 200
    setup_form = ChannelSetupForm(
        initial={
            "authorization_context": connection.authorization_context or "Switchboard_Messaging",
            "platform_event": connection.platform_event or "Switchboard_Interaction__e",
        }
    )
    if request.method == "POST" and action == "setup":
        setup_form = ChannelSetupForm(request.POST)
        if not verified:
            setup_error = "Test the Salesforce connection in step 1 first."
        elif setup_form.is_valid():
            connection.authorization_context = setup_form.cleaned_data["authorization_context"]
            connection.platform_event = setup_form.cleaned_data["platform_event"]
            connection.event_type_field = channel_setup.EVENT_TYPE_FIELD
            connection.event_payload_field = channel_setup.EVENT_PAYLOAD_FIELD
            connection.save()
            setup_check = livechecks.start(tenant, checks.CHANNEL_SETUP)  # Tooling calls: in a worker
            progress = SetupProgress.of(tenant)
        else:
            status = 400
    else:
        setup_check = livechecks.latest(tenant, checks.CHANNEL_SETUP)
    if setup_check is not None and setup_check.done:
        setup_error = setup_error or ("" if setup_check.ok else setup_check.message)
        setup_check = None
    channels = (
        lists.salesforce_list(connection, "channels", refresh=action == "refresh")
        if verified and connection.authorization_context
        else None
    )
    texts = {name: getattr(tenant, name) for name in ("welcome_text", "closing_text", "no_agent_text")}
    pick_form = ChannelPickForm(
        initial={
            "channel": progress.default_channel_address,
            "scrt_url": connection.scrt_url or derive_scrt_url(connection.instance_url),
            **texts,
        },
        channels=channels or lists.FetchedList(),
    )
    if request.method == "POST" and action == "save":
        pick_form = ChannelPickForm(request.POST, channels=channels or lists.FetchedList())
        if pick_form.is_valid():
            data = pick_form.cleaned_data
            with transaction.atomic():
                connection.scrt_url = data["scrt_url"]
                connection.save(update_fields=["scrt_url", "updated_at"])
                progress.default_channel_address = data["channel"]
                progress.default_channel_label = channels.label_of(data["channel"]) if channels else ""
                progress.save(
                    update_fields=["default_channel_address", "default_channel_label", "updated_at"]
                )
                pick_form.save_texts(tenant)
            # With the SCRT host known, register what the channel carries (in a worker: a Salesforce call).
            livechecks.start(tenant, checks.CAPABILITIES, dedupe=False)
            return redirect(step_url(request, "provider"))
        status = 400
    return StepPage(
        "console/wizard/channel.html",
        {
            "connection": connection,
            "verified": verified,
            "setup_form": setup_form,
            "setup_error": setup_error,
            "setup_check": setup_check,
            "setup_rows": progress.channel_setup,
            "just_set_up": request.method == "POST"
            and action == "setup"
            and setup_check is None
            and not setup_error
            and status == 200,
            "pick_form": pick_form,
            "channels": channels,
        },
        status=status,
    )


def _messaging_done(facts: Facts) -> tuple[bool, str]:
    connection, progress = facts.connection, facts.progress
    done = bool(
        connection
        and connection.authorization_context
        and connection.platform_event
        and progress.default_channel_address
    )
    return done, progress.default_channel_label or "Not set up yet"


@dataclass(frozen=True)
class DeskPage:
    """The channel step of a desk that is not Messaging for In-App and Web (BYOC): its view and done rule."""

    view: Callable[[ConsoleRequest, SalesforceConnection], HttpResponse | StepPage]
    done: Callable[[Facts], tuple[bool, str]]


# By SalesforceConnection.desk; a desk not listed gets the Messaging (BYOC) page.
DESK_PAGES: dict[str, DeskPage] = {
    SalesforceConnection.Desk.LIVECHAT: DeskPage(legacy_chat_page, legacy_chat_done),
    SalesforceConnection.Desk.ENHANCED_CHAT: DeskPage(enhanced_chat_page, enhanced_chat_done),
    SalesforceConnection.Desk.CASES: DeskPage(cases_page, cases_done),
}


def done(facts: Facts) -> tuple[bool, str]:
    page = DESK_PAGES.get(facts.connection.desk) if facts.connection else None
    return page.done(facts) if page else _messaging_done(facts)


STEP = Step("channel", "Channel", view=channel_step, done=done)
