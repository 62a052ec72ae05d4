"""``safe_url``: the only way a URL from outside (a provider, a bot, a vendor API) becomes a link.

An ``href`` of ``javascript:``, ``data:`` or ``vbscript:`` runs code or shows content in our origin when
clicked; Django's autoescaping does not stop it, since the text is a valid attribute value. Browsers
read a URL after dropping leading control characters and spaces and every tab and newline inside it,
so ``" jav\\tascript:"`` is ``javascript:`` to them: this filter reads it the same way and keeps only
absolute http and https URLs. Anything else renders as "" (the templates then show the text without a
link). Built in to every template (settings.TEMPLATES ``builtins``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django import template

register = template.Library()

ALLOWED_SCHEMES = ("http", "https")
# What a browser's URL parser drops (WHATWG URL: leading/trailing C0 controls and space; tab and newline
# anywhere), so the scheme is judged as the browser will see it.
_EDGES = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")


def clean_url(value) -> str:
    """``value`` as an absolute http(s) URL a browser would follow as such, or ""."""
    if not isinstance(value, str):
        return ""
    url = _TAB_OR_NEWLINE.sub("", value.strip(_EDGES))
    if "\\" in url:  # browsers read "\\" as "/" in http(s) URLs: a host could hide behind it
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.netloc:
        return ""
    return url


@register.filter(name="safe_url")
def safe_url(value) -> str:
    return clean_url(value)
