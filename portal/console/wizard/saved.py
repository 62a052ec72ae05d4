"""What the wizard reads from the saved configuration (never from the session), so an admin who leaves and
comes back sees exactly what is set up: the tenant's connection, the account the wizard sets up, and the
:class:`Facts` every step's done rule reads, queried once per page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from relay.salesforce import auth
from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant

from ..models import SetupProgress


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


@dataclass(frozen=True)
class Facts:
    """The saved configuration the steps' done rules read (steps/<step>.py ``done``)."""

    tenant: Tenant
    progress: SetupProgress
    connection: SalesforceConnection | None
    account: ProviderAccount | None
    senders: list[Sender]  # the wizard account's enabled senders
    routed: set[int]  # those of them with an active routing rule
    livechat: bool
    verified: bool

    @classmethod
    def read(cls, tenant: Tenant, progress: SetupProgress) -> Facts:
        connection = connection_of(tenant)
        account = wizard_account(tenant)
        senders = (
            list(Sender.objects.for_tenant(tenant).filter(account=account, enabled=True)) if account else []
        )
        routed = set(
            RoutingRule.objects.for_tenant(tenant)
            .filter(active=True, sender__in=senders)
            .values_list("sender_id", flat=True)
        )
        return cls(
            tenant=tenant,
            progress=progress,
            connection=connection,
            account=account,
            senders=senders,
            routed=routed,
            livechat=is_livechat(connection),
            verified=salesforce_verified(connection, progress),
        )
