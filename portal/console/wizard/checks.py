"""The live checks of the wizard and the partner API: each calls Salesforce or the provider, and runs in a
Celery worker through :mod:`portal.livechecks`, never inside a web request.

A runner gets the tenant and the check (its ``params``: ids and names, never secrets; secrets are sealed
in the check) and answers an :class:`~portal.livechecks.Outcome` in the other side's own words.
"""

from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.livechecks import Check, Outcome, runner, secrets_of
from relay.desks.livechat_check import check_chat_configuration
from relay.errors import ExternalError
from relay.providers.registry import get_provider
from relay.salesforce import auth, capabilities
from tenants.models import ProviderAccount, Sender, Tenant

from ..models import SetupProgress
from . import channel_setup, health, lists
from .sample_message import send_test_message
from .saved import connection_of

SALESFORCE_LOGIN = "salesforce-login"
CHANNEL_SETUP = "channel-setup"
PROVIDER_KEY = "provider-key"
HEALTH = "health"
TEST_MESSAGE = "test-message"
SENDER_SYNC = "sender-sync"
CAPABILITIES = "capabilities"
LIVECHAT = "livechat-config"


@runner(SALESFORCE_LOGIN)
def salesforce_login(tenant: Tenant, check: Check) -> Outcome:
    """The JWT bearer flow with the saved settings; on success the wizard's step 1 counts as verified for
    exactly these credentials."""
    connection = connection_of(tenant)
    missing = [
        name
        for name in ("instance_url", "consumer_key", "integration_username", "private_key")
        if connection is None or not getattr(connection, name)
    ]
    if connection is None or missing:
        return Outcome(False, f"Set {', '.join(missing)} first.", "incomplete")
    progress = SetupProgress.of(tenant)
    try:
        token = auth.get_token(connection, ask=True)  # a fresh sign-in: a cached token proves nothing
    except ExternalError as exc:
        SetupProgress.objects.filter(pk=progress.pk).update(salesforce_verified_for="")
        return Outcome(False, exc.message, exc.code or "")
    progress.salesforce_verified_for = auth.cache_key(connection)
    progress.salesforce_verified_at = timezone.now()
    progress.save(update_fields=["salesforce_verified_for", "salesforce_verified_at", "updated_at"])
    return Outcome(
        True,
        f"Salesforce accepted the login of {connection.integration_username} ({token.instance_url}).",
    )


@runner(CHANNEL_SETUP)
def channel_setup_check(tenant: Tenant, check: Check) -> Outcome:
    """The Tooling API setup of step 2; what it did is kept in the setup progress, as the page shows it."""
    connection = connection_of(tenant)
    if connection is None:
        return Outcome(False, "Connect Salesforce first.")
    progress = SetupProgress.of(tenant)
    error = ""
    try:
        done = channel_setup.ensure_channel(
            connection, connection.authorization_context, connection.platform_event
        )
    except channel_setup.ChannelSetupError as exc:
        done, error = exc.done, exc.message
    rows = channel_setup.as_rows(done)
    if not error and connection.scrt_url:
        # The channel definition exists: tell Salesforce what the channel carries. Without a saved SCRT
        # host (the first run, before part B) the registration follows when the admin saves the channel.
        registration = capabilities.register(connection)
        rows.append(registration.as_row(connection))
        error = "" if registration.ok else f"{capabilities.ROW_LABEL}: {registration.message}"
    progress.channel_setup = rows
    progress.channel_setup_at = timezone.now()
    progress.save(update_fields=["channel_setup", "channel_setup_at", "updated_at"])
    lists.forget(connection=connection)
    return Outcome(not error, error or f"{len(done)} pieces in place.")


@runner(CAPABILITIES)
def register_capabilities(tenant: Tenant, check: Check) -> Outcome:
    """Register the channel's capabilities again (the SCRT host was saved or changed)."""
    return register_and_record_capabilities(tenant)


