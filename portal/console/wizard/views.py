"""The setup wizard's pages. Every view runs inside ``console_view(admin_only=True)``: the tenant comes from
the signed console session (Canvas) or the signed-in tenant admin (web), never from the URL, and every
query below is scoped to it."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from portal import livechecks
from relay.models import Message
from tenants.certificates import certificate_expiry, generate_key_pair
from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, derive_scrt_url

from .. import snippets
from ..models import SetupProgress
from ..session import ConsoleRequest, console_view
from . import channel_setup, checks, lists
from .forms import (
    ChannelPickForm,
    ChannelSetupForm,
    LegacyChatForm,
    ProviderForm,
    RoutingForm,
    SalesforceForm,
    SendersForm,
    TestMessageForm,
    split_target,
)
from .sample_message import FINAL, record_outcome
from .steps import (
    BY_SLUG,
    STEPS,
    connection_of,
    first_open,
    is_livechat,
    salesforce_verified,
    states,
    wizard_account,
)

log = logging.getLogger(__name__)


# --- helpers ---------------------------------------------------------------------------------------------


def wizard_url(request: ConsoleRequest, name: str, *args, **params) -> str:
    """A URL inside the wizard. It never carries the console token: the boosted request that follows it (a
    redirect included) sends the token in its X-Console-Token header (portal/console/session.py)."""
    query = urlencode(params)
    return f"{reverse(name, args=args)}?{query}" if query else reverse(name, args=args)


def step_url(request: ConsoleRequest, slug: str, **params) -> str:
    return wizard_url(request, "console:wizard-step", slug, **params)


def page(
    request: ConsoleRequest, template: str, context: dict, *, slug: str = "", status: int = 200
) -> HttpResponse:
    tenant = request.tenant
    progress = SetupProgress.of(tenant)
    step_states = states(tenant, progress)
    token = request.console.token()
    context = {
        "tenant": tenant,
        "console": request.console,
        "console_token": token,
        "steps": step_states,
        "current": BY_SLUG.get(slug),
        "progress": progress,
        **context,
    }
    return render(request, template, context, status=status)


def _connection(tenant) -> SalesforceConnection:
    return connection_of(tenant) or SalesforceConnection(tenant=tenant)


# --- overview, embed snippets, certificate ---------------------------------------------------------------


@console_view(admin_only=True)
@require_GET
def home(request: ConsoleRequest) -> HttpResponse:
    progress = SetupProgress.of(request.tenant)
    next_step = first_open(states(request.tenant, progress))
    return page(request, "console/wizard/home.html", {"next_step": next_step})


@console_view(admin_only=True)
@require_GET
def embed(request: ConsoleRequest) -> HttpResponse:
    return page(
        request,
        "console/wizard/embed.html",
        {
            "canvas_settings": snippets.canvas_app_settings(request.tenant),
            "aura_wizard": snippets.aura_component("wizard"),
            "aura_record": snippets.aura_component("templates", with_record=True),
            "visualforce": snippets.visualforce_page("wizard"),
        },
    )


@console_view(admin_only=True)
@require_http_methods(["GET", "POST"])  # POST: the download form, whose body carries the console token
def certificate(request: ConsoleRequest) -> HttpResponse:
    connection = connection_of(request.tenant)
    if connection is None or not connection.certificate:
        raise Http404("No certificate yet: generate the key pair first.")
    response = HttpResponse(connection.certificate, content_type="application/x-x509-ca-cert")
    response["Content-Disposition"] = f'attachment; filename="switchboard-{request.tenant.slug}.crt"'
    return response


@console_view(admin_only=True)
@require_http_methods(["GET", "POST"])
def step(request: ConsoleRequest, slug: str) -> HttpResponse:
    handler = HANDLERS.get(slug)
    if handler is None:
        raise Http404("No such step.")
    return handler(request)


# --- step 1: Salesforce connection -----------------------------------------------------------------------


def salesforce_step(request: ConsoleRequest) -> HttpResponse:
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
        check = _pending(tenant, checks.SALESFORCE_LOGIN)
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
    return page(
        request,
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
        slug="salesforce",
        status=status,
    )


# --- step 2: channel (BYOC) or Legacy Chat ---------------------------------------------------------------


def channel_step(request: ConsoleRequest) -> HttpResponse:
    connection = connection_of(request.tenant)
    if connection is None or not connection.pk:
        return redirect(step_url(request, "salesforce"))
    if is_livechat(connection):
        return _legacy_chat_step(request, connection)
    return _messaging_step(request, connection)


def _messaging_step(request: ConsoleRequest, connection: SalesforceConnection) -> HttpResponse:
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
    return page(
        request,
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
        slug="channel",
        status=status,
    )


def _legacy_chat_step(request: ConsoleRequest, connection: SalesforceConnection) -> HttpResponse:
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
        check = _pending(tenant, checks.LIVECHAT)
    return page(
        request,
        "console/wizard/legacy_chat.html",
        {
            "form": form,
            "connection": connection,
            "parsed": form.parsed if form.is_bound else None,
            "check": check,
        },
        slug="channel",
        status=status,
    )


# The snippet that holds each value the Chat API check can name as wrong.
CHAT_FIELD_OF = {
    "chat_api_endpoint": "deployment_code",
    "org_id": "deployment_code",
    "deployment_id": "deployment_code",
    "button_id": "button_code",
}


# --- step 3: provider account ----------------------------------------------------------------------------


def provider_step(request: ConsoleRequest) -> HttpResponse:
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
    return page(
        request,
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
        slug="provider",
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


# --- step 4: senders -------------------------------------------------------------------------------------


def senders_step(request: ConsoleRequest) -> HttpResponse:
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
    return page(
        request,
        "console/wizard/senders.html",
        {"form": form, "account": account, "remote": remote, "channels": channels, "messaging": messaging},
        slug="senders",
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


# --- step 5: routing -------------------------------------------------------------------------------------


def routing_step(request: ConsoleRequest) -> HttpResponse:
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
    return page(
        request,
        "console/wizard/routing.html",
        {"form": form, "org_lists": org_lists, "verified": verified},
        slug="routing",
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


# --- step 6: health check and test message ---------------------------------------------------------------


def summary_step(request: ConsoleRequest) -> HttpResponse:
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
                message = _test_message(tenant, check)
                check = None
            elif check.done:
                form.add_error(check.data.get("field") or None, check.message)
                check, status = None, 400
        else:
            status = 400
    return page(
        request,
        "console/wizard/summary.html",
        {"form": form, "senders": senders, "message": message, "test_check": check},
        slug="summary",
        status=status,
    )


@console_view(admin_only=True)
@require_GET
def health_checks(request: ConsoleRequest) -> HttpResponse:
    """Start the live health check (or join the one running) and show it, or its progress."""
    check = livechecks.start(request.tenant, checks.HEALTH)
    return _check_fragment(request, check)


@console_view(admin_only=True)
@require_GET
def check_status(request: ConsoleRequest, check_id: str) -> HttpResponse:
    """What the page polls: a live check of this tenant, pending or with its result."""
    check = livechecks.get(request.tenant, check_id)
    if check is None:
        raise Http404("No such check.")
    return _check_fragment(request, check, then=request.GET.get("then", ""))


def _pending(tenant, kind: str):
    check = livechecks.latest(tenant, kind)
    return check if check is not None and check.pending else None


def _test_message(tenant, check) -> Message | None:
    return (
        Message.objects.for_tenant(tenant)
        .filter(pk=check.data.get("message"))
        .select_related("conversation__sender")
        .first()
    )


def _check_fragment(request: ConsoleRequest, check, *, then: str = "") -> HttpResponse:
    """A pending check polls again; a finished one shows its result the way its page does, or, with
    ``then`` (a step), sends the page there (lists and setup reload the step that waits for them)."""
    context = {
        "check": check,
        "then": then if then in BY_SLUG else "",
        "console_token": request.console.token(),
    }
    if check.pending:
        return render(request, "console/wizard/_check.html", context)
    if context["then"] and (check.ok or check.kind != checks.SALESFORCE_LOGIN):
        # htmx loads the step into the page (an ajax request that carries the console token, as a click
        # on a link in the wizard does), rather than a bare navigation that would carry none.
        response = HttpResponse("")
        response["HX-Location"] = json.dumps({"path": step_url(request, context["then"]), "target": "body"})
        return response
    if check.kind == checks.HEALTH:
        found = check.data.get("checks") or []
        return render(
            request,
            "console/wizard/_health.html",
            {**context, "checks": found, "all_ok": not any(c["state"] == "error" for c in found)},
        )
    if check.kind == checks.TEST_MESSAGE and check.ok:
        message = _test_message(request.tenant, check)
        if message is not None:
            context.update(message=message, final=message.status in FINAL)
            return render(request, "console/wizard/_test_status.html", context)
    return render(request, "console/wizard/_check_result.html", context)


@console_view(admin_only=True)
@require_GET
def test_message_status(request: ConsoleRequest, pk: int) -> HttpResponse:
    message = (
        Message.objects.for_tenant(request.tenant)
        .filter(pk=pk)
        .select_related("conversation__sender")
        .first()
    )
    if message is None or (message.content or {}).get("system") != "wizard-test":
        raise Http404("No such test message.")
    record_outcome(request.tenant, message)
    return render(
        request,
        "console/wizard/_test_status.html",
        {
            "message": message,
            "final": message.status in FINAL,
        },
    )


HANDLERS = {
    "salesforce": salesforce_step,
    "channel": channel_step,
    "provider": provider_step,
    "senders": senders_step,
    "routing": routing_step,
    "summary": summary_step,
}
assert set(HANDLERS) == {s.slug for s in STEPS}
