"""Celery tasks of the partner API: deliver a partner webhook; sweep due deliveries and old idempotency rows."""

from __future__ import annotations

import logging

from celery import shared_task

from . import idempotency, webhooks

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30


@shared_task(ignore_result=True)
def deliver_partner_webhook(delivery_id: int) -> None:
    due = webhooks.deliver(delivery_id)
    # Run eagerly (tests), a task cannot wait for its eta: the sweep retries instead.
    if due is not None and not deliver_partner_webhook.app.conf.task_always_eager:
        deliver_partner_webhook.apply_async((delivery_id,), eta=due)


@shared_task(ignore_result=True)
def sweep_partner_webhooks() -> dict:
    """Re-queue every due delivery (a lost task, a dead worker) and forget expired idempotency records."""
    ids = webhooks.due_deliveries()
    for delivery_id in ids:
        deliver_partner_webhook.delay(delivery_id)
    purged = idempotency.purge_expired()
    if ids or purged:
        log.info("partner webhooks: re-queued %s deliveries, purged %s idempotency records", len(ids), purged)
    return {"deliveries": len(ids), "idempotency_records": purged}
