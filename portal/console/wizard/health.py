"""The summary's live health check: every piece the relay depends on, asked right now.

Each check answers green (works), amber (works, but something to look at) or red (broken) with the
other side's own words, and names the wizard step that fixes it. A red Salesforce login skips the checks
that need it rather than repeating the same error five times.

It runs as a live check in a Celery worker (``checks.health``), never in the web request.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import grpc
from django.conf import settings
from django.utils import timezone

from pubsub_api import METADATA_ACCESS_TOKEN, METADATA_INSTANCE_URL, METADATA_TENANT_ID, pb2, pb2_grpc
from relay import http
from relay.desks.livechat_check import check_chat_configuration
from relay.errors import ExternalError
from relay.inbound.auth import SIGNATURE_HEADER, TOKEN_HEADER, expected_signature
from relay.models import ListenerCursor
from relay.providers.registry import get_provider
from relay.salesforce import auth, capabilities, pubsub
from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant

from ..models import SetupProgress
from . import lists
from .saved import connection_of, is_livechat, wizard_account

log = logging.getLogger(__name__)

OK, WARN, ERROR = "ok", "warn", "error"
GRPC_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    state: str  # ok | warn | error
    detail: str
    fix_step: str = ""

    @property
    def failed(self) -> bool:
        return self.state == ERROR


def run_checks(tenant: Tenant) -> list[Check]:
    connection = connection_of(tenant)
    account = wizard_account(tenant)
    checks: list[Check] = []
    token = None
    if connection is None or not connection.instance_url:
        checks.append(Check("token", "Salesforce login", ERROR, "Not configured yet.", "salesforce"))
    else:
        try:
            token = auth.get_token(connection, ask=True)
            checks.append(
                Check("token", "Salesforce login", OK, f"Logged in as {connection.integration_username}.")
            )
        except ExternalError as exc:
            checks.append(Check("token", "Salesforce login", ERROR, exc.message, "salesforce"))
    skipped = "Skipped: the Salesforce login failed."
    if is_livechat(connection):
        checks.append(
            _livechat(connection) if token else Check("chat", "Legacy Chat", ERROR, skipped, "channel")
        )
    elif token is None:
        checks.append(Check("subscription", "Event subscription", ERROR, skipped, "channel"))
    else:
        checks.append(_subscription(tenant, connection, token))
    # What a Messaging channel carries: the Cases desk has no Messaging channel.
    on_cases = connection is not None and connection.desk == SalesforceConnection.Desk.CASES
    if connection is not None and not is_livechat(connection) and not on_cases:
        checks.append(capabilities_status(tenant, connection))
    checks.extend(_provider(account))
    checks.extend(_senders(tenant, connection, account, salesforce_ok=token is not None))
    return checks


# --- Salesforce ------------------------------------------------------------------------------------------


def _subscription(tenant: Tenant, connection, token) -> Check:
    """GetTopic on the Pub/Sub API (the topic exists and the integration user may subscribe), then what the
    relay's listener last reported."""
    label = "Event subscription"
    # The Cases desk listens to /data/CaseChangeEvent: it has no channel definition or platform event to set up.
    on_cases = connection.desk == SalesforceConnection.Desk.CASES
    if not on_cases and (not connection.platform_event or not connection.authorization_context):
        return Check("subscription", label, ERROR, "The channel is not set up yet.", "channel")
    topic = pubsub.topic_name(connection)
    metadata = (
        (METADATA_ACCESS_TOKEN, str(token.access_token)),
        (METADATA_INSTANCE_URL, token.instance_url or connection.instance_url),
        (METADATA_TENANT_ID, tenant.org_id),
    )
    channel = pubsub.open_channel()
    try:
        info = pb2_grpc.PubSubStub(channel).GetTopic(
            pb2.TopicRequest(topic_name=topic), metadata=metadata, timeout=GRPC_TIMEOUT_SECONDS
        )
    except grpc.RpcError as exc:
        return Check(
            "subscription", label, ERROR, f"Pub/Sub refused {topic}: {exc.details() or exc.code()}", "channel"
        )
    finally:
        channel.close()
    if not info.can_subscribe:
        return Check(
            "subscription",
            label,
            ERROR,
            f"The integration user may not subscribe to {topic}: give it read access to the event.",
            "channel",
        )
    return listener_status(tenant, topic)


