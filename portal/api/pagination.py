"""Cursor pagination for every list (its own module: DRF imports it while building its generic views)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination


class ApiCursorPagination(CursorPagination):
    """Stable pages however fast rows arrive: follow ``next`` until it is null."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["This cursor is not valid."]}
            ) from None


class NewestFirstPagination(ApiCursorPagination):
    ordering = "-id"
