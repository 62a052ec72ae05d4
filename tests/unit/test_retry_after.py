"""A provider's or Salesforce's ``Retry-After`` (relay/http.py): read in seconds, never negative, and never longer
than ten minutes (RETRY_AFTER_MAX_SECONDS), whoever sends it: a stream, a renewal pause or a line waits what it
says only within that limit, so a hostile or broken answer ("inf", a year) cannot stop it for good."""

from __future__ import annotations

import httpx
import pytest

from relay import http


def retry_after(value: str | None) -> float | None:
    headers = {} if value is None else {"Retry-After": value}
    return http.retry_after_seconds(httpx.Response(429, headers=headers))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("0.5", 0.5),
        ("-5", 0.0),
        ("inf", 600.0),
        ("1e309", 600.0),
        ("31536000", 600.0),
        ("nan", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
        ("soon", None),
        (None, None),
    ],
)
def test_a_wait_is_read_in_seconds_and_capped(value, seconds):
    assert http.RETRY_AFTER_MAX_SECONDS == 600.0
    assert retry_after(value) == seconds
