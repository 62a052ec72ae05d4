"""A per-conversation, per-direction lease: one worker at a time delivers a conversation's messages,
in order. Claimed with a conditional UPDATE (works on PostgreSQL and SQLite alike); it expires on
its own when a worker dies, and the sweeper hands the conversation to another worker.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..models import Conversation


def _field(direction: str) -> str:
    return "inbound_lease_until" if direction == "in" else "outbound_lease_until"


class Lease:
    def __init__(self, conversation_id: int, direction: str, token) -> None:
        self.conversation_id = conversation_id
        self.field = _field(direction)
        self.token = token

    def renew(self) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another worker)."""
        new_token = timezone.now() + timedelta(seconds=settings.RELAY_LEASE_SECONDS)
        updated = Conversation.objects.filter(pk=self.conversation_id, **{self.field: self.token}).update(
            **{self.field: new_token}
        )
        if updated:
            self.token = new_token
        return bool(updated)

    def release(self) -> None:
        Conversation.objects.filter(pk=self.conversation_id, **{self.field: self.token}).update(
            **{self.field: None}
        )


def claim(conversation_id: int, direction: str) -> Lease | None:
    field = _field(direction)
    now = timezone.now()
    token = now + timedelta(seconds=settings.RELAY_LEASE_SECONDS)
    free = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now})
    updated = Conversation.objects.filter(free, pk=conversation_id).update(**{field: token})
    return Lease(conversation_id, direction, token) if updated else None
