"""The cursor of the hot statements (issue 16): the few hand-written statements that run for every message.

PostgreSQL spent more time planning such a statement than running it. Django's psycopg backend binds
parameters on the client (psycopg's ``ClientCursor``), and such a cursor never prepares: every execution is
parsed and planned again. :func:`hot_cursor` runs them on a server-binding cursor of Django's own connection
(same transaction, same autocommit), wrapped as Django wraps its cursors (so ``connection.execute_wrappers``,
the debug query log and the benchmark's statement counter still see every statement), and psycopg prepares a
statement once it has run :data:`PREPARE_AFTER` times on the connection. PostgreSQL then parses it once and,
after a few executions, keeps a generic plan.

``DATABASE_PREPARED_STATEMENTS`` off (behind PgBouncer in transaction mode before 1.21, which cannot keep a
prepared statement on the server a client's next transaction lands on) and on SQLite: Django's own cursor,
nothing prepared. A new connection (``CONN_MAX_AGE``, a failed health check) starts with nothing prepared,
psycopg knows it per connection; psycopg itself forgets them all (``DEALLOCATE ALL``) after a rollback.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorWrapper
from psycopg.pq import Format

# psycopg's own default: a statement run fewer times on a connection is not worth a prepared statement's
# extra round trip and its memory in the backend (statements built per shape, a report of seven ids say).
PREPARE_AFTER = 5

# psycopg's Cursor with Django's callproc; django-stubs give it no arguments.
_SERVER_BINDING: Any = ServerBindingCursor


def hot_cursor() -> CursorWrapper:
    """A cursor of the default connection for a hot statement; use it as ``connection.cursor()``. Parameters
    are bound by PostgreSQL: each must have a type it can infer from where it stands (else cast it)."""
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        return connection.cursor()
    # What connection.cursor() does, with a server-binding cursor in place of the connection's own factory.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        if raw.prepare_threshold is None:  # Django turns psycopg's preparation off unless OPTIONS set it
            raw.prepare_threshold = PREPARE_AFTER
        cursor = _server_binding_cursor(raw)
    connection.validate_thread_sharing()
    return (
        connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)
    )


def _server_binding_cursor(raw) -> Any:
    cursor = _SERVER_BINDING(raw)
    # As Django's create_cursor: the time zone's loader only when the connection's disagrees.
    if connection.timezone != raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
        register_tzloader(connection.timezone, cursor)
    return cursor
