"""Outgoing webhooks to partners: relay changes become outbox rows, outbox rows become deliveries, and
deliveries become signed POSTs.

The relay writes a :class:`PartnerEvent` in the transaction of the change it reports (relay/signals.py
calls :func:`record_event` when :func:`wants` says so); after commit a worker fans it out into one delivery
row per subscription (:func:`fan_out`). Every POST is logged as an attempt and retried by the relay's
delivery engine (relay/lines/engine.py: claim, backoff, bound); a periodic sweep fans out late outbox rows
and re-queues due deliveries, so a lost task delays a delivery and never loses it, and a change rolled back
is never announced.

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

from portal import queueing
from relay import http
from relay.errors import ExternalError
from relay.lines import engine
from relay.lines.attempts import describe_internal_error
from tenants.models import Tenant

from .models import PartnerEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
CLAIM_SECONDS = 60  # a worker that dies mid-POST leaves the delivery to the sweep after this
# A POST ends within this, however slowly the endpoint answers (well inside the claim: it is never sent twice at
# once). An endpoint dripping its answer a byte at a time held a worker for hours, and was sent the event again.
POST_DEADLINE_SECONDS = CLAIM_SECONDS / 2
SIGNATURE_HEADER = "Switchboard-Signature"
INTERNAL_ERROR_PREFIX = "internal error: "  # what describe_internal_error writes: such attempts count apart
OUTBOX_HEAD_START_SECONDS = 5  # the sweep leaves an outbox row this long to the task queued at its commit


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
    given = f"t={timestamp},v1={parts.get('v1', '')}"
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a False).
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), given.encode())


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


def drop_old_partners_subscriptions(sender, instance, raw: bool = False, **kwargs) -> None:
    """Connected to a tenant's pre_save: a tenant that moves to another partner (or to none) leaves behind the
    subscriptions its old partner made for it (``managed_by`` partner), in the transaction of the move. They
    are that partner's integration: kept, they went on sending the tenant's events to a partner that no longer
    runs it, and handed its endpoint to the new one. The tenant admins' own subscriptions stay."""
    if raw or instance.pk is None:
        return
    before = type(instance).objects.filter(pk=instance.pk).values_list("partner_id", flat=True).first()
    if before is not None and before != instance.partner_id:
        WebhookSubscription.objects.filter(
            tenant_id=instance.pk, managed_by=WebhookSubscription.ManagedBy.PARTNER
        ).delete()


def wants(tenant_id: int, event: str) -> bool:
    """Whether any subscription of the tenant wants ``event`` (memoized: asked on every relay change)."""
    return bool(subscriptions_for(tenant_id, event))


def record_event(tenant_id: int, event: str, data: dict) -> PartnerEvent:
    """Write the partner event into the outbox, in the caller's transaction, and fan it out after commit.

    The relay calls this (through relay/signals.py) inside the transaction of the change it reports, after
    :func:`wants` said yes, so the event commits or rolls back with the change: one INSERT, however many
    subscriptions there are, and no savepoint. The fan-out into deliveries, and every POST, happen in a
    worker (:func:`fan_out`); the sweep fans out a row whose task was lost.
    """
    row = PartnerEvent.objects.create(tenant_id=tenant_id, event=event, data=data, created_at=timezone.now())
    queueing.after_commit(_tasks().dispatch_partner_event, row.pk)
    return row


def fan_out(event_id: int) -> list[int]:
    """Turn one outbox row into a delivery per subscription that wants it, and delete the row, in one
    transaction; the deliveries are sent after commit. Safe to run twice, or in two workers at once: only the
    one whose DELETE removed the row creates deliveries. Returns their ids."""
    event = PartnerEvent.objects.filter(pk=event_id).first()
    if event is None:
        return []  # fanned out already
    with transaction.atomic():
        if not PartnerEvent.objects.filter(pk=event_id).delete()[0]:
            return []  # another worker (the sweep) took it meanwhile
        deliveries = enqueue(
            subscriptions_for(event.tenant_id, event.event),
            event.tenant_id,
            event.event,
            event.data,
            created_at=event.created_at,
        )
    return [d.pk for d in deliveries]


def unsent_events(now=None) -> list[int]:
    """Outbox rows whose fan-out task is late (lost, or its worker died): the sweep fans them out."""
    stale = (now or timezone.now()) - timedelta(seconds=OUTBOX_HEAD_START_SECONDS)
    return list(PartnerEvent.objects.filter(created_at__lt=stale).values_list("pk", flat=True)[:5000])


