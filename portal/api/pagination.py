"""Cursor pagination for every list (its own module: DRF imports it while building its generic views)."""

from __future__ import annotations

import base64
import binascii

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

# Every id column is a (big) integer: larger values are not ids, and PostgreSQL refuses to compare them.
MAX_ID = 2**63 - 1
INVALID = object()


def is_database_id(value) -> bool:
    """Whether ``value`` (a path segment, a cursor position, a query parameter) can be a row's id."""
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID


def _is_id(position: str | None) -> bool:
    return position is None or is_database_id(position)


class ApiCursorPagination(CursorPagination):
    """Stable pages however fast rows arrive: follow ``next`` until it is null."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def decode_cursor(self, request):
        """A cursor we made, or a 400: DRF checks only that it decodes; its position must also be an id
        (a cursor from ``next``/``previous`` always is), or the query would fail in the database."""
        encoded = request.query_params.get(self.cursor_query_param)
        try:
            # DRF's decoder skips characters that are not base64; a cursor we made never has any.
            base64.b64decode((encoded or "").encode("ascii"), validate=True)
            cursor = super().decode_cursor(request)
        except (exceptions.NotFound, binascii.Error, UnicodeEncodeError):
            cursor = INVALID
        if cursor is INVALID or (cursor is not None and not _is_id(cursor.position)):
            raise exceptions.ValidationError({self.cursor_query_param: ["This cursor is not valid."]})
        return cursor


class NewestFirstPagination(ApiCursorPagination):
    ordering = "-id"
