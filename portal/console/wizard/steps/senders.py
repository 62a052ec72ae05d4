"""Step 4, the senders: the provider account's numbers to use and, on Messaging, the Messaging channel each one
feeds (plus one added by hand when the provider's API does not list it)."""

from __future__ import annotations

from functools import partial
from typing import Any, TypedDict

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from tenants.models import ProviderAccount, Sender

from ...models import SetupProgress
from ...session import ConsoleRequest
from .. import lists
from ..lists import FetchedList
from ..saved import Facts, connection_of, is_livechat, salesforce_verified, wizard_account
from ..step import Step, StepPage, step_url


class SenderRow(TypedDict):
    """One sender of SendersForm: the listed (or hand-added) sender and the names of its fields."""

    item: dict[str, Any]
    use: str
    channel: str | None  # None when no Messaging channel is asked for (Legacy Chat)


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


def senders_step(request: ConsoleRequest) -> HttpResponse | StepPage:
    tenant = request.tenant
    account = wizard_account(tenant)
    if account is None:
        return redirect(step_url(request, "provider"))
    connection = connection_of(tenant)
    progress = SetupProgress.of(tenant)
    refresh = request.POST.get("action") == "refresh"
    remote = lists.provider_senders(account, refresh=refresh)
    messaging = not is_livechat(connection)
    channels = None
    if messaging and connection is not None and salesforce_verified(connection, progress):
        channels = lists.salesforce_list(connection, "channels", refresh=refresh)
    current = {(s.channel, s.address): s for s in Sender.objects.for_tenant(tenant).filter(account=account)}
    new_form = partial(
        SendersForm,
        remote=remote,
        channels=channels if messaging else None,
        current=current,
        default_channel=progress.default_channel_address,
    )
    status = 200
    form = new_form()
    if request.method == "POST" and request.POST.get("action") == "save":
        form = new_form(request.POST)
        if form.is_valid():
            try:
                _save_senders(tenant, account, form.chosen, current)
            except ValidationError as exc:
                form.add_error(None, exc.messages[0])
            else:
                return redirect(step_url(request, "routing"))
        status = 400
    return StepPage(
        "console/wizard/senders.html",
        {"form": form, "account": account, "remote": remote, "channels": channels, "messaging": messaging},
        status=status,
    )


@transaction.atomic
def _save_senders(tenant, account: ProviderAccount, chosen: list[tuple[dict, str]], current: dict) -> None:
    keep = set()
    for item, feeds in chosen:
        sender = Sender(tenant=tenant, account=account, channel=item["channel"], address=item["address"])
        try:
            sender.clean()  # normalizes the number (E.164), so a sender added by hand matches a listed one
            sender = current.get((sender.channel, sender.address)) or sender
            sender.enabled = True
            sender.display_name = sender.display_name or item["label"][:120]
            if feeds:
                sender.channel_address_identifier = feeds
            sender.full_clean()
        except ValidationError as exc:
            raise ValidationError(f"{item['address']}: {'; '.join(exc.messages)}") from None
        sender.save()
        keep.add(sender.pk)
    Sender.objects.for_tenant(tenant).filter(account=account, enabled=True).exclude(pk__in=keep).update(
        enabled=False, updated_at=timezone.now()
    )


def done(facts: Facts) -> tuple[bool, str]:
    senders = facts.senders
    in_use = bool(senders) and (facts.livechat or all(s.channel_address_identifier for s in senders))
    return in_use, f"{len(senders)} in use" if senders else "None chosen yet"


STEP = Step("senders", "Senders", view=senders_step, done=done)
