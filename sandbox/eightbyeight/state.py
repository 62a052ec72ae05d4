"""The simulated 8x8 Chat Apps platform: accounts, sub-accounts, channels, templates, sent and received
messages, the WhatsApp 24-hour window, and webhooks (inbound v3, delivery receipts v9) with 8x8's retries.

Sources (sandbox/README.md, "8x8"): ``business_messaging_api.json`` (8x8's OpenAPI file),
``inbound-chatapps-message.mdx`` and ``delivery-receipts-for-outbound-chatapps.mdx``. 8x8 does not sign
webhooks: each webhook carries the configured ``httpAuthorization`` value verbatim as ``Authorization``.
Retries on a connection error, a timeout, a 4xx or a 5xx after 1, 10, 30 and 90 s (scaled by
``world.config.webhook_time_scale``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from ..world import World

RETRY_DELAYS = (1, 10, 30, 90)  # seconds between attempts, as documented
WINDOW = timedelta(hours=24)
CHANNEL_NAMES = {"whatsapp": "WhatsApp", "viber": "Viber", "sms": "SMS"}  # webhook name → API enum
SESSION_EXPIRED = {
    "errorCode": 61,
    "errorMessage": "Message trashed by session expired reason (i.e. 24 hours for WhatsApp)",
}


def now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """8x8's timestamps: ISO 8601 UTC with two decimals and Z (``2021-01-04T08:19:45.99Z``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 10000:02d}Z"


@dataclass
class Channel:
    id: str  # 8x8's channelId (a UUID)
    channel: str  # whatsapp | viber | sms (as webhooks name it)
    name: str = ""  # channelName, e.g. "My WhatsApp Instance"
    address: str = ""  # the number or sender name the customer sees


@dataclass
class SubAccount:
    id: str
    channels: dict[str, Channel] = field(default_factory=dict)  # by channel id

    def channel_of(self, kind: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.channel == kind), None)


@dataclass
class Webhook:
    sub_account_id: str  # or "*"
    url: str
    type: str  # CADR | MSG | CABM
    http_authorization: str = ""
    enabled: bool = True

    def public(self) -> dict:
        out = {
            "type": self.type,
            "subAccountId": self.sub_account_id,
            "url": self.url,
            "enabled": self.enabled,
        }
        if self.http_authorization:
            out["httpAuthorization"] = "***"  # masked in GET answers, as documented
        return out


@dataclass
class Account:
    id: str  # accountId (a UUID)
    api_keys: set[str]
    sub_accounts: dict[str, SubAccount] = field(default_factory=dict)
    webhooks: list[Webhook] = field(default_factory=list)
    templates: dict[str, list[dict]] = field(default_factory=dict)  # channel id → registered templates

    def webhook(self, kind: str, sub_account_id: str) -> Webhook | None:
        """The sub-account's own webhook of ``kind``, else the account-wide ``*`` one."""
        enabled = [w for w in self.webhooks if w.type == kind and w.enabled]
        return next((w for w in enabled if w.sub_account_id == sub_account_id), None) or next(
            (w for w in enabled if w.sub_account_id == "*"), None
        )


@dataclass
class Delivery:
    id: int
    account: str
    kind: str  # MSG | CADR
    url: str
    body: dict
    state: str = "pending"  # pending | delivered | failed
    attempts: list[dict] = field(default_factory=list)

    def public(self) -> dict:
        return {
            "id": self.id,
            "account": self.account,
            "kind": self.kind,
            "url": self.url,
            "state": self.state,
            "body": self.body,
            "attempts": self.attempts,
        }


