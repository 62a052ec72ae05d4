"""Secrets never reach a log line, whatever a caller formats into it."""

import logging

import pytest

from portal.logging import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (
            "calling Infobip with headers {'Authorization': 'App 5f2c9a0e1b7d4c3a8e6f'}",
            "5f2c9a0e1b7d4c3a8e6f",
        ),
        (
            "token request failed: Bearer 00D8d000000AcmE!AQ0AQFxyzabcdef123456",
            "00D8d000000AcmE!AQ0AQFxyzabcdef123456",
        ),
        ("assertion=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln&grant_type=jwt", "eyJhbGciOiJSUzI1NiJ9"),
        ('{"api_key": "ib-secret-api-key"}', "ib-secret-api-key"),
        ("webhook secret=s3cr3t-value rejected", "s3cr3t-value"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"),
    ],
)
def test_redact_removes_the_secret(line, secret):
    assert secret not in redact(line)


def test_filter_redacts_formatted_arguments(caplog):
    logger = logging.getLogger("tests.redaction")
    logger.addFilter(RedactSecretsFilter())
    with caplog.at_level(logging.INFO, logger="tests.redaction"):
        logger.info("sending with %s", "Authorization: App 5f2c9a0e1b7d4c3a8e6f")
    assert "5f2c9a0e1b7d4c3a8e6f" not in caplog.text
    assert "[redacted]" in caplog.text


def test_ordinary_lines_are_left_alone():
    line = "delivered message 42 to +447860099299 in 120 ms"
    assert redact(line) == line
