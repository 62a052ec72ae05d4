"""Provider webhooks: ``POST /webhooks/<provider>/<account key>/``.

Verify, parse, store, answer fast. Bad input gets a 4xx whose body says what is wrong, and changes
nothing; the provider keeps retrying a 4xx it can fix (an unknown sender, say) and a 5xx.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants import lookups

from ..providers.registry import get_provider
from .auth import json_error as _error
from .auth import read_verified_json, verify
from .ingest import UnroutableEvent, ingest


@csrf_exempt
@require_POST
def provider_webhook(request, provider: str, key: str):
    account = lookups.webhook_account(provider, key)  # kept per process, reloaded when configuration changes
    if account is None:
        return _error(404, "unknown webhook URL: check the account key in the URL")
    document = read_verified_json(
        request, lambda headers, body: verify(account, headers, body), who=f"webhook for account {account.pk}"
    )
    if isinstance(document, JsonResponse):
        return document
    try:
        events = get_provider(account.provider).parse_webhook(document)
    except LookupError as exc:
        return _error(404, str(exc))
    except ValueError as exc:
        return _error(400, f"not a webhook from {account.get_provider_display()}: {exc}")
    try:
        result = ingest(account, events)
    except UnroutableEvent as exc:
        return _error(422, str(exc))
    return JsonResponse(
        {"accepted": result.accepted, "duplicates": result.duplicates, "reports": result.reports}
    )
