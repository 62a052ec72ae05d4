"""Keep the WhatsApp template cache (:class:`~tenants.models.WhatsAppTemplate`) in step with the provider.

The template panel reads only the cache, so a page load never waits on the provider. A sender's cache is
refreshed by the agent's "Refresh" button, by the periodic Celery task below (``CELERY_BEAT_SCHEDULE``
``whatsapp-template-sync``), and once on demand when a sender was never synced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from celery import shared_task
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from tenants.models import Sender, WhatsAppTemplate

from ..errors import ExternalError
from ..providers.registry import get_provider

log = logging.getLogger(__name__)

# The time of the last successful sync, also for a sender without templates (which leaves no row).
SYNCED_KEY = "whatsapp-templates-synced:{sender_id}"
SYNCED_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class SyncResult:
    sender_id: int
    fetched: int = 0
    removed: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def last_synced(sender: Sender) -> datetime | None:
    return cache.get(SYNCED_KEY.format(sender_id=sender.pk))


def sync_sender(sender: Sender) -> SyncResult:
    """Replace the sender's cached templates with the provider's list. A failure keeps the old cache."""
    if sender.channel != Sender.Channel.WHATSAPP:
        return SyncResult(sender.pk, error="Only WhatsApp senders have templates.")
    account = sender.account
    try:
        remote = get_provider(account.provider).list_templates(account, sender)
    except (ExternalError, LookupError, NotImplementedError) as exc:
        message = exc.message if isinstance(exc, ExternalError) else str(exc)
        log.warning("tenant %s: template sync of sender %s failed: %s", sender.tenant_id, sender.pk, message)
        return SyncResult(sender.pk, error=message)
    now = timezone.now()
    keep: set[tuple[str, str]] = set()
    with transaction.atomic():
        for template in remote:
            if not template.name or not template.language:
                continue
            keep.add((template.name, template.language))
            WhatsAppTemplate.objects.update_or_create(
                sender=sender,
                name=template.name,
                language=template.language,
                defaults={
                    "tenant_id": sender.tenant_id,
                    "provider_id": template.id[:64],
                    "category": template.category[:40],
                    "status": template.status.upper()[:20],
                    "structure": template.structure,
                    "fetched_at": now,
                },
            )
        stale = [
            pk
            for pk, name, language in WhatsAppTemplate.objects.filter(sender=sender).values_list(
                "pk", "name", "language"
            )
            if (name, language) not in keep
        ]
        removed, _ = WhatsAppTemplate.objects.filter(pk__in=stale).delete()
    cache.set(SYNCED_KEY.format(sender_id=sender.pk), now, SYNCED_TTL_SECONDS)
    return SyncResult(sender.pk, fetched=len(keep), removed=removed)


def ensure_synced(sender: Sender) -> SyncResult | None:
    """Sync a sender that was never synced (a new sender, an emptied cache); else do nothing."""
    if last_synced(sender) is not None or WhatsAppTemplate.objects.filter(sender=sender).exists():
        return None
    return sync_sender(sender)


def syncable_senders():
    return Sender.objects.filter(
        channel=Sender.Channel.WHATSAPP, enabled=True, tenant__active=True, account__active=True
    ).select_related("account")


# The name it had when it lived in tenants/: queued tasks and the beat schedule (CELERY_BEAT_SCHEDULE) use it.
@shared_task(name="tenants.template_sync.sync_all_whatsapp_templates", ignore_result=True)
def sync_all_whatsapp_templates() -> dict:
    """The periodic sync: every enabled WhatsApp sender of every active tenant, one failure not stopping it."""
    counts = {"senders": 0, "failed": 0}
    for sender in syncable_senders():
        result = sync_sender(sender)
        counts["senders"] += 1
        counts["failed"] += 0 if result.ok else 1
    log.info("WhatsApp template sync: %s", counts)
    return counts