def enqueue(
    subscriptions: list[WebhookSubscription],
    tenant_id: int | None,
    event: str,
    data: dict,
    *,
    created_at=None,
):
    """Store one delivery per subscription (one INSERT) and send them after commit."""
    now = timezone.now()
    deliveries = []
    for subscription in subscriptions:
        delivery = WebhookDelivery(
            subscription=subscription, tenant_id=tenant_id, event=event, next_attempt_at=now, payload={}
        )
        delivery.payload = {
            "id": str(delivery.event_id),
            "type": event,
            "created_at": (created_at or now).isoformat(),
            "tenant": tenant_id,
            "data": data,
        }
        deliveries.append(delivery)
    if deliveries:
        WebhookDelivery.objects.bulk_create(deliveries)
        ids = [d.pk for d in deliveries]
        for pk in ids:
            queueing.after_commit(_tasks().deliver_partner_webhook, pk)
    return deliveries


def _tasks():
    from . import tasks  # tasks imports this module

    return tasks


# --- delivery rows → signed POSTs --------------------------------------------------------------------------


def deliver(delivery_id: int):
    """POST one due delivery; returns when to try again (None when done or not due)."""
    now = timezone.now()
    claimed = engine.claim(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        ),
        next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS),
        updated_at=now,
    )
    if not claimed:
        return None  # delivered, given up, not due yet, or another worker has it
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    started = time.monotonic()
    status_code, error, retry_after, kind = None, "", None, engine.TRANSIENT
    try:
        subscription = WebhookSubscription.objects.get(pk=delivery.subscription_id)  # decrypts the secret
        if not subscription.active:
            _finish(delivery, WebhookDelivery.Status.FAILED, error="The subscription was deactivated.")
            return None
        if not covers(subscription, delivery.tenant_id):
            _finish(delivery, WebhookDelivery.Status.FAILED, error=MOVED)
            return None
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "Switchboard-Event": delivery.event,
            "Switchboard-Delivery": str(delivery.event_id),
            SIGNATURE_HEADER: sign(str(subscription.secret), int(time.time()), body),
        }
        response = http.status_only(
            "partner", "POST", subscription.url, within=POST_DEADLINE_SECONDS, content=body, headers=headers
        )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            # The status and its standard phrase only: the answer itself (body, reason line) is never stored
            # or shown, so an endpoint URL aimed at an internal service reads nothing back through the API.
            error = f"HTTP {status_code} {http.reason_phrase(status_code)}"
            retry_after = http.retry_after_seconds(response)
    except ExternalError as exc:  # no answer: a timeout, a refused connection, the egress guard
        error, kind = exc.message, engine.kind_of(exc)
    except Exception as exc:  # noqa: BLE001 - ours (a secret that no longer decrypts, say): bounded, not forever
        log.exception("partner webhook delivery %s raised", delivery.pk)
        error, kind = describe_internal_error(exc), engine.INTERNAL
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
    internal_errors = (
        delivery.attempt_log.filter(error__startswith=INTERNAL_ERROR_PREFIX).count()
        if kind == engine.INTERNAL
        else 0
    )
    due = engine.next_try(
        kind,
        attempts=attempts,
        internal_errors=internal_errors,
        retry_after=retry_after,
        max_attempts=MAX_ATTEMPTS,
    )
    if due is None:
        _finish(
            delivery, WebhookDelivery.Status.FAILED, attempts=attempts, status_code=status_code, error=error
        )
        return None
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts, next_attempt_at=due, last_status_code=status_code, last_error=error, updated_at=now
    )
    return due


MOVED = "The subscription was moved away from this event's tenant: its events are not sent to the new owner."


def covers(subscription: WebhookSubscription, tenant_id: int | None) -> bool:
    """Whether the subscription still hears of ``tenant_id``'s events. A partner may move a subscription to
    another of its tenants; a delivery of the old tenant still pending (a retry, a redelivery) must not go to
    whatever URL the new owner sets. A delivery of no tenant (a partner-level ping) is its partner's."""
    if subscription.tenant_id is not None:
        return tenant_id == subscription.tenant_id
    if tenant_id is None or subscription.partner_id is None:
        return tenant_id is None
    return Tenant.objects.filter(pk=tenant_id, partner_id=subscription.partner_id).exists()


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
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
    return list(engine.due(pending, now=now).values_list("pk", flat=True)[:5000])
