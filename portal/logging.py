"""A logging filter that keeps secrets out of log lines, whatever a caller formats into them."""

from __future__ import annotations

import logging
import re

# Authorization headers, bearer and App keys, private keys, and "secret=..."-style pairs.
_PATTERNS = [
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|app|basic)\s+[^\s'\",}]+"),
        r"\1\2 [redacted]",
    ),
    (re.compile(r"(?i)\b(bearer|App)\s+[A-Za-z0-9!._~+/=-]{16,}"), r"\1 [redacted]"),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "[redacted key]",
    ),
    (
        re.compile(
            r"(?i)((?:api[_-]?key|secret|password|assertion|access_token|token)['\"]?\s*[:=]\s*['\"]?)[^\s'\",&}]+"
        ),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_TRACEBACKS = logging.Formatter()


class RedactSecretsFilter(logging.Filter):
    """On a handler: the message, and the traceback and stack a formatter would append to it (an
    exception's text can quote a header, a URL or a response just as a message can)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text once set: the traceback is formatted once, here, and redacted.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_handlers(logger: logging.Logger) -> None:
    """Put the filter on each of ``logger``'s handlers that lacks it (Celery's worker replaces the
    handlers Django's LOGGING configured with its own: portal/celery.py calls this for them)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())
