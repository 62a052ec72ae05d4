"""Webhooks from the simulated Infobip to the portal: authentication, batching, retries, delivery log.

* Authentication per account, as an Infobip notification profile would do it: ``BASIC`` (an HTTP Basic
  ``Authorization`` header), ``HEADER`` (static custom headers from the profile) or ``HMAC``. Infobip does
  not publish its HMAC header (open question 1), so the default is ``X-Hub-Signature-256: sha256=<hex>``
  over the raw body, with header name, prefix, encoding (hex/base64) and algorithm configurable.
* Batching: results of one kind for one URL that are queued within ``batch_window`` seconds leave in one
  POST (``{"results": [...]}``), as Infobip batches them, at most ``max_bucket_size`` in one (a notification
  profile's maxBucketSize, "a maximum number of messages to be sent within a single request", up to 2000).
* Retries: a non-2xx answer or a connection error is retried after ``1min + 1min * n * n`` (n = 0 for the
  first retry), scaled by ``world.config.webhook_time_scale``, until ``max_attempts`` attempts were made.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from .errors import infobip_time, now

if TYPE_CHECKING:
    from .state import Account, InfobipService

HMAC_ALGORITHMS = {
    "HMAC_MD5": hashlib.md5,
    "HMAC_SHA_1": hashlib.sha1,
    "HMAC_SHA_224": hashlib.sha224,
    "HMAC_SHA_256": hashlib.sha256,
    "HMAC_SHA_384": hashlib.sha384,
    "HMAC_SHA_512": hashlib.sha512,
}


@dataclass
class WebhookAuth:
    type: str = "NONE"  # NONE | BASIC | HEADER | HMAC
    username: str = ""
    password: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # static profile headers (any type)
    secret: str = ""
    algorithm: str = "HMAC_SHA_256"
    header_name: str = "X-Hub-Signature-256"
    prefix: str = "sha256="
    encoding: str = "hex"  # hex | base64

    @classmethod
    def from_spec(cls, spec: dict | None) -> WebhookAuth:
        spec = dict(spec or {})
        auth_type = str(spec.pop("type", "NONE")).upper()
        if auth_type not in ("NONE", "BASIC", "HEADER", "HMAC"):
            raise ValueError("webhook auth type must be NONE, BASIC, HEADER or HMAC")
        auth = cls(type=auth_type, **spec)
        if auth.algorithm not in HMAC_ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(HMAC_ALGORITHMS)}")
        if auth.encoding not in ("hex", "base64"):
            raise ValueError("encoding must be hex or base64")
        return auth

    def signature(self, body: bytes) -> str:
        digest = hmac.new(self.secret.encode(), body, HMAC_ALGORITHMS[self.algorithm]).digest()
        encoded = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return self.prefix + encoded

    def headers_for(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **self.headers}
        if self.type == "BASIC":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"  # the security config wins over a profile header
        elif self.type == "HMAC":
            headers[self.header_name] = self.signature(body)
        return headers

    def public(self) -> dict:
        """The configuration without secrets, for listings."""
        out = {"type": self.type, "headers": sorted(self.headers)}
        if self.type == "BASIC":
            out["username"] = self.username
        if self.type == "HMAC":
            out.update(
                algorithm=self.algorithm,
                header_name=self.header_name,
                prefix=self.prefix,
                encoding=self.encoding,
            )
        return out


@dataclass
class Delivery:
    """One webhook POST (one or several results) and its attempts."""

    id: int
    account: str
    kind: str  # MO | DLR | SEEN
    channel: str
    url: str
    body: dict
    state: str = "pending"  # pending | delivered | failed
    attempts: list[dict] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)

    def public(self) -> dict:
        return {
            "id": self.id,
            "account": self.account,
            "kind": self.kind,
            "channel": self.channel,
            "url": self.url,
            "state": self.state,
            "body": self.body,
            "message_ids": self.message_ids,
            "attempts": self.attempts,
        }


def retry_delay(retry_number: int, time_scale: float) -> float:
    """Infobip's documented back-off, ``1min + (1min * retryNumber * retryNumber)``, in scaled seconds."""
    return (60 + 60 * retry_number * retry_number) * time_scale


WEBHOOK_CONCURRENCY = 16


class WebhookDispatcher:
    def __init__(self, service: InfobipService) -> None:
        self.service = service
        self.log: list[Delivery] = []
        self._ids = itertools.count(1)
        self._buffers: dict[tuple, list[dict]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    def reset(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._buffers.clear()
        self.log.clear()
        self._ids = itertools.count(1)

    def spawn(self, coro) -> asyncio.Task:
        """Run ``coro`` on the sandbox loop, remembered so that reset() can cancel it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0))
        return self._client

    def slots(self) -> asyncio.Semaphore:
        """Webhook POSTs in flight at once, for all accounts. Unbounded, hundreds of accounts' reports
        queue inside httpx's connection pool, whose bookkeeping grows with the square of the queue: in the
        100-tenant benchmark that took the sandbox's whole core (a provider spreads its retries too)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(WEBHOOK_CONCURRENCY)
        return self._slots

    # --- queueing ---------------------------------------------------------------------------

    def enqueue(
        self, account: Account, kind: str, channel: str, url: str | None, result: dict, *, mo: bool = False
    ):
        """Queue one result; results of the same kind for the same URL within the batch window share a POST."""
        if not url:
            return
        key = (account.key, kind, channel, url, mo)
        buffer = self._buffers.get(key)
        if buffer is not None and len(buffer) < account.max_bucket_size:
            buffer.append(result)
            return
        if buffer is not None:  # a full bucket leaves now; this result starts the next one
            self.spawn(self.post(account, kind, channel, url, self._buffers.pop(key), mo=mo))
        self._buffers[key] = [result]
        self.spawn(self._flush_later(account, key))

    async def _flush_later(self, account: Account, key: tuple) -> None:
        await asyncio.sleep(max(account.batch_window, 0))
        results = self._buffers.pop(key, [])
        if results:
            _, kind, channel, url, mo = key
            await self.post(account, kind, channel, url, results, mo=mo)

    async def post(
        self, account: Account, kind: str, channel: str, url: str, results: list[dict], *, mo=False
    ):
        """Send ``results`` in one POST now (with retries); returns the Delivery."""
        body: dict[str, Any] = {"results": results}
        if mo and channel != "MESSAGES_API":
            body.update(messageCount=len(results), pendingMessageCount=0)
        delivery = Delivery(
            id=next(self._ids),
            account=account.key,
            kind=kind,
            channel=channel,
            url=url,
            body=body,
            message_ids=[r.get("messageId") for r in results if r.get("messageId")],
        )
        self.log.append(delivery)
        await self._deliver(account, delivery)
        return delivery

    async def _deliver(self, account: Account, delivery: Delivery) -> None:
        raw = json.dumps(delivery.body, separators=(",", ":")).encode()
        for attempt in range(1, max(account.max_attempts, 1) + 1):
            headers = account.auth.headers_for(raw)
            record = {"attempt": attempt, "at": infobip_time(now()), "status": None, "error": None}
            try:
                async with self.slots():
                    response = await self.client().post(delivery.url, content=raw, headers=headers)
                record["status"] = response.status_code
                record["response"] = response.text[:500]
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            delivery.attempts.append(record)
            if record["status"] is not None and 200 <= record["status"] < 300:
                delivery.state = "delivered"
                return
            if attempt < account.max_attempts:
                await asyncio.sleep(retry_delay(attempt - 1, self.service.world.config.webhook_time_scale))
        delivery.state = "failed"
