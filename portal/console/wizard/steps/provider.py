"""Step 3, the provider account: the provider, its API base URL (or region) and key, checked at the provider in a
worker before anything is saved; then the webhook URL and secret to set there, shown once."""

from __future__ import annotations

import base64
from typing import cast

from django import forms
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect

from portal import livechecks
from relay.providers.registry import get_provider
from relay.untrusted import max_length_of
from tenants.models import ProviderAccount
from tenants.secret_binding import stored_key_refusal
from tenants.validators import validate_api_origin, validate_provider_account_id, validate_subaccount_id

from ...session import ConsoleRequest
from .. import checks, lists
from ..forms import SldsForm
from ..saved import Facts, wizard_account
from ..step import Step, StepPage, step_url


class ProviderForm(SldsForm):
    provider = forms.ChoiceField(choices=ProviderAccount.Provider.choices)
    name = forms.CharField(max_length=120, help_text="For you: how this account shows in lists.")
    base_url = forms.CharField(
        label="API base URL",
        max_length=max_length_of(ProviderAccount, "base_url"),
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


def provider_step(request: ConsoleRequest) -> HttpResponse | StepPage:
    """The key is checked at the provider by a live check in a worker before anything is saved; once it
    passes, the account is saved and its new webhook secret shown in that same response, once."""
    tenant = request.tenant
    account = wizard_account(tenant)
    action = request.POST.get("action", "")
    secret = form_error = ""
    check = None
    status = 200
    if request.method == "POST" and action == "rotate" and account is not None:
        secret = account.rotate_webhook_credentials()
        account.save()
        form = _provider_form(tenant, account)
    elif request.method == "POST" and action == "finish":
        check = livechecks.get(tenant, request.POST.get("check", ""))
        form = _provider_form(tenant, account)
        if (
            check is None
            or check.kind != checks.PROVIDER_KEY
            or not (check.done and check.ok and check.sealed)
        ):
            # The form is unbound (nothing was typed): the page shows the reason above it.
            form_error = "This key check is over or unknown: enter the API key again."
            check, status = None, 400
        else:
            data = check.params["form"]
            account, secret = _save_provider(tenant, account, data, livechecks.consume_secrets(check))
            if not secret:
                return redirect(step_url(request, "senders"))
            check = None
            form = _provider_form(tenant, account)
    elif request.method == "POST":
        form = ProviderForm(request.POST, account=account)
        if form.is_valid():
            data = {k: form.cleaned_data[k] for k in PROVIDER_FIELDS}
            api_key = form.cleaned_data["api_key"] or str(account.api_key if account else "")
            check = livechecks.start(
                tenant,
                checks.PROVIDER_KEY,
                params={
                    "provider": data["provider"],
                    "base_url": data["base_url"],
                    "subaccount_id": data["subaccount_id"],
                    "provider_account_id": data["provider_account_id"],
                    "form": data,
                },
                secrets={"api_key": api_key, "new": bool(form.cleaned_data["api_key"])},
                dedupe=False,  # each attempt checks its own key
            )
            if check.done and check.ok:
                account, secret = _save_provider(tenant, account, data, livechecks.consume_secrets(check))
                if not secret:
                    return redirect(step_url(request, "senders"))
                check, form = None, _provider_form(tenant, account)
            elif check.done:
                form.add_error(check.data.get("field") or "base_url", check.message)
                check, status = None, 400
        else:
            status = 400
    else:
        form = _provider_form(tenant, account)
    return StepPage(
        "console/wizard/provider.html",
        {
            "form": form,
            "account": account,
            "secret": secret,
            "check": check,
            "form_error": form_error,
            "webhook_url": settings.PUBLIC_BASE_URL + account.webhook_path if account else "",
            "signature_header": "X-Hub-Signature-256",
            "token_header": "X-Switchboard-Token",
            # The whole Authorization value, for providers that send a configured one verbatim (8x8).
            "authorization_value": _basic_value(account, secret),
        },
        status=status,
    )


PROVIDER_FIELDS = ("provider", "name", "base_url", "webhook_auth", "subaccount_id", "provider_account_id")


def _basic_value(account: ProviderAccount | None, secret: str) -> str:
    if not (account and secret and account.webhook_auth == ProviderAccount.WebhookAuth.BASIC):
        return ""
    return "Basic " + base64.b64encode(f"{account.webhook_username}:{secret}".encode()).decode()


def _save_provider(tenant, account: ProviderAccount | None, data: dict, secrets: dict):
    """Save what the admin entered (after its key passed); new webhook credentials when the account is new,
    its webhook authentication changed or it has none. Returns (account, the new secret or "")."""
    is_new = account is None
    account = account or ProviderAccount(tenant=tenant)
    auth_changed = account.webhook_auth != data["webhook_auth"]
    for name in PROVIDER_FIELDS:
        setattr(account, name, data.get(name, ""))
    if secrets.get("new"):
        account.api_key = secrets["api_key"]
    secret = ""
    if is_new or auth_changed or not account.webhook_secret:
        secret = account.rotate_webhook_credentials()
    account.save()
    lists.forget(account=account)
    return account, secret


def _provider_form(tenant, account: ProviderAccount | None) -> ProviderForm:
    if account is None:
        initial = {"provider": ProviderAccount.Provider.INFOBIP, "name": f"{tenant.name} Infobip"}
    else:
        initial = {
            "provider": account.provider,
            "name": account.name,
            "base_url": account.base_url,
            "webhook_auth": account.webhook_auth,
            "subaccount_id": account.subaccount_id,
            "provider_account_id": account.provider_account_id,
        }
    return ProviderForm(initial=initial, account=account)


def done(facts: Facts) -> tuple[bool, str]:
    return facts.account is not None, facts.account.name if facts.account else "No account yet"


STEP = Step("provider", "Provider account", view=provider_step, done=done)
