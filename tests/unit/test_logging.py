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


SECRET_LINES = [
    "Authorization: App 5f2c9a0e1b7d4c3a8e6f",
    "Bearer 00D8d000000AcmE!AQ0AQFxyzabcdef123456",
    "api_key=ib-secret-api-key",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
]


def _handler_output(emit) -> str:
    """What a handler with the filter writes, formatted as the site's LOGGING formats it."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.redaction.handler")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize("secret_text", SECRET_LINES)
def test_a_traceback_is_redacted_like_the_message(secret_text):
    """log.exception() appends the exception's text, which can quote a header or a response."""

    def emit(logger):
        try:
            raise ValueError(f"the provider said: {secret_text}")
        except ValueError:
            logger.exception("live check failed")

    output = _handler_output(emit)
    assert "Traceback" in output and "live check failed" in output
    for part in ("5f2c9a0e1b7d4c3a8e6f", "AQ0AQFxyzabcdef123456", "ib-secret-api-key", "MIIEvQIBADANBg"):
        assert part not in output


WORKER_SCRIPT = """
import logging, os
import django
django.setup()
from portal.celery import app
# What a starting worker does (celery.apps.worker: WorkController.setup_logging -> app.log.setup).
app.log.setup(loglevel="INFO", logfile=None, redirect_stdouts=False, colorize=False, hostname="w@test")
log = logging.getLogger("relay.anything")
log.warning("calling Infobip with %s", "Authorization: App 5f2c9a0e1b7d4c3a8e6f")
try:
    raise RuntimeError("token refused: access_token=00D8d000000AcmEQFxyzabcdef123456")
except RuntimeError:
    log.exception("task failed")
from celery.utils.log import get_task_logger
get_task_logger("relay.tasks").warning("task sees api_key=ib-secret-api-key")
"""


def test_the_celery_worker_keeps_redacting():
    """Celery's worker replaces the root logger's handlers (and so the filter LOGGING put there) with its
    own; the relay runs in the worker, so its lines must be redacted there too."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "SWITCHBOARD_TEST_WORKER": "1"}
    done = subprocess.run(
        [sys.executable, "-c", WORKER_SCRIPT],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "calling Infobip" in output and "task failed" in output and "task sees" in output
    for secret in ("5f2c9a0e1b7d4c3a8e6f", "00D8d000000AcmEQFxyzabcdef123456", "ib-secret-api-key"):
        assert secret not in output, output
