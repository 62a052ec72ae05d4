"""Exponential backoff with jitter, honouring what the other side asked for."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def next_attempt(attempts: int, *, retry_after: float | None = None, now: datetime | None = None) -> datetime:
    """When to try again after ``attempts`` failed tries: 2 s, 4 s, 8 s … (by default) capped at 10 min, ±25 % jitter."""
    base, cap = settings.RELAY_RETRY_BASE_SECONDS, settings.RELAY_RETRY_CAP_SECONDS
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    delay *= random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not security
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return (now or timezone.now()) + timedelta(seconds=delay)