GAP_SHOWN_DAYS = 7  # how long the check keeps telling about events Salesforce had purged (docs/listener.md)


def listener_status(tenant: Tenant, topic: str) -> Check:
    """What ``relay_listen`` last reported for the tenant (its ListenerCursor): a stream that fails (a token
    that cannot be minted, an outage), events lost to Salesforce's retention, or no subscription yet."""
    label = "Event subscription"
    cursor = ListenerCursor.objects.filter(tenant=tenant, topic=topic).first()
    if cursor is not None and cursor.last_error:
        return Check("subscription", label, ERROR, f"The listener reports: {cursor.last_error}", "channel")
    if cursor is None or cursor.subscribed_at is None:
        return Check(
            "subscription",
            label,
            WARN,
            f"{topic} is ready, but no listener has subscribed yet: is `manage.py relay_listen` running? "
            "Agent replies sent meanwhile wait in Salesforce for up to 72 hours.",
        )
    if cursor.gap and cursor.gap_at and cursor.gap_at > timezone.now() - timedelta(days=GAP_SHOWN_DAYS):
        return Check("subscription", label, WARN, f"Subscribed to {topic}, but: {cursor.gap}")
    return Check(
        "subscription", label, OK, f"Subscribed to {topic} since {cursor.subscribed_at:%Y-%m-%d %H:%M} UTC."
    )


def capabilities_status(tenant: Tenant, connection) -> Check:
    """Whether the channel's capabilities are registered, as the last registration left them (Salesforce has
    no call to read them back): for this channel definition, SCRT host and the capabilities this version
    carries. Not registered, agents can still write, but Salesforce offers them no buttons, lists or forms."""
    label = "Capabilities registered"
    rows = SetupProgress.of(tenant).channel_setup or []
    row = next((r for r in rows if r.get("what") == capabilities.ROW_LABEL), None)
    unregistered = (
        "so agents cannot send buttons, lists or forms: run the channel setup (or save the channel)."
    )
    if row is None:
        return Check("capabilities", label, WARN, f"Not registered yet, {unregistered}", "channel")
    if not row.get("created"):
        return Check(
            "capabilities",
            label,
            WARN,
            f"The registration failed ({row.get('message')}), {unregistered}",
            "channel",
        )
    if row.get("capabilities") != capabilities.fingerprint(connection):
        return Check(
            "capabilities",
            label,
            WARN,
            "Registered for another channel definition, SCRT host or an older version of Switchboard: "
            "run the channel setup again so agents can send everything the channel carries.",
            "channel",
        )
    return Check("capabilities", label, OK, f"{connection.authorization_context}: {capabilities.summary()}.")


def _livechat(connection) -> Check:
    """The four chat settings, checked live at the Chat API (relay/desks/livechat_check.py names the wrong one)."""
    label = "Legacy Chat"
    if not (connection.chat_api_endpoint and connection.chat_deployment_id and connection.chat_button_id):
        return Check("chat", label, ERROR, "The chat snippets are not saved yet.", "channel")
    result = check_chat_configuration(
        connection.chat_api_endpoint,
        connection.tenant.org_id,
        connection.chat_deployment_id,
        connection.chat_button_id,
    )
    if not result.ok:
        return Check("chat", label, ERROR, " ".join(result.errors.values()), "channel")
    online = "agents online" if result.available else "no agent online right now"
    return Check("chat", label, OK, f"Chat button found ({online}).")


# --- the provider ----------------------------------------------------------------------------------------


def _provider(account: ProviderAccount | None) -> list[Check]:
    if account is None:
        return [Check("provider", "Provider API key", ERROR, "No provider account yet.", "provider")]
    checks = []
    try:
        get_provider(account.provider).check_credentials(account)
        checks.append(
            Check("provider", "Provider API key", OK, f"{account.get_provider_display()} accepts the key.")
        )
    except (ExternalError, LookupError) as exc:
        checks.append(Check("provider", "Provider API key", ERROR, _text(exc), "provider"))
    checks.append(_webhook(account))
    return checks


