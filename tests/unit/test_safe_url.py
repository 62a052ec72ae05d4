"""``safe_url``: only absolute http(s) URLs from outside become links, however a browser would read the rest."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string

from portal.console.history import TranscriptLine
from portal.templatetags.safe_urls import clean_url

HOSTILE = [
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    "JAVASCRIPT:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "\x00javascript:alert(1)",
    "\x01 \x1fjavascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    " data:image/svg+xml,<svg onload=alert(1)>",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "\n vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://files.example.com/x",
    "//evil.example.com/x",  # protocol-relative: whatever scheme the page has, to any host
    "/relative/path",
    "https:\\\\evil.example.com",
    "https:///no-host",
    "",
    None,
    42,
]

SAFE = [
    ("https://media.example.com/file.pdf", "https://media.example.com/file.pdf"),
    ("http://media.example.com/a?b=c#d", "http://media.example.com/a?b=c#d"),
    ("HTTPS://Media.Example.com/x", "HTTPS://Media.Example.com/x"),
    ("  https://media.example.com/x \n", "https://media.example.com/x"),
]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_anything_but_an_absolute_http_url_is_no_link(value):
    assert clean_url(value) == ""
    rendered = Template('<a href="{{ value|safe_url }}">x</a>').render(Context({"value": value}))
    assert rendered == '<a href="">x</a>'


@pytest.mark.parametrize(("value", "expected"), SAFE)
def test_http_and_https_urls_stay_links(value, expected):
    assert clean_url(value) == expected


def transcript_with(url: str) -> str:
    handover = SimpleNamespace(
        pk=7, status="delivered", method="history_api", transcript_ready=True, received_at=datetime.now(UTC),
        waiting_since=None, provider="infobip", provider_conversation_id="c1", get_status_display=lambda: "Delivered",
    )  # fmt: skip
    line = TranscriptLine(
        speaker="bot", label="Bot", when=datetime.now(UTC), text="Here is your invoice", media_url=url,
        media_name="invoice.pdf", imported=True,
    )  # fmt: skip
    return render_to_string(
        "console/history/_transcript.html",
        {"handovers": [{"handover": handover, "lines": [line], "line_message": None}]},
    )


@pytest.mark.parametrize("value", [v for v in HOSTILE if isinstance(v, str) and v], ids=repr)
def test_the_history_panel_links_no_hostile_transcript_url(value):
    html = transcript_with(value)
    assert "invoice.pdf" in html  # the attachment is still named, just not linked
    assert not re.search(r"<a [^>]*href", html), html
    assert "javascript" not in html.lower() and "vbscript" not in html.lower()


def test_the_history_panel_links_an_https_attachment():
    html = transcript_with("https://media.example.com/invoice.pdf")
    assert (
        '<a href="https://media.example.com/invoice.pdf" target="_blank" rel="noopener noreferrer">' in html
    )
