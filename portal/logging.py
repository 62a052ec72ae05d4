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


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