def _webhook(account: ProviderAccount) -> Check:
    """POST an empty, correctly authenticated webhook to our own public URL, as the provider would: proves
    PUBLIC_BASE_URL reaches this installation and the credentials are in place."""
    label = "Webhook reachable"
    url = settings.PUBLIC_BASE_URL + account.webhook_path
    body = json.dumps({"results": []}).encode()
    headers = {"Content-Type": "application/json"}
    secret = str(account.webhook_secret or "")
    if not secret:
        return Check("webhook", label, ERROR, "The webhook has no credentials: generate them.", "provider")
    if account.webhook_auth == ProviderAccount.WebhookAuth.HMAC:
        headers[SIGNATURE_HEADER] = expected_signature(secret, body)
    elif account.webhook_auth == ProviderAccount.WebhookAuth.HEADER:
        headers[TOKEN_HEADER] = secret
    try:
        auth_pair = (
            (account.webhook_username, secret)
            if account.webhook_auth == ProviderAccount.WebhookAuth.BASIC
            else None
        )
        response = http.request("provider", "POST", url, content=body, headers=headers, auth=auth_pair)
    except ExternalError as exc:
        return Check("webhook", label, ERROR, f"{url} is not reachable: {exc.message}", "provider")
    if response.status_code != 200:
        return Check(
            "webhook",
            label,
            ERROR,
            f"{url} answered {response.status_code}: {response.text[:300]}",
            "provider",
        )
    return Check("webhook", label, OK, f"{url} accepts authenticated webhooks.")


# --- senders ---------------------------------------------------------------------------------------------


def _senders(tenant: Tenant, connection, account, *, salesforce_ok: bool) -> list[Check]:
    if account is None:
        return []
    senders = list(Sender.objects.for_tenant(tenant).filter(account=account, enabled=True))
    if not senders:
        return [Check("senders", "Senders", ERROR, "No sender is in use.", "senders")]
    remote = lists.fetch_provider_senders(account)
    livechat = is_livechat(connection)
    channels = None
    if salesforce_ok and not livechat:
        channels = lists.fetch_salesforce_list(connection, "channels")
    routed = set(
        RoutingRule.objects.for_tenant(tenant)
        .filter(active=True, sender__in=senders)
        .values_list("sender_id", flat=True)
    )
    checks = []
    for sender in senders:
        label = f"{sender.get_channel_display()} {sender.address}"
        key = f"sender-{sender.pk}"
        problem = unconfirmed = ""
        fix = "senders"
        listed = any(item["value"] == f"{sender.channel}:{sender.address}" for item in remote.items)
        if not remote.error and not listed and sender.channel == Sender.Channel.VIBER:
            # Infobip's API lists numbers only: a Viber service name cannot be confirmed.
            unconfirmed = "the provider's API does not list Viber senders, so this one cannot be confirmed"
        if remote.error:
            problem = f"The provider's number list could not be read: {remote.error}"
        elif not listed and not unconfirmed:
            problem = f"The provider account has no {sender.get_channel_display()} sender {sender.address}."
        elif not livechat and not sender.channel_address_identifier:
            problem = "It feeds no Messaging channel."
        elif channels is not None and channels.error:
            problem = f"The org's Messaging channels could not be read: {channels.error}"
        elif channels is not None and not channels.label_of(sender.channel_address_identifier):
            problem = "Its Messaging channel is not in the org (deleted, or another org's)."
        elif sender.pk not in routed:
            problem, fix = "It has no routing rule.", "routing"
        if problem:
            checks.append(Check(key, label, ERROR, problem, fix))
        elif unconfirmed:
            checks.append(Check(key, label, WARN, f"Routed, but {unconfirmed}."))
        else:
            feeds = channels.label_of(sender.channel_address_identifier) if channels else ""
            checks.append(Check(key, label, OK, f"Ready{f', feeds {feeds}' if feeds else ''}."))
    return checks


def _text(exc: Exception) -> str:
    return exc.message if isinstance(exc, ExternalError) else str(exc)
