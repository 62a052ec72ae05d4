"""Provider webhooks: ``POST /webhooks/<provider>/<account key>/``.

Verify, parse, store, answer fast. Bad input gets a 4xx whose body says what is wrong, and changes
nothing; the provider keeps retrying a 4xx it can fix (an unknown sender, say) and a 5xx. In a batch, the
events that can be read and routed are stored even when others cannot (the answer is still the 4xx, with
what was stored): a customer's message is not held back by its neighbour's.

An event the provider documents that Switchboard deliberately does not carry (a template's status, a link
click, a typing indicator: :class:`~relay.events.IgnoredEvent`) is acknowledged: counted in the answer
(``ignored``, and per event what it is and why in ``ignored_events``; both only when there are any), logged
once per request at INFO without its content, never stored. It alone does not make the answer a 4xx, so the
provider does not retry it. A shape the provider does not document is still unreadable (400).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants import lookups

from ..events import IgnoredEvent
from ..providers.base import PartlyReadable
from ..providers.registry import get_provider
from .auth import json_error as _error
from .auth import read_verified_json, verify
from .ingest import IngestResult, ingest, routable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..events import ParsedEvent, WebhookEvent

log = logging.getLogger(__name__)


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
    unreadable: list[str] = []
    parsed: Sequence[ParsedEvent]
    try:
        parsed = get_provider(account.provider).parse_webhook(document)
    except LookupError as exc:
        return _error(404, str(exc))
    except PartlyReadable as exc:  # some of its events could not be read: the others are stored all the same
        parsed, unreadable = exc.events, exc.problems
    except ValueError as exc:
        return _error(400, f"not a webhook from {account.get_provider_display()}: {exc}")
    events: list[WebhookEvent] = [event for event in parsed if not isinstance(event, IgnoredEvent)]
    ignored = acknowledged(account.pk, [event for event in parsed if isinstance(event, IgnoredEvent)])
    # One event that cannot be read or routed does not hold back the others of the request (they are a
    # customer's messages): they are stored, and the request is refused for the rest, so the provider sends it
    # again; what was stored is then a duplicate (a no-op), and the rest waits at the provider for a fix.
    events, unroutable = routable(account, events)
    result = ingest(account, events) if events else IngestResult()
    counts: dict = {"accepted": result.accepted, "duplicates": result.duplicates, "reports": result.reports}
    counts.update(ignored)
    if unreadable:
        problems = "; ".join(unreadable[:5])
        return _error(400, f"not a webhook from {account.get_provider_display()}: {problems}", **counts)
    if unroutable:
        return _error(422, "; ".join(dict.fromkeys(unroutable[:5])), **counts)
    return JsonResponse(counts)


def acknowledged(account_id: int, events: list[IgnoredEvent]) -> dict:
    """The answer's count of the events not carried, and per event what it is and why (nothing when there are
    none: the answer is then as it always was); logged once, at INFO, with nothing of their content (their
    names and counts only)."""
    if not events:
        return {}
    counts = Counter(event.event for event in events)
    why = {event.event: event.why for event in events}
    log.info(
        "webhook for account %s: acknowledged %s, not carried by Switchboard",
        account_id,
        ", ".join(f"{count} {name}" for name, count in counts.items()),
    )
    return {
        "ignored": len(events),
        "ignored_events": {name: {"count": count, "why": why[name]} for name, count in counts.items()},
    }
