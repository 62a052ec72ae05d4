"""Lists the wizard offers to pick from, fetched from the org or the provider once and cached.

No page calls Salesforce per row: each list is one query, kept in the shared cache (per tenant and per
credentials) until the admin presses "Refresh". A failed fetch is shown, never cached.

No page calls Salesforce or the provider at all: a list that is not cached yet (or is refreshed) is
fetched by a live check in a Celery worker (``portal.livechecks``); until it is there the page shows it as
pending and polls. ``fetch_*`` are the worker's side (and the health check's, which runs there too).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from relay.errors import ExternalError
from relay.providers.registry import get_provider
from relay.salesforce import auth
from relay.salesforce.rest import SalesforceRest
from tenants.models import ProviderAccount, SalesforceConnection

CACHE_SECONDS = 24 * 3600

SALESFORCE_KINDS = ("queues", "users", "flows", "channels")


@dataclass
class FetchedList:
    items: list[dict] = field(default_factory=list)
    fetched_at: datetime | None = None
    error: str = ""
    check: object = None  # the live check fetching it, while it is pending (portal.livechecks.Check)

    @property
    def pending(self) -> bool:
        return self.check is not None

    def label_of(self, value: str) -> str:
        return next((item["label"] for item in self.items if item["value"] == value), "")


def soql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _salesforce_key(connection: SalesforceConnection, kind: str) -> str:
    extra = connection.authorization_context if kind == "channels" else ""
    return f"console:wizard:list:{kind}:{auth.cache_key(connection)}:{extra}"


def _provider_key(account: ProviderAccount) -> str:
    digest = hashlib.sha256(f"{account.base_url}\0{account.api_key}".encode()).hexdigest()[:16]
    return f"console:wizard:list:senders:{account.tenant_id}:{account.pk}:{digest}"


def salesforce_list(connection: SalesforceConnection, kind: str, *, refresh: bool = False) -> FetchedList:
    """The cached list, or a pending one whose fetch is queued (the page polls it)."""
    return _cached_or_queued(connection.tenant, f"list:{kind}", _salesforce_key(connection, kind), refresh)


def provider_senders(account: ProviderAccount, *, refresh: bool = False) -> FetchedList:
    return _cached_or_queued(
        account.tenant, "list:senders", _provider_key(account), refresh, params={"account": account.pk}
    )


def fetch_salesforce_list(connection: SalesforceConnection, kind: str) -> FetchedList:
    """Fetch now and cache (a worker's side: the live check, the health check)."""
    return _fetch(_salesforce_key(connection, kind), lambda: FETCHERS[kind](connection))


def fetch_provider_senders(account: ProviderAccount) -> FetchedList:
    def fetch() -> list[dict]:
        return [
            {
                "value": f"{remote.channel}:{remote.address}",
                "channel": remote.channel,
                "address": remote.address,
                "label": remote.display_name,
            }
            for remote in get_provider(account.provider).list_senders(account)
        ]

    return _fetch(_provider_key(account), fetch)


def forget(connection: SalesforceConnection | None = None, account: ProviderAccount | None = None) -> None:
    if connection is not None:
        cache.delete_many([_salesforce_key(connection, kind) for kind in SALESFORCE_KINDS])
    if account is not None:
        cache.delete(_provider_key(account))


def _stored(key: str) -> FetchedList | None:
    stored = cache.get(key)
    if isinstance(stored, dict):
        return FetchedList(items=stored["items"], fetched_at=stored["fetched_at"])
    return None


def _cached_or_queued(tenant, kind: str, key: str, refresh: bool, params: dict | None = None) -> FetchedList:
    from portal import livechecks

    if not refresh:
        stored = _stored(key)
        if stored is not None:
            return stored
        last = livechecks.latest(tenant, kind)
        if last is not None and last.done and not last.ok and last.params.get("key") == key:
            return FetchedList(error=last.message)  # failed with these credentials: "Refresh" tries again
    check = livechecks.start(tenant, kind, params={**(params or {}), "key": key})
    if check.pending:
        return FetchedList(check=check)
    if not check.ok:
        return FetchedList(error=check.message)
    return _stored(key) or FetchedList(error="The list was fetched but is no longer cached: refresh it.")


def _fetch(key: str, fetch) -> FetchedList:
    try:
        items = fetch()
    except ExternalError as exc:
        return FetchedList(error=exc.message)
    fetched = FetchedList(items=items, fetched_at=timezone.now())
    cache.set(key, {"items": items, "fetched_at": fetched.fetched_at}, timeout=CACHE_SECONDS)
    return fetched


# --- one query per list --------------------------------------------------------------------------------


def _queues(connection) -> list[dict]:
    rows = SalesforceRest(connection).query(
        "SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' ORDER BY Name"
    )
    return [{"value": row["Id"], "label": row["Name"]} for row in rows]


def _users(connection) -> list[dict]:
    rows = SalesforceRest(connection).query(
        "SELECT Id, Name, Username FROM User WHERE IsActive = true AND UserType = 'Standard' "
        "ORDER BY Name LIMIT 2000"  # an agent picker, not a directory: big orgs route to queues or flows
    )
    return [{"value": row["Id"], "label": f"{row['Name']} ({row['Username']})"} for row in rows]


def _flows(connection) -> list[dict]:
    rows = SalesforceRest(connection).query(
        "SELECT DurableId, ApiName, Label FROM FlowDefinitionView "
        "WHERE ProcessType = 'RoutingFlow' AND IsActive = true ORDER BY Label"
    )
    return [{"value": row["DurableId"], "label": f"{row['Label']} ({row['ApiName']})"} for row in rows]


def _channels(connection) -> list[dict]:
    """The org's partner (BYOC) Messaging channels; those of our channel definition first."""
    rest = SalesforceRest(connection)
    ours = ""
    if connection.authorization_context:
        found = rest.query(
            "SELECT Id FROM ConversationChannelDefinition WHERE DeveloperName = "  # noqa: S608 - quoted
            + soql_literal(connection.authorization_context)
        )
        ours = found[0]["Id"] if found else ""
    rows = rest.query(
        "SELECT Id, DeveloperName, MasterLabel, ChannelAddressIdentifier, IsActive, ChannelDefinitionId "
        "FROM MessagingChannel WHERE MessageType = 'Custom' ORDER BY MasterLabel"
    )
    items = [
        {
            "value": row["ChannelAddressIdentifier"],
            "label": row["MasterLabel"] + ("" if row.get("IsActive", True) else " (inactive)"),
            "developer_name": row["DeveloperName"],
            "ours": bool(ours) and (row.get("ChannelDefinitionId") or "")[:15] == ours[:15],
        }
        for row in rows
        if row.get("ChannelAddressIdentifier")
    ]
    return sorted(items, key=lambda item: not item["ours"])


FETCHERS = {"queues": _queues, "users": _users, "flows": _flows, "channels": _channels}
