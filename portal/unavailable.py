"""An unreachable database is an outage, not a defect: answer 503 with Retry-After instead of a 500.

Providers, bots and partners retry a 503 (Infobip retries any non-2xx webhook answer with back-off), so
a message posted while PostgreSQL restarts arrives once it is back. Every other exception stays what it
is: a 500 that someone must look at.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.error("database unavailable during %s %s: %s", request.method, request.path, exception)
        response = JsonResponse(
            {"error": "Switchboard's database is unavailable for a moment; nothing was stored. Retry later."},
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
