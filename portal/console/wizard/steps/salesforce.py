"""Step 1, the Salesforce connection: the org's My Domain, the Connected App (JWT bearer: a key pair made here,
its certificate uploaded there), the desk, and a sign-in test in a worker. Done when the last test passed with
exactly the credentials saved now."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect

from portal import livechecks
from relay.untrusted import max_length_of
from tenants.certificates import certificate_expiry, generate_key_pair
from tenants.models import SalesforceConnection
from tenants.validators import validate_salesforce_url

from ...models import SetupProgress
from ...session import ConsoleRequest
from .. import checks
from ..forms import SldsForm
from ..saved import Facts, connection_of, salesforce_verified
from ..step import Step, StepPage, pending, step_url


class SalesforceForm(SldsForm):
    instance_url = forms.CharField(
        label="My Domain URL",
        max_length=max_length_of(SalesforceConnection, "instance_url"),
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
        max_length=max_length_of(SalesforceConnection, "login_url"),
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


def _connection(tenant) -> SalesforceConnection:
    return connection_of(tenant) or SalesforceConnection(tenant=tenant)


def salesforce_step(request: ConsoleRequest) -> HttpResponse | StepPage:
    tenant = request.tenant
    connection = _connection(tenant)
    progress = SetupProgress.of(tenant)
    action = request.POST.get("action", "")
    result = None
    if request.method == "POST" and action == "generate":
        connection.private_key, connection.certificate = generate_key_pair(f"Switchboard {tenant.slug}")
        connection.save()
        return redirect(step_url(request, "salesforce", generated=1) + "#certificate")
    check = None
    if request.method == "POST":
        form = SalesforceForm(request.POST, secret_set=bool(connection.canvas_consumer_secret))
        if form.is_valid():
            connection = form.save(connection)
            if not connection.private_key:
                result = {
                    "ok": False,
                    "message": "Generate the key pair and upload the certificate to the Connected App first.",
                }
            else:  # the sign-in runs in a worker; the page polls it (at once with Celery eager)
                check = livechecks.start(tenant, checks.SALESFORCE_LOGIN)
                if check.done:
                    result, check = {"ok": check.ok, "message": check.message}, None
                    if result["ok"] and action == "continue":
                        return redirect(step_url(request, "channel"))
                progress = SetupProgress.of(tenant)
    else:
        check = pending(tenant, checks.SALESFORCE_LOGIN)
        initial = {
            "instance_url": connection.instance_url or (request.console.frame_origins or [""])[0],
            "environment": connection.environment,
            "desk": connection.desk,
            "consumer_key": connection.consumer_key,
            "integration_username": connection.integration_username,
            "login_url": ""
            if connection.login_url in ("", connection.instance_url)
            else connection.login_url,
        }
        form = SalesforceForm(initial=initial, secret_set=bool(connection.canvas_consumer_secret))
    status = 400 if request.method == "POST" and not form.is_valid() else 200
    return StepPage(
        "console/wizard/salesforce.html",
        {
            "form": form,
            "connection": connection,
            "result": result,
            "check": check,
            "then": "channel" if action == "continue" else "",
            "verified": salesforce_verified(connection, progress) if connection.pk else False,
            "has_key": bool(connection.pk and connection.private_key and connection.certificate),
            "certificate_expires": certificate_expiry(connection.certificate)
            if connection.certificate
            else None,
            "generated": request.GET.get("generated") == "1",
        },
        status=status,
    )


def done(facts: Facts) -> tuple[bool, str]:
    return facts.verified, "Connection tested" if facts.verified else "Not tested yet"


STEP = Step("salesforce", "Salesforce connection", view=salesforce_step, done=done)
