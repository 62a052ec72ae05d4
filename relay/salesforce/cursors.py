"""Where a tenant's Pub/Sub subscription may start, recorded before the listener first subscribes.

A tenant's agent replies must reach the customer from the moment its Salesforce connection is saved, even
if the listener subscribes minutes or hours later (it re-reads the tenant list every few seconds, and may
be down). A subscription has no replay id to resume from until it has read something, so when the
connection is saved with a platform event we note the time in the tenant's
:class:`~relay.models.ListenerCursor` (``deliver_since``): the listener's first subscription replays the
topic from EARLIEST and hands on only the events created since then (docs/listener.md).

Changing the platform event starts afresh on the new topic: its position, its ``deliver_since`` and its
gap note belong to the old one.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from relay.desks.registry import desk_class
from relay.models import ListenerCursor
from tenants.models import SalesforceConnection


def topic_name(connection: SalesforceConnection) -> str:
    """The desk's own topic when it names one (``Desk.pubsub_topic``: the Cases desk's Change Data Capture
    channel), else the connection's platform event."""
    return _desk_topic(connection) or f"/event/{connection.platform_event}"


def has_topic(connection: SalesforceConnection) -> bool:
    """Whether there is something to subscribe to: the desk's own topic or a platform event."""
    return bool(_desk_topic(connection) or connection.platform_event)


def _desk_topic(connection: SalesforceConnection) -> str:
    try:
        own = getattr(desk_class(connection.desk), "pubsub_topic", None)
    except LookupError:
        own = None
    return own(connection) if own else ""


@receiver(post_save, sender=SalesforceConnection, dispatch_uid="relay.listener_cursor.deliver_since")
def note_connection_saved(sender, instance: SalesforceConnection, raw: bool = False, **kwargs) -> None:
    if raw or not has_topic(instance):  # fixtures load as they are; no topic, nothing to start
        return
    topic = topic_name(instance)
    now = timezone.now()
    with transaction.atomic():
        cursor, created = ListenerCursor.objects.select_for_update().get_or_create(
            tenant_id=instance.tenant_id, defaults={"topic": topic, "deliver_since": now}
        )
        if created or (cursor.topic == topic and (cursor.replay_id or cursor.deliver_since)):
            return
        # A new topic (or a cursor from before deliver_since existed): start at this save.
        ListenerCursor.objects.filter(pk=cursor.pk).update(
            topic=topic,
            replay_id=None if cursor.topic != topic else cursor.replay_id,
            deliver_since=now,
            last_event_at=None,
            subscribed_at=None,
            gap="",
            gap_at=None,
            last_error="",
            updated_at=now,
        )
