"""A simulated Salesforce org: its records, Connected Apps, platform events, tokens and flags.

Everything an org "has" (users, queues, channel definitions, messaging channels, sessions, cases)
is a record in :class:`RecordStore`, so the REST API, the SOQL subset, the Interaction Service and
the agent console all read and write the same rows.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .. import epoch
from .ids import IdFactory, to15, to18


def sf_datetime(ts: float | None = None) -> str:
    """Salesforce's REST date-time format: ``2026-11-22T10:14:53.000+0000``."""
    moment = datetime.fromtimestamp(ts if ts is not None else time.time(), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class RecordStore:
    """Rows per sObject type, keyed by 18-character id. Field names keep Salesforce's casing."""

    def __init__(self, ids: IdFactory) -> None:
        self.ids = ids
        self._rows: dict[str, dict[str, dict]] = {}
        # Told of every change, (sobject, "CREATE"|"UPDATE"|"DELETE", row, values): Change Data Capture
        # (sandbox/pubsub/cdc.py) publishes the org's selected objects' changes from it.
        self.on_change: Callable[[str, str, dict, dict], None] | None = None

    def insert(self, sobject: str, fields: dict, *, record_id: str | None = None) -> dict:
        record_id = to18(record_id) if record_id else self.ids.new(sobject)
        now = sf_datetime()
        row = {"Id": record_id, "CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now}
        row.update(copy.deepcopy(fields))
        self._rows.setdefault(sobject, {})[record_id] = row
        if self.on_change is not None:
            self.on_change(sobject, "CREATE", row, fields)
        return row

    def get(self, sobject: str, record_id: str) -> dict | None:
        if not record_id or len(record_id) not in (15, 18):
            return None
        return self._rows.get(sobject, {}).get(to18(record_id))

    def find(self, record_id: str) -> tuple[str, dict] | None:
        """Any record by id, whatever its type (ids are unique across types)."""
        for sobject, rows in self._rows.items():
            row = rows.get(to18(record_id)) if len(record_id) in (15, 18) else None
            if row is not None:
                return sobject, row
        return None

    def update(self, sobject: str, record_id: str, fields: dict) -> dict:
        row = self._rows[sobject][to18(record_id)]
        changed = {name: value for name, value in fields.items() if row.get(name) != value}
        row.update(copy.deepcopy(fields))
        row["LastModifiedDate"] = row["SystemModstamp"] = sf_datetime()
        if self.on_change is not None:
            self.on_change(sobject, "UPDATE", row, changed)  # only what changed value, as changedFields lists
        return row

    def delete(self, sobject: str, record_id: str) -> bool:
        row = self._rows.get(sobject, {}).pop(to18(record_id), None)
        if row is not None and self.on_change is not None:
            self.on_change(sobject, "DELETE", row, {})
        return row is not None

    def all(self, sobject: str) -> list[dict]:
        return list(self._rows.get(sobject, {}).values())

    def filter(self, sobject: str, **equals) -> list[dict]:
        return [row for row in self.all(sobject) if all(row.get(k) == v for k, v in equals.items())]

    def first(self, sobject: str, **equals) -> dict | None:
        rows = self.filter(sobject, **equals)
        return rows[0] if rows else None

    def sobjects(self) -> list[str]:
        return sorted(self._rows)

    def snapshot(self) -> dict:
        """A deep copy of every row, for :meth:`restore` (composite ``allOrNone`` rollback)."""
        return copy.deepcopy(self._rows)

    def restore(self, snapshot: dict) -> None:
        self._rows = copy.deepcopy(snapshot)


@dataclass
class ConnectedApp:
    """A Connected App (or External Client App) with JWT bearer enabled."""

    consumer_key: str
    consumer_secret: str
    certificate_pem: str = ""  # uploaded X.509 certificate; JWTs are verified against its public key
    developer_name: str = "Switchboard"
    preauthorized_usernames: set[str] = field(default_factory=set)
    scopes: tuple[str, ...] = ("interaction_api", "api", "refresh_token", "offline_access")
    canvas_url: str = ""  # where the Canvas launcher posts the signed request


@dataclass
class IssuedToken:
    access_token: str
    org_id: str  # 18 characters
    user_id: str
    username: str
    consumer_key: str
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float
    revoked: bool = False

    @property
    def valid(self) -> bool:
        return not self.revoked and time.time() < self.expires_at

    def expire(self) -> None:
        self.expires_at = min(self.expires_at, time.time() - 1)

    def revoke(self) -> None:
        self.revoked = True

    def has_scope(self, *names: str) -> bool:
        """Whether the token carries any of ``names`` (``full`` implies every scope but refresh)."""
        return "full" in self.scopes or any(name in self.scopes for name in names)


@dataclass
class PlatformEventDef:
    """A custom platform event (``Foo__e``) and its custom fields (API name → Salesforce type)."""

    api_name: str
    label: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return f"/event/{self.api_name}"


class Org:
    """One simulated Salesforce org (tenant of the sandbox)."""

    def __init__(
        self,
        *,
        org_id: str,
        name: str,
        my_domain: str,
        is_sandbox: bool = False,
        ccaas_enabled: bool = False,
        legacy_chat_enabled: bool = False,
        api_request_limit: int = 15000,
        token_lifetime_seconds: int = 7200,
        case_subject_required: bool = False,
    ) -> None:
        if not re.fullmatch(r"00D[0-9A-Za-z]{12}([0-9A-Za-z]{3})?", org_id or ""):
            raise ValueError(f"org_id must be 15 or 18 characters starting with 00D, got {org_id!r}")
        self.org_id = to18(org_id)
        self.name = name
        self.my_domain = my_domain
        self.is_sandbox = is_sandbox
        self.ccaas_enabled = ccaas_enabled
        self.legacy_chat_enabled = legacy_chat_enabled
        self.api_request_limit = api_request_limit
        self.api_requests_used = 0
        self.token_lifetime_seconds = token_lifetime_seconds
        self.case_subject_required = case_subject_required  # a validation rule some orgs have
        # CaseNumber is an auto-number: 00001001, 00001002, ... (from this boot's block: see sandbox/epoch.py)
        self.case_number_seq = 1000 + epoch.number_base()
        self.query_cursors: dict[str, dict] = {}  # query locator -> remaining rows (nextRecordsUrl)
        self.records = RecordStore(IdFactory(pod=self.org_id[3:5]))
        self.connected_apps: dict[str, ConnectedApp] = {}
        self.platform_events: dict[str, PlatformEventDef] = {}
        self.change_events: set[str] = set()  # objects selected for Change Data Capture, e.g. {"Case"}
        self.tokens: dict[str, IssuedToken] = {}
        self.records.insert("Organization", {"Name": name, "IsSandbox": is_sandbox}, record_id=self.org_id)

    @property
    def org_id15(self) -> str:
        return to15(self.org_id)

    @property
    def audience(self) -> str:
        return "https://test.salesforce.com" if self.is_sandbox else "https://login.salesforce.com"

    def issue_token(
        self, *, user: dict, app: ConnectedApp, scopes: tuple[str, ...] | None = None
    ) -> IssuedToken:
        now = time.time()
        token = IssuedToken(
            access_token=f"{self.org_id15}!{secrets.token_urlsafe(40)}",
            org_id=self.org_id,
            user_id=user["Id"],
            username=user["Username"],
            consumer_key=app.consumer_key,
            scopes=tuple(scopes if scopes is not None else app.scopes),
            issued_at=now,
            expires_at=now + self.token_lifetime_seconds,
        )
        self.tokens[token.access_token] = token
        return token

    def user_by_username(self, username: str) -> dict | None:
        return self.records.first("User", Username=username)

    def next_case_number(self) -> str:
        self.case_number_seq += 1
        return f"{self.case_number_seq:08d}"


class OrgRegistry:
    def __init__(self) -> None:
        self._orgs: dict[str, Org] = {}
        self.on_add: Callable[[Org], None] | None = None  # the world attaches Change Data Capture

    def add(self, org: Org) -> Org:
        if org.org_id in self._orgs:
            raise ValueError(f"org {org.org_id} exists")
        self._orgs[org.org_id] = org
        if self.on_add is not None:
            self.on_add(org)
        return org

    def get(self, org_id: str) -> Org | None:
        if not org_id or len(org_id) not in (15, 18):
            return None
        return self._orgs.get(to18(org_id))

    def all(self) -> list[Org]:
        return list(self._orgs.values())

    def by_token(self, access_token: str) -> tuple[Org, IssuedToken] | None:
        """The org and token for a bearer token, whether or not it is still valid."""
        for org in self._orgs.values():
            token = org.tokens.get(access_token)
            if token is not None:
                return org, token
        return None

    def authenticate(self, access_token: str) -> tuple[Org, IssuedToken] | None:
        """The org and token for a bearer token that is known, unexpired and not revoked."""
        found = self.by_token(access_token) if access_token else None
        if found is None or not found[1].valid:
            return None
        return found

    def by_consumer_key(self, consumer_key: str) -> tuple[Org, ConnectedApp] | None:
        for org in self._orgs.values():
            app = org.connected_apps.get(consumer_key)
            if app is not None:
                return org, app
        return None

    def clear(self) -> None:
        self._orgs.clear()
