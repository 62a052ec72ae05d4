"""Rate limits of the Enhanced Chat API: sliding windows that refuse with the seconds until one frees.

The defaults are Salesforce's published numbers ("Rate Limits for Enhanced Chat",
https://help.salesforce.com/apex/HTViewHelpDoc?id=service.miaw_rate_limits.htm): access token requests
200 per minute per org, token renewals (the continuation token) 200 per minute per org, and 22 inbound
messages (end user to rep) per minute per conversation. Tests and benchmarks change them through
``PUT /__sim/enhancedchat/limits``. A refused request changes nothing.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import asdict, dataclass


@dataclass
class Limits:
    messages_per_conversation_per_minute: int = 22
    tokens_per_org_per_minute: int = 200  # access tokens (guest and verified user)
    renewals_per_org_per_minute: int = 200  # continuation tokens: a budget of their own
    window_seconds: float = 60.0
    keepalive_seconds: float = 30.0  # an ``event: ping`` on idle streams

    def as_json(self) -> dict:
        return asdict(self)

    def update(self, changes: dict) -> None:
        """Apply all changes or none (a bad one is named in the ValueError)."""
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown limit {name!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
                raise ValueError(f"{name} must be a positive number")
            if isinstance(getattr(self, name), int) and value != int(value):
                raise ValueError(f"{name} must be a whole number")
        for name, value in changes.items():
            setattr(self, name, type(getattr(self, name))(value))


class Windows:
    """Request times per key within the window."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._hits.clear()

    def take(self, key: str, limit: int, window: float) -> int | None:
        """Count a request; None when allowed, else the whole seconds until the window has room."""
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= window:
            hits.popleft()
        if len(hits) >= limit:
            return max(1, math.ceil(window - (now - hits[0])))
        hits.append(now)
        return None
