"""Outgoing webhooks to partners: relay signals become delivery rows, and rows become signed POSTs.

Each delivery is a row before anything is sent (created in the relay's own transaction, sent after
commit), every POST is logged as an attempt, failures are retried with the relay's backoff, and a
periodic sweep re-queues whatever is due, so a lost task delays a delivery and never loses it.

Signature: ``Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` with the
subscription's secret. Receivers check it in constant time and refuse old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from relay import http
from relay.errors import ExternalError
from relay.lines.backoff import next_attempt
from relay.models import Conversation, Message

from .models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
CLAIM_SECONDS = 60  # a worker that dies mid-POST leaves the delivery to the sweep after this
SIGNATURE_HEADER = "Switchboard-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a partner's endpoint does (shown in docs/partner-api.md; used by the tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


# --- events → delivery rows --------------------------------------------------------------------------------


# Every delivered, sent or read message asks which endpoints want to hear of it; most tenants have none.
# Each process keeps the answer per tenant for a few seconds (forgotten at once when this process changes a
# subscription), so a subscription made elsewhere is heard from within SUBSCRIPTIONS_MEMO_SECONDS.
SUBSCRIPTIONS_MEMO_SECONDS = 5.0
_subscriptions_memo: dict[int, tuple[float, list[WebhookSubscription]]] = {}


def subscriptions_for(tenant_id: int, event: str) -> list[WebhookSubscription]:
    now = time.monotonic()
    memo = _subscriptions_memo.get(tenant_id)
    if memo is None or memo[0] <= now:
        owners = Q(tenant_id=tenant_id) | Q(partner__tenants=tenant_id)  # its own and its partner's
        memo = (
            now + SUBSCRIPTIONS_MEMO_SECONDS,
            list(WebhookSubscription.objects.filter(owners, active=True)),
        )
        _subscriptions_memo[tenant_id] = memo
    return [s for s in memo[1] if s.wants(event)]


def forget_subscriptions(**kwargs) -> None:
    """Connected to subscription and tenant changes: this process asks the database again."""
    _subscriptions_memo.clear()


def enqueue(subscriptions: list[WebhookSubscription], tenant_id: int | None, event: str, data: dict):
    """Store one delivery per subscription and send them after commit."""
    now = timezone.now()
    deliveries = []
    for subscription in subscriptions:
        delivery = WebhookDelivery(
            subscription=subscription, tenant_id=tenant_id, event=event, next_attempt_at=now, payload={}
        )
        delivery.payload = {
            "id": str(delivery.event_id),
            "type": event,
            "created_at": now.isoformat(),
            "tenant": tenant_id,
            "data": data,
        }
        delivery.save()
        deliveries.append(delivery)
    if deliveries:
        from . import tasks

        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: [tasks.deliver_partner_webhook.delay(pk) for pk in ids])
    return deliveries


def _publish(tenant_id: int, event: str, data) -> None:
    # Inside the relay's transaction: a failure here must not undo the relay's work (own savepoint, logged).
    try:
        subscriptions = subscriptions_for(tenant_id, event)
        if subscriptions:  # most tenants subscribe to nothing: no transaction for them
            with transaction.atomic():
                enqueue(subscriptions, tenant_id, event, data() if callable(data) else data)
    except Exception:
        log.exception("could not queue the partner webhook %s for tenant %s", event, tenant_id)


def on_message_status_changed(sender, message: Message, status: str, reason: str = "", **kwargs) -> None:
    def data():
        conversation = message.conversation
        return {
            "message": {
                "id": message.pk,
                "conversation": message.conversation_id,
                "sender": conversation.sender_id,
                "customer": conversation.customer,
                "direction": message.direction,
                "kind": message.kind,
                "status": str(status),
                "reason": reason or "",
                "provider_message_id": message.provider_message_id,
            }
        }

    _publish(message.tenant_id, WebhookEvent.MESSAGE_STATUS_CHANGED, data)


def on_conversation_event(sender, conversation: Conversation, event: str, data: dict | None = None, **kwargs):
    name = f"conversation.{event}"
    payload = {
        "conversation": {
            "id": conversation.pk,
            "sender": conversation.sender_id,
            "customer": conversation.customer,
            "status": conversation.status,
        },
        "changes": data or {},
    }
    _publish(conversation.tenant_id, name, payload)


# --- delivery rows → signed POSTs --------------------------------------------------------------------------


def deliver(delivery_id: int):
    """POST one due delivery; returns when to try again (None when done or not due)."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS), updated_at=now)
    if not claimed:
        return None  # delivered, given up, not due yet, or another worker has it
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.active:
        _finish(delivery, WebhookDelivery.Status.FAILED, error="The subscription was deactivated.")
        return None
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "Switchboard-Event": delivery.event,
        "Switchboard-Delivery": str(delivery.event_id),
        SIGNATURE_HEADER: sign(str(subscription.secret), int(time.time()), body),
    }
    started = time.monotonic()
    status_code, error, retry_after, permanent = None, "", None, False
    try:
        response = http.status_only("partner", "POST", subscription.url, content=body, headers=headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            # The status and its standard phrase only: the answer itself (body, reason line) is never stored
            # or shown, so an endpoint URL aimed at an internal service reads nothing back through the API.
            error = f"HTTP {status_code} {http.reason_phrase(status_code)}"
            retry_after = http.retry_after_seconds(response)
    except ExternalError as exc:  # no answer: a timeout, a refused connection, the egress guard
        error, permanent = exc.message, exc.permanent
    WebhookAttempt.objects.create(
        delivery=delivery,
        status_code=status_code,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    attempts = delivery.attempts + 1
    if not error:
        _finish(delivery, WebhookDelivery.Status.DELIVERED, attempts=attempts, status_code=status_code)
        return None
    # A permanent error (the egress guard refuses this URL) cannot succeed on a retry.
    if attempts >= MAX_ATTEMPTS or permanent:
        _finish(
            delivery, WebhookDelivery.Status.FAILED, attempts=attempts, status_code=status_code, error=error
        )
        return None
    due = next_attempt(attempts, retry_after=retry_after)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts, next_attempt_at=due, last_status_code=status_code, last_error=error, updated_at=now
    )
    return due


def _finish(delivery, status, *, attempts=None, status_code=None, error=""):
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=delivery.attempts if attempts is None else attempts,
        next_attempt_at=None,
        last_status_code=status_code,
        last_error=error,
        delivered_at=now if status == WebhookDelivery.Status.DELIVERED else None,
        updated_at=now,
    )


def due_deliveries(now=None) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now or timezone.now()
        ).values_list("pk", flat=True)[:5000]
    )
