"""Step 5, routing: per sender, where its conversations go in Salesforce (the channel's own routing, a queue, an
agent, a flow, or the Legacy Chat button), a fallback and the sticky-agent option."""

from __future__ import annotations

from functools import partial
from typing import TypedDict

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from tenants.models import RoutingRule, Sender
from tenants.validators import normalize_salesforce_id

from ...models import SetupProgress
from ...session import ConsoleRequest
from .. import lists
from ..lists import FetchedList
from ..saved import Facts, connection_of, is_livechat, salesforce_verified, wizard_account
from ..step import Step, StepPage, step_url


class RoutingRow(TypedDict):
    """One sender of RoutingForm and the names of its three fields."""

    sender: Sender
    target: str
    fallback: str
    sticky: str


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


def routing_step(request: ConsoleRequest) -> HttpResponse | StepPage:
    tenant = request.tenant
    connection = connection_of(tenant)
    account = wizard_account(tenant)
    progress = SetupProgress.of(tenant)
    senders = list(Sender.objects.for_tenant(tenant).filter(account=account, enabled=True)) if account else []
    if not senders:
        return redirect(step_url(request, "senders"))
    refresh = request.POST.get("action") == "refresh"
    verified = connection is not None and salesforce_verified(connection, progress)
    org_lists = {
        kind: lists.salesforce_list(connection, kind, refresh=refresh)
        if connection is not None and verified
        else lists.FetchedList()
        for kind in ("queues", "users", "flows")
    }
    rules: dict[int, RoutingRule] = {}
    for rule in RoutingRule.objects.for_tenant(tenant).filter(
        sender__in=senders, active=True, customer_pattern=""
    ):
        rules.setdefault(rule.sender_id, rule)  # ordered by priority: the first is the default rule
    chat_button = connection.chat_button_id if is_livechat(connection) else ""
    new_form = partial(
        RoutingForm, senders=senders, org_lists=org_lists, rules=rules, chat_button=chat_button
    )
    form = new_form()
    status = 200
    if request.method == "POST" and request.POST.get("action") == "save":
        form = new_form(request.POST)
        if form.is_valid():
            try:
                _save_rules(tenant, form, rules)
            except ValidationError as exc:
                form.add_error(None, "; ".join(exc.messages))
            else:
                progress.routing_saved_at = timezone.now()
                progress.save(update_fields=["routing_saved_at", "updated_at"])
                return redirect(step_url(request, "summary"))
        status = 400
    return StepPage(
        "console/wizard/routing.html",
        {"form": form, "org_lists": org_lists, "verified": verified},
        status=status,
    )


@transaction.atomic
def _save_rules(tenant, form: RoutingForm, rules: dict) -> None:
    data = form.cleaned_data
    for row in form.rows:
        sender = row["sender"]
        rule = rules.get(sender.pk) or RoutingRule(tenant=tenant, sender=sender)
        rule.target_type, rule.target_id = split_target(data[row["target"]])
        rule.target_label = form.label_for(data[row["target"]])[:200]
        rule.fallback_type, rule.fallback_id = split_target(data.get(row["fallback"]) or "")
        rule.fallback_label = form.label_for(data.get(row["fallback"]) or "")[:200]
        rule.sticky_agent = bool(data.get(row["sticky"]))
        rule.active = True
        try:
            rule.full_clean()
        except ValidationError as exc:
            raise ValidationError(f"{sender}: {'; '.join(exc.messages)}") from None
        rule.save()


def done(facts: Facts) -> tuple[bool, str]:
    senders = facts.senders
    if not senders:
        return False, "Choose senders first"
    return facts.routed >= {s.pk for s in senders}, f"{len(facts.routed)} of {len(senders)} routed"


STEP = Step("routing", "Routing", view=routing_step, done=done)
