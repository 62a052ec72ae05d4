"""A per-conversation, per-direction lease: one worker at a time delivers a conversation's messages,
in order. Claimed with a conditional UPDATE (works on PostgreSQL and SQLite alike); it expires on
its own when a worker dies, and the sweeper hands the conversation to another worker.

The statements are written as SQL: three per line run, and the ORM cost more than running them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.sql import hot_cursor

from ..models import Conversation


def _field(direction: str) -> str:
    return "inbound_lease_until" if direction == "in" else "outbound_lease_until"


def column(direction: str) -> str:
    """The lease's column, quoted for SQL."""
    return connection.ops.quote_name(_field(direction))  # the field has no db_column of its own


def new_token(now: datetime | None = None) -> datetime:
    """A lease's token is the time it runs out."""
    return (now or timezone.now()) + timedelta(seconds=settings.RELAY_LEASE_SECONDS)


def sql_time(value: datetime | None):
    return connection.ops.adapt_datetimefield_value(value)


def claim_sql(direction: str) -> str:
    """The conditional UPDATE that takes a free (or run-out) lease; parameters: the token, the conversation
    id, now."""
    quote, lease = connection.ops.quote_name, column(direction)
    return (
        f"UPDATE {quote(Conversation._meta.db_table)} SET {lease} = %s "  # noqa: S608
        f"WHERE {quote('id')} = %s AND ({lease} IS NULL OR {lease} < %s)"
    )


class Lease:
    def __init__(self, conversation_id: int, direction: str, token) -> None:
        self.conversation_id = conversation_id
        self.direction = direction
        self.field = _field(direction)
        self.token = token
        self.released = False

    def renew(self) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another worker)."""
        new_token_ = new_token()
        updated = self._replace(new_token_)
        if updated:
            self.token = new_token_
        return updated

    def release(self) -> None:
        if not self.released:  # the statement marking the line's last message may have done it (attempts.py)
            with hot_cursor() as cursor:
                cursor.execute(release_sql(self.direction), [self.conversation_id, sql_time(self.token)])
            self.released = True

    def _replace(self, value) -> bool:
        quote, lease = connection.ops.quote_name, column(self.direction)
        with hot_cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(Conversation._meta.db_table)} SET {lease} = %s "  # noqa: S608
                f"WHERE {quote('id')} = %s AND {lease} = %s",
                [sql_time(value), self.conversation_id, sql_time(self.token)],
            )
            return cursor.rowcount > 0


def release_sql(direction: str) -> str:
    """The UPDATE that gives a lease up, unless it was lost; parameters: the conversation id, the token."""
    quote, lease = connection.ops.quote_name, column(direction)
    return (
        f"UPDATE {quote(Conversation._meta.db_table)} SET {lease} = NULL "  # noqa: S608
        f"WHERE {quote('id')} = %s AND {lease} = %s"
    )


def claim(conversation_id: int, direction: str) -> Lease | None:
    now = timezone.now()
    token = new_token(now)
    with hot_cursor() as cursor:
        cursor.execute(claim_sql(direction), [sql_time(token), conversation_id, sql_time(now)])
        updated = cursor.rowcount > 0
    return Lease(conversation_id, direction, token) if updated else None