def register_and_record_capabilities(tenant: Tenant) -> Outcome:
    """Register the channel's capabilities; the setup table's capabilities row is replaced by the result."""
    connection = connection_of(tenant)
    if connection is None:
        return Outcome(False, "Connect Salesforce first.")
    registration = capabilities.register(connection)
    progress = SetupProgress.of(tenant)
    rows = [row for row in progress.channel_setup or [] if row.get("what") != capabilities.ROW_LABEL]
    progress.channel_setup = [*rows, registration.as_row(connection)]
    progress.save(update_fields=["channel_setup", "updated_at"])
    return Outcome(registration.ok, registration.message)


@runner("list:*")
def fetch_list(tenant: Tenant, check: Check) -> Outcome:
    kind = check.kind.split(":", 1)[1]
    if kind == "senders":
        account = ProviderAccount.objects.for_tenant(tenant).filter(pk=check.params.get("account")).first()
        if account is None:
            return Outcome(False, "The provider account no longer exists.")
        fetched = lists.fetch_provider_senders(account)
    elif kind in lists.SALESFORCE_KINDS:
        connection = connection_of(tenant)
        if connection is None:
            return Outcome(False, "Connect Salesforce first.")
        fetched = lists.fetch_salesforce_list(connection, kind)
    else:
        return Outcome(False, f"No such list: {kind}.")
    if fetched.error:
        return Outcome(False, fetched.error)
    return Outcome(True, f"{len(fetched.items)} {kind} fetched.")


@runner(PROVIDER_KEY, PROVIDER_KEY + ":*")
def provider_key(tenant: Tenant, check: Check) -> Outcome:
    """The API key at the provider: a saved account's (``account`` param), or one typed into the wizard and
    not saved yet (``provider`` and ``base_url`` params, the key sealed)."""
    params = check.params
    if params.get("account"):
        account = ProviderAccount.objects.for_tenant(tenant).filter(pk=params["account"]).first()
        if account is None:
            return Outcome(False, "The provider account no longer exists.", "not_found")
    else:
        api_key = secrets_of(check).get("api_key", "")
        account = ProviderAccount(
            provider=params["provider"],
            base_url=params["base_url"],
            api_key=api_key,
            subaccount_id=params.get("subaccount_id", ""),
            provider_account_id=params.get("provider_account_id", ""),
        )
    try:
        adapter = get_provider(account.provider)
    except LookupError:
        return Outcome(False, "Switchboard has no adapter for this provider yet.", "provider")
    try:
        adapter.check_credentials(account)
    except ExternalError as exc:
        # Which field is wrong: the key when the provider refused it, else the URL.
        field = "api_key" if exc.status in (401, 403) else "base_url"
        return Outcome(False, exc.message, exc.code or "", {"field": field})
    return Outcome(True, f"{account.get_provider_display()} accepted the API key.")


@runner(HEALTH)
def health_check(tenant: Tenant, check: Check) -> Outcome:
    checks = health.run_checks(tenant)
    failed = [c for c in checks if c.failed]
    return Outcome(
        not failed,
        f"{len(failed)} of {len(checks)} broken." if failed else "Everything answers.",
        data={"checks": [asdict(c) for c in checks]},
    )


@runner(TEST_MESSAGE)
def send_sample(tenant: Tenant, check: Check) -> Outcome:
    sender = Sender.objects.for_tenant(tenant).filter(pk=check.params.get("sender"), enabled=True).first()
    if sender is None:
        return Outcome(False, "The sender is no longer in use.")
    try:
        message = send_test_message(tenant, sender, check.params.get("number", ""))
    except ValidationError as exc:
        field = "number" if "number" in str(exc) else ""
        return Outcome(False, exc.messages[0], data={"field": field})
    return Outcome(True, "Sent.", data={"message": message.pk})


