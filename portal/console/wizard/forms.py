"""The wizard's forms: each validates with field-level messages and writes nothing when it is invalid."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from relay.providers.registry import get_provider
from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender
from tenants.secret_binding import stored_key_refusal
from tenants.validators import (
    normalize_salesforce_id,
    validate_api_origin,
    validate_provider_account_id,
    validate_salesforce_url,
    validate_subaccount_id,
)

from .lists import FetchedList

if TYPE_CHECKING:
    from ..snippets import LegacyChatSettings

API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,38}[A-Za-z0-9]$")
SLDS_INPUT = {"class": "slds-input"}
SLDS_TEXTAREA = {"class": "slds-textarea", "rows": 2}
SHORT_TEXT = {"rows": 2}
SLDS_SELECT = {"class": "slds-select"}


class SenderRow(TypedDict):
    """One sender of SendersForm: the listed (or hand-added) sender and the names of its fields."""

    item: dict[str, Any]
    use: str
    channel: str | None  # None when no Messaging channel is asked for (Legacy Chat)


class RoutingRow(TypedDict):
    """One sender of RoutingForm and the names of its three fields."""

    sender: Sender
    target: str
    fallback: str
    sticky: str


class SldsForm(forms.Form):
    """Renders with SLDS classes; the templates lay the fields out."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                continue
            css = "slds-select" if isinstance(widget, forms.Select) else "slds-input"
            if isinstance(widget, forms.Textarea):
                css = "slds-textarea"
            widget.attrs.setdefault("class", css)


# --- step 1 ----------------------------------------------------------------------------------------------


