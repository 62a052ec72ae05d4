"""Celery tasks of the partner API: fan out a partner event, deliver a partner webhook; sweep late events, due
deliveries and old idempotency rows."""

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


@shared_task(name="portal.api.tasks.dispatch_partner_event", ignore_result=True)
def dispatch_partner_event(event_id: int) -> None:
    """Fan one outbox row out into deliveries (queued once they are committed)."""
    webhooks.fan_out(event_id)


@shared_task(ignore_result=True)
def sweep_partner_webhooks() -> dict:
    """Fan out late outbox rows and re-queue every due delivery (a lost task, a dead worker); forget expired
    idempotency records."""
    events = webhooks.unsent_events()
    for event_id in events:
        webhooks.fan_out(event_id)  # its deliveries are queued at its commit
    ids = webhooks.due_deliveries()
    for delivery_id in ids:
        deliver_partner_webhook.delay(delivery_id)
    purged = idempotency.purge_expired()
    if events or ids or purged:
        log.info(
            "partner webhooks: fanned out %s events, re-queued %s deliveries, purged %s idempotency records",
            len(events),
            len(ids),
            purged,
        )
    return {"events": len(events), "deliveries": len(ids), "idempotency_records": purged}
