"""The six steps and whether each is done, read from the saved configuration (never from the session),
so an admin who leaves and comes back sees exactly what is set up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from relay.models import Message
from relay.salesforce import auth
from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant

from ..models import SetupProgress


@dataclass(frozen=True)
class Step:
    slug: str
    number: int
    title: str


STEPS = (
    Step("salesforce", 1, "Salesforce connection"),
    Step("channel", 2, "Channel"),
    Step("provider", 3, "Provider account"),
    Step("senders", 4, "Senders"),
    Step("routing", 5, "Routing"),
    Step("summary", 6, "Check and test"),
)
BY_SLUG = {step.slug: step for step in STEPS}


@dataclass(frozen=True)
class StepState:
    step: Step
    done: bool
    note: str

    @property
    def slug(self) -> str:
        return self.step.slug


def connection_of(tenant: Tenant) -> SalesforceConnection | None:
    return SalesforceConnection.objects.filter(tenant=tenant).first()


def wizard_account(tenant: Tenant) -> ProviderAccount | None:
    """The provider account the wizard sets up: the tenant's first active one."""
    return ProviderAccount.objects.for_tenant(tenant).filter(active=True).order_by("pk").first()


def is_livechat(connection: SalesforceConnection | None) -> TypeGuard[SalesforceConnection]:
    return bool(connection and connection.desk == SalesforceConnection.Desk.LIVECHAT)


def salesforce_verified(connection: SalesforceConnection | None, progress: SetupProgress) -> bool:
    """The last "Test connection" succeeded with exactly the credentials saved now."""
    return bool(
        connection
        and connection.instance_url
        and connection.private_key
        and progress.salesforce_verified_for
        and progress.salesforce_verified_for == auth.cache_key(connection)
    )


def states(tenant: Tenant, progress: SetupProgress) -> list[StepState]:
    connection = connection_of(tenant)
    account = wizard_account(tenant)
    senders = list(Sender.objects.for_tenant(tenant).filter(account=account, enabled=True)) if account else []
    routed = set(
        RoutingRule.objects.for_tenant(tenant)
        .filter(active=True, sender__in=senders)
        .values_list("sender_id", flat=True)
    )
    livechat = is_livechat(connection)
    verified = salesforce_verified(connection, progress)
    if is_livechat(connection):
        channel_done = bool(connection.chat_api_endpoint and connection.chat_button_id)
        channel_note = "Chat button set" if channel_done else "Paste the chat snippets"
    else:
        channel_done = bool(
            connection
            and connection.authorization_context
            and connection.platform_event
            and progress.default_channel_address
        )
        channel_note = progress.default_channel_label or "Not set up yet"
    senders_done = bool(senders) and (livechat or all(s.channel_address_identifier for s in senders))
    delivered = bool(progress.test_delivered_at)
    if progress.test_message_id and not delivered:
        status = (
            Message.objects.for_tenant(tenant)
            .filter(pk=progress.test_message_id)
            .values_list("status", flat=True)
        )
        delivered = bool(status) and status[0] in (Message.Status.DELIVERED, Message.Status.READ)
    done = {
        "salesforce": (verified, "Connection tested" if verified else "Not tested yet"),
        "channel": (channel_done, channel_note),
        "provider": (account is not None, account.name if account else "No account yet"),
        "senders": (senders_done, f"{len(senders)} in use" if senders else "None chosen yet"),
        "routing": (
            bool(senders) and routed >= {s.pk for s in senders},
            f"{len(routed)} of {len(senders)} routed" if senders else "Choose senders first",
        ),
        "summary": (delivered, "Test message delivered" if delivered else "No test message yet"),
    }
    return [StepState(step, *done[step.slug]) for step in STEPS]


def first_open(step_states: list[StepState]) -> Step:
    return next((state.step for state in step_states if not state.done), STEPS[-1])
