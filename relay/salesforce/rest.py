"""The core REST API of a tenant's org (``<My Domain>/services/data/vXX.X/...``): SOQL, records, Tooling.

Errors come as a JSON array ``[{"message", "errorCode", "fields"}]``. 401 ``INVALID_SESSION_ID`` mints a
new token once and retries; 403 ``REQUEST_LIMIT_EXCEEDED`` (the org's daily API budget) is transient;
other 4xx are permanent with Salesforce's code and message; 5xx and timeouts are transient. Every
answer's ``Sforce-Limit-Info`` header is parsed into :attr:`SalesforceRest.usage`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from django.conf import settings

from relay import http
from relay.errors import AuthError, ExternalError

from .auth import send_with_token

log = logging.getLogger(__name__)

TRANSIENT_ERROR_CODES = {"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"}
_USAGE = re.compile(r"(?P<name>[\w-]+)=(?P<used>\d+)/(?P<max>\d+)(?:\(appName=(?P<app>[^)]*)\))?")


_NEXT_RECORDS_PATH = re.compile(r"/services/data/v\d+\.\d+/(?:tooling/)?query(?:All)?/[A-Za-z0-9-]+")


@dataclass(frozen=True)
class ApiUsage:
    """``Sforce-Limit-Info: api-usage=25/15000; per-app-api-usage=17/250(appName=Acme)``."""

    used: int
    limit: int
    per_app: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @classmethod
    def parse(cls, header: str | None) -> ApiUsage | None:
        if not header:
            return None
        used = limit = None
        per_app: dict[str, tuple[int, int]] = {}
        for match in _USAGE.finditer(header):
            if match["name"] == "api-usage":
                used, limit = int(match["used"]), int(match["max"])
            elif match["name"] == "per-app-api-usage":
                per_app[match["app"] or ""] = (int(match["used"]), int(match["max"]))
        if used is None or limit is None:  # both are read from the same match
            return None
        return cls(used=used, limit=limit, per_app=per_app)


@dataclass(frozen=True)
class ToolingResult:
    """What a Tooling create did: ``created`` with the new ``id``, or ``already_existed`` (no id)."""

    id: str | None
    created: bool
    message: str = ""

    @property
    def already_existed(self) -> bool:
        return not self.created


class SalesforceRest:
    def __init__(self, connection) -> None:
        self.connection = connection
        self.instance_url = connection.instance_url.rstrip("/")
        version = str(settings.SALESFORCE_API_VERSION).lstrip("vV")
        self.base_url = f"{self.instance_url}/services/data/v{version}"
        self.usage: ApiUsage | None = None

    # --- queries ---------------------------------------------------------------------------------

    def query(self, soql: str) -> list[dict]:
        """All records of a SOQL query (following ``nextRecordsUrl``)."""
        return self._query_all(f"{self.base_url}/query", soql)

    def tooling_query(self, soql: str) -> list[dict]:
        return self._query_all(f"{self.base_url}/tooling/query", soql)

    def _query_all(self, url: str, soql: str) -> list[dict]:
        page = self._request("GET", url, params={"q": soql}, action="query")
        records = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self._request("GET", self._next_page(page["nextRecordsUrl"]), action="query")
            records.extend(page.get("records", []))
        return records

    def _next_page(self, next_records_url: object) -> str:
        """nextRecordsUrl is a path from the instance root (/services/data/vXX.X/query/01g...-2000). It is sent
        with the access token, so only such a path is followed: appended to the instance URL, "@host/..." or
        ".evil.example/..." would name another host."""
        if not isinstance(next_records_url, str) or not _NEXT_RECORDS_PATH.fullmatch(next_records_url):
            raise ExternalError(
                f"Salesforce answered a query with a nextRecordsUrl that is not a query path: {next_records_url!r:.80}",
                permanent=True,
            )
        return self.instance_url + next_records_url

    # --- records ---------------------------------------------------------------------------------

    def create(self, sobject: str, fields: dict) -> str:
        """Insert a record; returns its id."""
        body = self._request(
            "POST", f"{self.base_url}/sobjects/{_name(sobject)}", json_body=fields, action="create"
        )
        return body["id"]

    def update(self, sobject: str, record_id: str, fields: dict) -> None:
        self._request(
            "PATCH",
            f"{self.base_url}/sobjects/{_name(sobject)}/{_name(record_id)}",
            json_body=fields,
            action="update",
        )

    def tooling_create(self, type_: str, full_name: str, metadata: dict) -> ToolingResult:
        """Create setup metadata (CustomObject, CustomField, ConversationVendorInfo, ConversationChannelDefinition).

        ``DUPLICATE_DEVELOPER_NAME`` is not an error here: the wizard shows "already existed".
        """
        try:
            body = self._request(
                "POST",
                f"{self.base_url}/tooling/sobjects/{_name(type_)}",
                json_body={"FullName": full_name, "Metadata": metadata},
                action=f"create of {type_} {full_name}",
            )
        except ExternalError as exc:
            if exc.code in ("DUPLICATE_DEVELOPER_NAME", "DUPLICATE_VALUE"):
                return ToolingResult(id=None, created=False, message=exc.message)
            raise
        return ToolingResult(id=body.get("id"), created=True)

    def describe(self, sobject: str) -> dict:
        """``GET .../sobjects/{sobject}/describe``: the object's flags (createable, updateable...) and fields
        as the integration user sees them."""
        return self._request(
            "GET", f"{self.base_url}/sobjects/{_name(sobject)}/describe", action=f"describe of {sobject}"
        )

    def describe_limits(self) -> dict:
        """The org's limits (``DailyApiRequests``: ``{"Max", "Remaining"}``, ...)."""
        return self._request("GET", f"{self.base_url}/limits", action="limits")

    # --- transport -------------------------------------------------------------------------------

    def _request(self, method: str, url: str, *, action: str, params=None, json_body=None) -> dict:
        content = json.dumps(json_body).encode() if json_body is not None else None

        def send(token) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token.access_token}", "Accept": "application/json"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            return http.request("salesforce", method, url, params=params, content=content, headers=headers)

        response = send_with_token(self.connection, send, refused=lambda r: r.status_code == 401)
        usage = ApiUsage.parse(response.headers.get("sforce-limit-info"))
        if usage is not None:
            self.usage = usage
        if response.status_code < 300:
            if response.status_code == 204 or not response.content:
                return {}
            return _json(response) or {}
        raise _error(action, response)


def _name(value: str) -> str:
    return quote(value, safe="")


def _json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _error(action: str, response: httpx.Response) -> ExternalError:
    status = response.status_code
    body = _json(response)
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    if isinstance(body, dict):
        first = body
    code = first.get("errorCode")
    said = first.get("message") or f"HTTP {status}"
    if first.get("fields"):
        said += f" (fields: {', '.join(map(str, first['fields']))})"
    retry_after = http.retry_after_seconds(response)
    if status == 401:
        return AuthError(
            f"Salesforce refused a freshly minted token for the {action}: {said}", status=status, code=code
        )
    transient = status >= 500 or status in (408, 429) or code in TRANSIENT_ERROR_CODES
    verb = "failed, will retry" if transient else "was refused"
    return ExternalError(
        f"Salesforce {action} {verb}: {said}",
        permanent=not transient,
        status=status,
        code=code,
        retry_after=retry_after,
    )
