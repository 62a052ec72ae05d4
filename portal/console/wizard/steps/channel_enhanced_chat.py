"""Step 2 on the Enhanced Chat desk: the SCRT URL and the Custom Client deployment's API name (both on the
deployment's Code Snippet page), checked live in a worker (an end user's token from the deployment) and saved
there only when Salesforce accepts them, and the texts customers see."""

from __future__ import annotations

from django import forms
from django.http import HttpResponse

from portal import livechecks
from relay.untrusted import max_length_of
from tenants.models import SalesforceConnection, derive_scrt_url
from tenants.validators import validate_salesforce_url

from ...session import ConsoleRequest
from ..enhanced_chat import ENHANCED_CHAT, TEXTS
from ..forms import SldsForm, TextsMixin
from ..saved import Facts
from ..step import StepPage, pending


class EnhancedChatForm(TextsMixin, SldsForm):
    scrt_url = forms.CharField(
        label="SCRT URL",
        max_length=max_length_of(SalesforceConnection, "scrt_url"),
        validators=[validate_salesforce_url],
        help_text="On the deployment's Code Snippet, e.g. https://acme.my.salesforce-scrt.com.",
    )
    es_developer_name = forms.CharField(
        label="Deployment API Name",
        max_length=80,
        validators=SalesforceConnection._meta.get_field("es_developer_name").validators,
        help_text="Setup → Embedded Service Deployments → your Custom Client deployment → API Name.",
    )

    def clean_scrt_url(self) -> str:
        return self.cleaned_data["scrt_url"].strip().rstrip("/")

    def clean_es_developer_name(self) -> str:
        return self.cleaned_data["es_developer_name"].strip()


def enhanced_chat_page(request: ConsoleRequest, connection: SalesforceConnection) -> HttpResponse | StepPage:
    tenant = request.tenant
    initial = {
        "scrt_url": connection.scrt_url or derive_scrt_url(connection.instance_url),
        "es_developer_name": connection.es_developer_name,
        **{name: getattr(tenant, name) for name in TEXTS},
    }
    form = EnhancedChatForm(initial=initial)
    status, check = 200, None
    if request.method == "POST":
        form = EnhancedChatForm(request.POST)
        if form.is_valid():  # checked live in a worker; saved there only if Salesforce accepts it
            data = form.cleaned_data
            check = livechecks.start(
                tenant,
                ENHANCED_CHAT,
                params={
                    "settings": {
                        "scrt_url": data["scrt_url"],
                        "es_developer_name": data["es_developer_name"],
                    },
                    "texts": {name: data[name].strip() for name in TEXTS},
                },
                dedupe=False,  # each confirmation checks its own values
            )
            if check.done and not check.ok:
                field = check.data.get("field", "")
                form.add_error(field if field in form.fields else None, check.message)
                check, status = None, 400
        else:
            status = 400
    else:
        check = pending(tenant, ENHANCED_CHAT)
    return StepPage("console/wizard/enhanced_chat.html", {"form": form, "check": check}, status=status)


def enhanced_chat_done(facts: Facts) -> tuple[bool, str]:
    connection = facts.connection
    done = bool(connection and connection.es_developer_name)
    return done, connection.es_developer_name if done and connection else "Name the Enhanced Chat deployment"