@runner(SENDER_SYNC, SENDER_SYNC + ":*")
def sender_sync(tenant: Tenant, check: Check) -> Outcome:
    """The partner API's sync: add the account's numbers that Switchboard does not have yet."""
    account = ProviderAccount.objects.for_tenant(tenant).filter(pk=check.params.get("account")).first()
    if account is None:
        return Outcome(False, "The provider account no longer exists.", "not_found")
    try:
        remote = get_provider(account.provider).list_senders(account)
    except ExternalError as exc:
        return Outcome(False, exc.message, exc.code or "upstream_error")
    enable = bool(check.params.get("enable"))
    created, existing, skipped = [], [], []
    with transaction.atomic():
        for item in remote:
            found = Sender.objects.filter(account=account, channel=item.channel, address=item.address).first()
            if found is not None:
                existing.append(found.pk)
                continue
            sender = Sender(
                tenant=account.tenant,
                account=account,
                channel=item.channel,
                address=item.address,
                display_name=item.display_name[:120],
                enabled=enable,
            )
            try:
                sender.full_clean()
            except ValidationError as exc:
                skipped.append({"channel": item.channel, "address": item.address, "reason": exc.messages})
                continue
            if Sender.objects.filter(
                account=account, channel=sender.channel, address=sender.address
            ).exists():
                continue  # the provider listed the same number twice in two spellings
            sender.save()
            created.append(sender.pk)
    return Outcome(
        True,
        f"{len(created)} added, {len(existing)} already there, {len(skipped)} skipped.",
        data={"created": created, "existing": existing, "skipped": skipped},
    )


CHAT_SETTINGS = ("chat_api_endpoint", "org_id", "deployment_id", "button_id")
CHAT_TEXTS = ("welcome_text", "closing_text", "no_agent_text")


@runner(LIVECHAT)
def livechat_config(tenant: Tenant, check: Check) -> Outcome:
    """The Legacy Chat settings checked live at the Chat API (Settings and Availability: no chat is started).

    With a ``settings`` param (the wizard: the four values read from the snippets, not saved yet) they are
    saved, with the ``texts``, only when they pass; without it the saved connection's are checked (the
    partner API). A failure names the wrong value in ``data["field"]``."""
    connection = connection_of(tenant)
    if connection is None or connection.desk != connection.Desk.LIVECHAT:
        return Outcome(
            False, "This tenant's Salesforce connection does not use the Legacy Chat desk.", "desk"
        )
    given = check.params.get("settings")
    values = (
        {name: str(given.get(name, "")) for name in CHAT_SETTINGS}
        if isinstance(given, dict)
        else {
            "chat_api_endpoint": connection.chat_api_endpoint,
            "org_id": tenant.org_id,
            "deployment_id": connection.chat_deployment_id,
            "button_id": connection.chat_button_id,
        }
    )
    missing = [name for name, value in values.items() if not value]
    if missing:
        return Outcome(False, f"Set {', '.join(missing)} first.", "incomplete", {"field": missing[0]})
    result = check_chat_configuration(*(values[name] for name in CHAT_SETTINGS))
    if not result.ok:
        field, message = next(iter(result.errors.items()))
        return Outcome(False, message, "wrong_" + field, {"field": field, "errors": result.errors})
    if isinstance(given, dict):
        with transaction.atomic():
            connection.chat_api_endpoint = values["chat_api_endpoint"]
            connection.chat_deployment_id = values["deployment_id"]
            connection.chat_button_id = values["button_id"]
            connection.save(
                update_fields=["chat_api_endpoint", "chat_deployment_id", "chat_button_id", "updated_at"]
            )
            given_texts = check.params.get("texts") or {}
            texts = {name: str(given_texts[name]) for name in CHAT_TEXTS if name in given_texts}
            if texts:
                for name, value in texts.items():
                    setattr(tenant, name, value)
                tenant.save(update_fields=[*texts, "updated_at"])
    state = "online" if result.available else "offline"
    return Outcome(
        True,
        f"Checked: button {state}"
        + ("." if result.available else " (no agent can take a chat right now; chats wait for one)."),
        data={"available": result.available},
    )


# Register the Cases and Enhanced Chat desks' checks.
from . import cases, enhanced_chat  # noqa: F401, E402
