"""A provider's or Salesforce's ``Retry-After`` (relay/http.py): read in seconds or as an HTTP date, never negative, and never longer
than ten minutes (RETRY_AFTER_MAX_SECONDS), whoever sends it: a stream, a renewal pause or a line waits what it
says only within that limit, so a hostile or broken answer ("inf", a year) cannot stop it for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from relay import http


def retry_after(value: str | None, date: str | None = None) -> float | None:
    headers = {} if value is None else {"Retry-After": value}
    if date is not None:
        headers["Date"] = date
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
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date gone by: at once
        ("Wed, 21 Oct 2099 07:28:00 GMT", 600.0),
        ("Wed, 32 Oct 2026 07:28:00 GMT", None),
        ("soon", None),
        (None, None),
    ],
)
def test_a_wait_is_read_in_seconds_and_capped(value, seconds):
    assert http.RETRY_AFTER_MAX_SECONDS == 600.0
    assert retry_after(value) == seconds


@pytest.mark.parametrize(
    ("value", "date", "seconds"),
    [
        ("Wed, 21 Oct 2026 07:28:30 GMT", "Wed, 21 Oct 2026 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2026 07:38:00 GMT", "Wed, 21 Oct 2026 07:28:00 GMT", 600.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", "Wed, 21 Oct 2026 07:28:00 GMT", 0.0),
        (
            "Wednesday, 21-Oct-26 07:28:45 GMT",
            "Wed, 21 Oct 2026 07:28:00 GMT",
            45.0,
        ),  # RFC 850, obsolete but valid
        ("Wed Oct 21 07:28:20 2026", "Wed, 21 Oct 2026 07:28:00 GMT", 20.0),  # asctime
    ],
)
def test_an_http_date_is_read_against_the_answer_s_own_date(value, date, seconds):
    """RFC 9110, 10.2.3: Retry-After = HTTP-date / delay-seconds. Read against the answer's Date, the date
    says the same wait whatever our clock says."""
    assert retry_after(value, date) == seconds


def test_an_http_date_without_a_date_header_is_read_against_our_clock():
    soon = datetime.now(UTC) + timedelta(seconds=90)
    waited = retry_after(format_datetime(soon, usegmt=True))
    assert waited is not None and 85 <= waited <= 90