class SalesforceForm(SldsForm):
    instance_url = forms.CharField(
        label="My Domain URL",
        validators=[validate_salesforce_url],
        help_text="Setup → My Domain, e.g. https://acme.my.salesforce.com",
    )
    environment = forms.ChoiceField(label="Org type", choices=SalesforceConnection.Environment.choices)
    desk = forms.ChoiceField(
        label="Where conversations go",
        choices=SalesforceConnection.Desk.choices,
        help_text="Legacy Chat only for existing chat deployments.",
    )
    consumer_key = forms.CharField(
        label="Consumer key", max_length=255, help_text="App Manager → your Connected App → Consumer Key"
    )
    integration_username = forms.CharField(
        label="Integration user",
        max_length=255,
        help_text="The Salesforce username the relay acts as; pre-authorize it in the Connected App.",
    )
    canvas_consumer_secret = forms.CharField(
        label="Consumer secret (for Canvas)",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    login_url = forms.CharField(
        label="Token URL (advanced)",
        required=False,
        validators=[validate_salesforce_url],
        help_text="Empty: your My Domain.",
    )

    def __init__(self, *args, secret_set: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["canvas_consumer_secret"].help_text = (
            "Set – leave empty to keep it." if secret_set else "Verifies the console's signed requests."
        )

    def clean_instance_url(self) -> str:
        return self.cleaned_data["instance_url"].strip().rstrip("/")

    def clean_login_url(self) -> str:
        return self.cleaned_data["login_url"].strip().rstrip("/")

    def clean_integration_username(self) -> str:
        value = self.cleaned_data["integration_username"].strip()
        if "@" not in value:
            raise ValidationError(
                "A Salesforce username looks like an email address, e.g. integration@acme.com."
            )
        return value

    def clean_consumer_key(self) -> str:
        value = self.cleaned_data["consumer_key"].strip()
        if " " in value:
            raise ValidationError("A consumer key has no spaces: copy it again from the Connected App.")
        return value

    def save(self, connection: SalesforceConnection) -> SalesforceConnection:
        data = self.cleaned_data
        for name in ("instance_url", "environment", "desk", "consumer_key", "integration_username"):
            setattr(connection, name, data[name])
        connection.login_url = data["login_url"] or data["instance_url"]
        if data["canvas_consumer_secret"]:
            connection.canvas_consumer_secret = data["canvas_consumer_secret"]
        connection.save()
        return connection


# --- step 2 ----------------------------------------------------------------------------------------------


class ChannelSetupForm(SldsForm):
    authorization_context = forms.CharField(
        label="Channel definition name",
        initial="Switchboard_Messaging",
        help_text="The ConversationChannelDefinition developer name.",
    )
    platform_event = forms.CharField(label="Platform event", initial="Switchboard_Interaction__e")

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


class TextsMixin(forms.Form):
    # A sentence or two each: two rows that grow as the admin types (not Django's default ten).
    welcome_text = forms.CharField(
        label="Welcome text",
        required=False,
        widget=forms.Textarea(attrs=SHORT_TEXT),
        help_text="Sent when a conversation opens.",
    )
    closing_text = forms.CharField(
        label="Closing text",
        required=False,
        widget=forms.Textarea(attrs=SHORT_TEXT),
        help_text="Sent when the agent ends it.",
    )
    no_agent_text = forms.CharField(
        label="No agent available",
        required=False,
        widget=forms.Textarea(attrs=SHORT_TEXT),
        help_text="Sent when nobody can take it.",
    )

    def save_texts(self, tenant) -> None:
        for name in ("welcome_text", "closing_text", "no_agent_text"):
            setattr(tenant, name, self.cleaned_data[name].strip())
        tenant.save(update_fields=["welcome_text", "closing_text", "no_agent_text", "updated_at"])


class ChannelPickForm(TextsMixin, SldsForm):
    channel = forms.ChoiceField(label="Messaging channel", help_text="Setup → Messaging Settings.")
    scrt_url = forms.CharField(
        label="SCRT URL",
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
        from ..snippets import parse_legacy_chat

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


# --- step 3 ----------------------------------------------------------------------------------------------


class ProviderForm(SldsForm):
    provider = forms.ChoiceField(choices=ProviderAccount.Provider.choices)
    name = forms.CharField(max_length=120, help_text="For you: how this account shows in lists.")
    base_url = forms.CharField(
        label="API base URL",
        required=False,
        validators=[validate_api_origin],
        help_text="e.g. https://abcd12.api.infobip.com; for 8x8, leave it empty and choose the region.",
    )
    region = forms.ChoiceField(label="Region", required=False, help_text="8x8: where your account lives.")
    api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    subaccount_id = forms.CharField(
        label="Sub-account id",
        required=False,
        max_length=50,
        validators=[validate_subaccount_id],
        help_text="8x8: the Chat Apps sub-account that sends.",
    )
    provider_account_id = forms.CharField(
        label="Account id",
        required=False,
        max_length=36,
        validators=[validate_provider_account_id],
        help_text="8x8: your account id (a UUID), for templates and webhooks.",
    )
    webhook_auth = forms.ChoiceField(
        label="Webhook authentication", choices=ProviderAccount.WebhookAuth.choices
    )

    def __init__(self, *args, account: ProviderAccount | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        # Declared above as a ChoiceField; Form.fields is typed as plain Field.
        cast(forms.ChoiceField, self.fields["region"]).choices = [("", "—"), *provider_regions()]
        self.fields["api_key"].help_text = (
            "Set – leave empty to keep it."
            if account and account.api_key
            else "Checked live with the provider."
        )

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].strip().rstrip("/")

    def _provider_fields(self, data: dict) -> None:
        """What the chosen provider's adapter asks for besides the key: a region instead of a base URL, its
        account fields, the webhook authentications it can send (8x8: sub-account, account id, Basic)."""
        try:
            adapter = get_provider(data["provider"])
        except LookupError:
            self.add_error("provider", "Switchboard has no adapter for this provider yet.")
            return
        regions = getattr(adapter, "regions", {})
        if not data.get("base_url") and data.get("region") in regions:
            data["base_url"] = regions[data["region"]][1]
        if not data.get("base_url"):
            self.add_error("base_url", "Choose the region." if regions else "Enter the API base URL.")
        for name in getattr(adapter, "account_fields", ()):
            if not data.get(name):
                self.add_error(name, f"Enter the {str(self.fields[name].label or name).lower()}.")
        allowed = getattr(adapter, "webhook_auths", ())
        if allowed and data.get("webhook_auth") not in allowed:
            names = ", ".join(str(ProviderAccount.WebhookAuth(a).label) for a in allowed)
            self.add_error("webhook_auth", f"{data['provider']} can only send: {names}.")

    def clean(self):
        """Checks what can be checked here; the key itself is checked at the provider by a live check in a
        worker (views.provider_step), never in this request."""
        data = super().clean()
        if self.errors:
            return data
        self._provider_fields(data)
        if self.errors:
            return data
        api_key = data.get("api_key") or (str(self.account.api_key) if self.account else "")
        if not api_key:
            self.add_error("api_key", "Enter the API key.")
            return data
        refusal = (
            ""
            if data.get("api_key") or not self.account
            else stored_key_refusal(self.account.base_url, data["base_url"])
        )
        if refusal:  # the live check would carry the saved key to the new address (tenants/secret_binding.py)
            self.add_error("api_key", refusal)
            return data
        try:
            get_provider(data["provider"])
        except LookupError:
            self.add_error("provider", "Switchboard has no adapter for this provider yet.")
        return data


def provider_regions() -> list[tuple[str, str]]:
    """Every region a registered adapter names (8x8's regional API hosts), for the region choice."""
    choices = []
    for name in settings.SWITCHBOARD_PROVIDERS:
        for key, (label, url) in getattr(get_provider(name), "regions", {}).items():
            choices.append((key, f"{label} ({url})"))
    return choices


# --- step 4 ----------------------------------------------------------------------------------------------


class SendersForm(forms.Form):
    """One row per sender the provider listed (and per sender added by hand before): use it or not, and the
    Messaging channel it feeds; plus one empty row for a sender the provider's API does not list (Infobip
    lists no Viber service names, for one)."""

    extra_channel = forms.ChoiceField(
        label="Channel", required=False, choices=[("", "Add a sender by hand…"), *Sender.Channel.choices]
    )
    extra_address = forms.CharField(
        label="Number or sender name",
        required=False,
        max_length=64,
        help_text="Only for a sender not listed above.",
    )

    def __init__(self, *args, remote: FetchedList, channels: FetchedList | None, current: dict, default_channel: str,
                 **kwargs) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.rows: list[SenderRow] = []
        channel_choices = [("", "Choose a channel…")] + [
            (item["value"], item["label"]) for item in (channels.items if channels else [])
        ]
        listed = {(item["channel"], item["address"]) for item in remote.items}
        by_hand = [
            {
                "value": f"{channel}:{address}",
                "channel": channel,
                "address": address,
                "label": "added by hand",
            }
            for (channel, address) in current
            if (channel, address) not in listed
        ]
        for index, item in enumerate([*remote.items, *by_hand]):
            existing = current.get((item["channel"], item["address"]))
            self.fields[f"use-{index}"] = forms.BooleanField(
                required=False, initial=bool(existing and existing.enabled), label=f"Use {item['address']}"
            )
            row: SenderRow = {"item": item, "use": f"use-{index}", "channel": None}
            if channels is not None:
                self.fields[f"channel-{index}"] = self._feeds_field(
                    channel_choices,
                    (existing.channel_address_identifier if existing else "") or default_channel,
                )
                row["channel"] = f"channel-{index}"
            self.rows.append(row)
        self.extra_feeds = None
        if channels is not None:
            self.fields["extra_feeds"] = self._feeds_field(channel_choices, default_channel)
            self.extra_feeds = "extra_feeds"
        for name in ("extra_channel", "extra_address"):
            css = "slds-select" if name == "extra_channel" else "slds-input"
            self.fields[name].widget.attrs.setdefault("class", css)

    @staticmethod
    def _feeds_field(choices, initial) -> forms.ChoiceField:
        return forms.ChoiceField(
            required=False,
            choices=choices,
            initial=initial,
            label="Messaging channel it feeds",
            widget=forms.Select(attrs={"class": "slds-select"}),
        )

    @property
    def extra_feeds_field(self):
        return self[self.extra_feeds] if self.extra_feeds else None

    def bound_rows(self) -> list[dict]:
        return [
            {
                **row,
                "use_field": self[row["use"]],
                "channel_field": self[row["channel"]] if row["channel"] else None,
            }
            for row in self.rows
        ]

    def clean(self):
        data = super().clean()
        chosen = []
        for row in self.rows:
            if not data.get(row["use"]):
                continue
            feeds = data.get(row["channel"]) if row["channel"] else ""
            if row["channel"] and not feeds:
                self.add_error(row["channel"], "Choose the Messaging channel this sender feeds.")
            chosen.append((row["item"], feeds or ""))
        channel, address = data.get("extra_channel"), (data.get("extra_address") or "").strip()
        if channel and not address:
            self.add_error("extra_address", "Enter the number or sender name.")
        elif address and not channel:
            self.add_error("extra_channel", "Choose the sender's channel.")
        elif channel and address:
            feeds = data.get(self.extra_feeds) if self.extra_feeds else ""
            if self.extra_feeds and not feeds:
                self.add_error(self.extra_feeds, "Choose the Messaging channel this sender feeds.")
            chosen.append(({"channel": channel, "address": address, "label": ""}, feeds or ""))
        if not chosen and not self.errors:
            raise ValidationError("Choose at least one sender.")
        self.chosen = chosen
        return data


# --- step 5 ----------------------------------------------------------------------------------------------

TARGETS = (
    (RoutingRule.Target.QUEUE, "queues", "Queues"),
    (RoutingRule.Target.AGENT, "users", "Agents"),
    (RoutingRule.Target.FLOW, "flows", "Omni-Channel flows"),
)


def target_choices(
    org_lists: dict[str, FetchedList], *, first: tuple[str, str], chat_button: str = ""
) -> list:
    choices: list = [first]
    for target, kind, label in TARGETS:
        items = org_lists[kind].items
        if items:
            choices.append((label, [(f"{target}:{item['value']}", item["label"]) for item in items]))
    if chat_button:
        choices.append(
            ("Legacy Chat", [(f"{RoutingRule.Target.CHAT_BUTTON}:{chat_button}", "The chat button")])
        )
    return choices


def split_target(value: str) -> tuple[str, str]:
    target, _, target_id = (value or "").partition(":")
    return target, target_id


class RoutingForm(forms.Form):
    """Per sender: where conversations go, a fallback and the sticky-agent option."""

    def __init__(self, *args, senders: list[Sender], org_lists: dict[str, FetchedList], rules: dict,
                 chat_button: str = "", **kwargs) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.senders, self.org_lists = senders, org_lists
        self.rows: list[RoutingRow] = []
        targets = target_choices(org_lists, first=(RoutingRule.Target.CHANNEL + ":", "The channel's own routing"),
                                 chat_button=chat_button)  # fmt: skip
        fallbacks = target_choices(org_lists, first=("", "No fallback"), chat_button=chat_button)
        for sender in senders:
            rule = rules.get(sender.pk)
            prefix = f"s{sender.pk}"
            self.fields[f"{prefix}-target"] = forms.ChoiceField(
                label="Route to",
                choices=targets,
                initial=f"{rule.target_type}:{rule.target_id}" if rule else RoutingRule.Target.CHANNEL + ":",
                widget=forms.Select(attrs={"class": "slds-select"}),
            )
            self.fields[f"{prefix}-fallback"] = forms.ChoiceField(
                label="Fallback",
                required=False,
                choices=fallbacks,
                initial=f"{rule.fallback_type}:{rule.fallback_id}" if rule and rule.fallback_type else "",
                widget=forms.Select(attrs={"class": "slds-select"}),
            )
            self.fields[f"{prefix}-sticky"] = forms.BooleanField(
                label="Sticky agent: a returning customer goes to their last agent",
                required=False,
                initial=bool(rule and rule.sticky_agent),
            )
            self.rows.append({"sender": sender, "target": f"{prefix}-target", "fallback": f"{prefix}-fallback",
                              "sticky": f"{prefix}-sticky"})  # fmt: skip

    def bound_rows(self) -> list[dict]:
        return [
            {
                **row,
                "target_field": self[row["target"]],
                "fallback_field": self[row["fallback"]],
                "sticky_field": self[row["sticky"]],
            }  # fmt: skip
            for row in self.rows
        ]

    def label_for(self, value: str) -> str:
        target, target_id = split_target(value)
        for kind_target, kind, _ in TARGETS:
            if kind_target == target:
                return self.org_lists[kind].label_of(target_id)
        return "The chat button" if target == RoutingRule.Target.CHAT_BUTTON else ""

    def clean(self):
        data = super().clean()
        for row in self.rows:
            target, target_id = split_target(data.get(row["target"], ""))
            fallback, fallback_id = split_target(data.get(row["fallback"], ""))
            if fallback and fallback == target and fallback_id == target_id:
                self.add_error(row["fallback"], "The fallback is the same as the target.")
            for field, kind, value in (
                (row["target"], target, target_id),
                (row["fallback"], fallback, fallback_id),
            ):
                id_kind = RoutingRule._ID_KIND.get(kind)
                if id_kind:
                    try:
                        normalize_salesforce_id(value, kind=id_kind)
                    except ValidationError as exc:
                        self.add_error(field, exc.messages[0])
        return data


# --- step 6 ----------------------------------------------------------------------------------------------


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
