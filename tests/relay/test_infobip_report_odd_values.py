"""Odd values anywhere in a delivery or seen report: a clear ValueError (the webhook's 400) or a report,
never another exception (the webhook's 500, which Infobip retries for as long as it retries).

The inbound fixtures have this test in test_infobip_parser.py; the report fixtures had none, and a list
or an object as the report's ``error.id`` raised TypeError (an unhashable value looked up in a set).
"""

from __future__ import annotations

import pytest

from relay.events import StatusReport
from tests.relay.test_infobip_parser import FIXTURES, ODD, body, leaf_paths, parse, replaced

REPORTS = [
    name
    for name in sorted(p.stem for p in FIXTURES.glob("*.json"))
    if any(isinstance(e, StatusReport) for e in parse(name))
]


def test_every_report_fixture_is_covered():
    assert len(REPORTS) >= 6, REPORTS


@pytest.mark.parametrize("name", REPORTS)
def test_odd_values_anywhere_in_a_report_give_a_clear_error_or_a_report(name):
    data = body(name)
    for path in leaf_paths(data["results"][0], ("results", 0)):
        for value in ODD:
            try:
                events = parse(replaced(data, path, value))
            except ValueError as exc:
                assert str(exc).startswith("results[0]"), (path, value, exc)
                continue
            for event in events:
                if isinstance(event, StatusReport):
                    assert isinstance(event.error_code, str), (path, value, event)
                    assert isinstance(event.error_message, str), (path, value, event)
