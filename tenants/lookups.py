"""The configuration a message needs, from this process's cache (tenants/config_cache.py): read-only objects,
shared by the process's threads."""

from __future__ import annotations

from .config_cache import cached
from .models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, Tenant


def webhook_account(provider: str, key: str) -> ProviderAccount | None:
    """The active account (and its active tenant) a webhook URL names, or None."""
    if "\x00" in key:  # anyone can put %00 in the URL: no key has one, and PostgreSQL refuses to compare it
        return None
    return cached(
        "webhook-account",
        (provider, key),
        lambda: (
            ProviderAccount.objects.select_related("tenant")
            .filter(provider=provider, webhook_key=key, active=True, tenant__active=True)
            .order_by()  # the key is unique; the default ordering would only add a join
            .first()
        ),
    )


def senders_by_address(account: ProviderAccount) -> dict[tuple[str, str], Sender]:
    """The account's senders by (channel, address), each with its account and tenant already attached."""

    def load() -> dict[tuple[str, str], Sender]:
        senders = {}
        for sender in Sender.objects.filter(account=account, tenant_id=account.tenant_id).order_by():
            sender.account, sender.tenant = account, account.tenant
            senders[(sender.channel, sender.address)] = sender
        return senders

    return cached("senders", account.pk, load)


def tenant_with_connection(tenant_id: int) -> Tenant:
    """The tenant, its Salesforce connection attached (``tenant.salesforce``) when it has one."""

    def load() -> Tenant:
        tenant = Tenant.objects.get(pk=tenant_id)
        connection = SalesforceConnection.objects.filter(tenant_id=tenant_id).order_by().first()
        if connection is not None:
            connection.tenant = tenant
            tenant.salesforce = connection  # the reverse one-to-one, as select_related would set it
        return tenant

    return cached("tenant", tenant_id, load)


def sender_with_account(sender_id: int) -> Sender:
    def load() -> Sender:
        return Sender.objects.select_related("account__tenant", "tenant").get(pk=sender_id)

    return cached("sender", sender_id, load)


def routing_rules(tenant_id: int, sender_id: int) -> list[RoutingRule]:
    """A sender's active routing rules, in the order they are tried."""
    return cached(
        "routing-rules",
        (tenant_id, sender_id),
        lambda: list(
            RoutingRule.objects.for_tenant(tenant_id)
            .filter(sender_id=sender_id, active=True)
            .order_by("priority", "id")
        ),
    )
