"""``/healthz``: is the database answering, and can we reach the broker?"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def _check_broker() -> dict:
    # A fresh connection to the configured broker (not the app's pool, which may hide an outage).
    url = settings.CELERY_BROKER_URL
    with Connection(
        url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS, connect_timeout=2
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        transport = conn.transport.driver_type
    return {"ok": True, "transport": transport}


@never_cache
@require_GET
def healthz(request):
    checks = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        started = time.monotonic()
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - a health check reports any failure, it never raises
            checks[name] = {"ok": False, "error": exc.__class__.__name__}
        checks[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