class EightByEightService:
    def __init__(self, world: World) -> None:
        self.world = world
        self.reset()

    def reset(self) -> None:
        for task in getattr(self, "_tasks", set()):
            task.cancel()
        self.accounts: dict[str, Account] = {}
        self.messages: dict[str, dict] = {}  # umid → sent or received message
        self.last_inbound: dict[tuple[str, str, str], datetime] = {}  # (sub, channel id, customer)
        self.deliveries: list[Delivery] = []
        self.files: dict[str, tuple[bytes, str]] = {}  # filename → (content, mime): inbound media
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None

    # --- configuration ------------------------------------------------------------------------------

    def load(self, data: dict) -> None:
        for spec in data.get("accounts", []):
            self.add_account(spec)

    def add_account(self, spec: dict) -> Account:
        keys = spec.get("api_keys") or [spec["api_key"]]
        account = Account(id=str(spec["account_id"]), api_keys={str(k) for k in keys})
        for sub in spec.get("sub_accounts", []):
            sub_account = SubAccount(id=str(sub["id"]))
            for raw in sub.get("channels", []):
                channel = Channel(
                    id=str(raw.get("id") or uuid.uuid4()),
                    channel=str(raw["channel"]).lower(),
                    name=str(raw.get("name", "")),
                    address=str(raw.get("address", "")),
                )
                if channel.channel not in CHANNEL_NAMES:
                    raise ValueError(f"channel must be one of {', '.join(CHANNEL_NAMES)}")
                sub_account.channels[channel.id] = channel
            account.sub_accounts[sub_account.id] = sub_account
        for channel_id, templates in (spec.get("templates") or {}).items():
            account.templates[str(channel_id)] = [dict(t) for t in templates]
        for hook in spec.get("webhooks", []):
            account.webhooks.extend(webhook_from(hook))
        self.accounts[account.id] = account
        return account

    def account_for_key(self, key: str) -> Account | None:
        return next((a for a in self.accounts.values() if key in a.api_keys), None)

    def sub_account(self, sub_account_id: str) -> tuple[Account, SubAccount] | None:
        for account in self.accounts.values():
            if sub_account_id in account.sub_accounts:
                return account, account.sub_accounts[sub_account_id]
        return None

    def channel(self, channel_id: str) -> tuple[Account, SubAccount, Channel] | None:
        for account in self.accounts.values():
            for sub in account.sub_accounts.values():
                if channel_id in sub.channels:
                    return account, sub, sub.channels[channel_id]
        return None

    # --- the window ---------------------------------------------------------------------------------

    def window_open(self, sub: SubAccount, channel: Channel, customer: str) -> bool:
        last = self.last_inbound.get((sub.id, channel.id, customer))
        return last is not None and now() - last < WINDOW

    def age_window(self, sub_account_id: str, channel_id: str, customer: str, hours: float) -> None:
        """Test control: pretend the customer last wrote ``hours`` ago."""
        self.last_inbound[(sub_account_id, channel_id, customer)] = now() - timedelta(hours=hours)

    # --- messages -----------------------------------------------------------------------------------

    def thread(self, sub_account_id: str, channel_id: str, customer: str) -> list[dict]:
        return [
            m
            for m in self.messages.values()
            if m["subAccountId"] == sub_account_id
            and m["channelId"] == channel_id
            and m["customer"] == customer
        ]

    def record_sent(self, account: Account, sub: SubAccount, channel: Channel, body: dict, umid: str) -> dict:
        """Store an accepted send and plan its receipts: sent and delivered, or failed with error 61 when a
        free-form WhatsApp message leaves the 24-hour window (8x8 answers 200 and fails it in the receipt)."""
        user = body.get("user") or {}
        customer = str(user.get("msisdn") or user.get("channelUserId") or "")
        message = {
            "umid": umid,
            "direction": "out",
            "subAccountId": sub.id,
            "channelId": channel.id,
            "channel": channel.channel,
            "customer": customer,
            "clientMessageId": body.get("clientMessageId"),
            "type": body.get("type"),
            "content": body.get("content") or {},
            "state": "queued",
            "at": stamp(now()),
        }
        self.messages[umid] = message
        free_form = body.get("type") != "template"
        if channel.channel == "whatsapp" and free_form and not self.window_open(sub, channel, customer):
            self.spawn(self._receipts(account, message, [("failed", "", SESSION_EXPIRED)]))
        else:
            self.spawn(
                self._receipts(
                    account,
                    message,
                    # The message status reference pairs delivered_to_operator with the delivered state only
                    # (business_messaging_api.json, MessageStatus.detail): a sent receipt carries no detail.
                    [("sent", "", None), ("delivered", "delivered_to_recipient", None)],
                )
            )
        return message

    def mark_read(self, umid: str) -> dict:
        """The customer opened the message (phone page, control API): a ``read`` receipt."""
        message = self.messages.get(umid)
        if message is None or message["direction"] != "out":
            raise KeyError(f"no sent message {umid}")
        found = self.sub_account(message["subAccountId"])
        if found is None:
            raise KeyError(f"no sub-account {message['subAccountId']}")
        if message["state"] in ("delivered", "sent"):
            self.spawn(self._receipts(found[0], message, [("read", "", None)]))
        return message

    async def _receipts(self, account: Account, message: dict, steps: list) -> None:
        for state, detail, error in steps:
            message["state"] = state
            status: dict[str, Any] = {"state": state, "timestamp": stamp(now())}
            if detail:
                status["detail"] = detail
            if error:
                status.update(error)
                message["error"] = dict(error)
            payload: dict[str, Any] = {"umid": message["umid"]}
            if message.get("clientMessageId"):
                payload["clientMessageId"] = message["clientMessageId"]
            payload.update(
                subAccountId=message["subAccountId"],
                channel=message["channel"],
                user={
                    "msisdn" if message["customer"].startswith("+") else "channelUserId": message["customer"]
                },
                status=status,
            )
            body = {
                "version": 9,
                "namespace": "ChatApps",
                "eventType": "outbound_message_status_changed",
                "description": "ChatApps outbound message delivery receipt",
                "payload": payload,
            }
            await self.post(account, "CADR", message["subAccountId"], body)

    def receive(self, account: Account, sub: SubAccount, channel: Channel, spec: dict) -> dict:
        """A customer writes (control API, phone page): store it, open the window, post the v3 webhook."""
        customer = str(spec.get("from") or "")
        if not customer.startswith("+") or not customer[1:].isdigit():
            raise ValueError("from must be the customer's E.164 number with +")
        kind = str(spec.get("type") or "Text")
        content = dict(spec.get("content") or {})
        if "text" in spec and "text" not in content:
            content["text"] = str(spec["text"])
        umid = str(uuid.uuid4())
        moment = now()
        user: dict[str, Any] = {"msisdn": customer}
        if channel.channel == "whatsapp":  # v3: for Viber and SMS ``user`` holds only msisdn
            if spec.get("channel_user_id"):
                user["channelUserId"] = str(spec["channel_user_id"])
            if spec.get("name"):
                user["name"] = str(spec["name"])
        payload: dict[str, Any] = {
            "umid": umid,
            "subAccountId": sub.id,
            "timestamp": stamp(moment),
            "user": user,
            "recipient": {"channel": channel.channel, "channelId": channel.id},
            "type": kind,
            "content": content,
        }
        if spec.get("reply_to"):
            payload["replyToUmid"] = str(spec["reply_to"])
        self.messages[umid] = {
            "umid": umid,
            "direction": "in",
            "subAccountId": sub.id,
            "channelId": channel.id,
            "channel": channel.channel,
            "customer": customer,
            "type": kind,
            "content": content,
            "at": stamp(moment),
        }
        self.last_inbound[(sub.id, channel.id, customer)] = moment
        body = {
            "version": 3,
            "namespace": "ChatApps",
            "eventType": "inbound_message_received",
            "description": "ChatApps inbound message",
            "payload": payload,
        }
        self.spawn(self.post(account, "MSG", sub.id, body))
        return payload

    # --- webhooks -----------------------------------------------------------------------------------

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def post(self, account: Account, kind: str, sub_account_id: str, body: dict) -> Delivery | None:
        hook = account.webhook(kind, sub_account_id)
        if hook is None:
            return None
        delivery = Delivery(id=next(self._ids), account=account.id, kind=kind, url=hook.url, body=body)
        self.deliveries.append(delivery)
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if hook.http_authorization:
            headers["Authorization"] = hook.http_authorization  # verbatim; 8x8 signs nothing
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0))
        scale = self.world.config.webhook_time_scale
        for attempt, delay in enumerate((0, *RETRY_DELAYS), start=1):
            if delay:
                await asyncio.sleep(delay * scale)
            record: dict[str, Any] = {"attempt": attempt, "at": stamp(now()), "status": None, "error": None}
            try:
                response = await self._client.post(hook.url, content=raw, headers=headers)
                record["status"] = response.status_code
                record["response"] = response.text[:500]
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            delivery.attempts.append(record)
            if record["status"] is not None and 200 <= record["status"] < 300:
                delivery.state = "delivered"
                return delivery
        delivery.state = "failed"
        return delivery


def webhook_from(raw: Any) -> list[Webhook]:
    """One item of ``POST /accounts/{accountId}/webhooks``; without ``type`` it configures CADR and MSG."""
    if not isinstance(raw, dict):
        raise ValueError("each webhook must be an object")
    sub = raw.get("subAccountId")
    url = raw.get("url")
    if not isinstance(sub, str) or not sub or not isinstance(url, str) or not url:
        raise ValueError("subAccountId and url are required")
    if not url.startswith(("http://", "https://")):
        raise ValueError("url must be an absolute http(s) URL")
    kinds = [raw["type"]] if raw.get("type") else ["CADR", "MSG"]
    if any(k not in ("CADR", "MSG", "CABM") for k in kinds):
        raise ValueError("type must be CADR, MSG or CABM")
    authorization = raw.get("httpAuthorization") or ""
    if not isinstance(authorization, str):
        raise ValueError("httpAuthorization must be a string")
    enabled = raw.get("enabled", True)
    return [Webhook(sub, url, kind, authorization, bool(enabled)) for kind in kinds]
