"""Bytes from outside, made safe to store: one place for every provider, the handover endpoint and the API.

Two kinds of hostile input, two answers:

* What no provider or bot can legitimately send (JSON that RFC 8259 does not allow, such as ``NaN``,
  ``Infinity`` or a number too large for a double; nesting deeper than :data:`MAX_JSON_DEPTH`) is refused
  by :func:`loads` with :class:`UnacceptableJSON`, which the caller answers with a 400 that changes nothing.
* What a customer can really type or a provider can really relay (a NUL byte, half of a surrogate pair, a
  name longer than our column, an id longer than our column, a clock in year 1 or 9999) is *repaired*
  by :class:`Repairs`, which records every change it made so an admin sees it on the row (``sanitized``):
  a customer's message is never lost because of its content.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import Model

# Infobip's deepest documented webhook (a WhatsApp contact card: results → message → contacts → phones →
# item) is 6 levels; bots' handover attributes and partner API bodies are shallower still. 32 leaves
# room for any real payload and keeps every recursive walk (ours, Python's, PostgreSQL's jsonb) short.
MAX_JSON_DEPTH = 32

# Times a provider or a bot may plausibly report. Earlier than this or later than the arrival plus the
# skew is a broken clock: the row gets the arrival time instead (PostgreSQL cannot even store year 1 in
# some offsets, and a year-9999 message would sort after every real one forever).
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=5)

_SURROGATES = re.compile("[\ud800-\udfff]")
_HASH_SUFFIX_LENGTH = 17  # "~" and 16 hex digits of SHA-256


class UnacceptableJSON(ValueError):
    """The body is not JSON a provider, a bot or a partner could send; the message says why."""


def _reject_constant(name: str):
    raise UnacceptableJSON(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnacceptableJSON(f"the number {text[:40]} is out of range")
    return value


def loads(body: bytes | str):
    """The JSON document of ``body``, or :class:`UnacceptableJSON` saying what is wrong with it."""
    try:
        document = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except UnacceptableJSON:
        raise
    except RecursionError:
        raise UnacceptableJSON(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise UnacceptableJSON(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:  # json.JSONDecodeError, and ints over Python's digit limit
        raise UnacceptableJSON(str(exc)) from None
    if depth_exceeds(document, MAX_JSON_DEPTH):
        raise UnacceptableJSON(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return document


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is nothing but ASCII digits (at least one).

    ``str.isdigit()`` alone is no test for ``int()``: it is true of '²' and '①' (int() raises, a 500) and of
    '٣' (int() reads it: an id nobody wrote)."""
    return text.isascii() and text.isdigit()


def ascii_int(value: object, *, max_digits: int = 18) -> int | None:
    """The number a text of ASCII digits writes (up to ``max_digits``, 18: any bigint id), else None."""
    text = str(value if value is not None else "").strip()
    if len(text) > max_digits or not ascii_digits(text):
        return None
    return int(text)


def depth_exceeds(document, limit: int) -> bool:
    """Whether lists and objects nest deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def max_length_of(model: type[Model], name: str) -> int:
    """A character field's ``max_length``, read from the model so that a bound never drifts from it."""
    max_length = getattr(model._meta.get_field(name), "max_length", None)
    if not isinstance(max_length, int):
        raise LookupError(f"{model.__name__}.{name} has no max_length")
    return max_length


def bounded_id(value: str, max_length: int) -> str:
    """An id that fits ``max_length``: unchanged when it fits, else a prefix and a hash of the whole id.

    The same long id always maps to the same short one and two long ids that share a prefix do not
    collide, so a replayed message is still recognised as the one already stored."""
    if len(value) <= max_length:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{value[: max_length - _HASH_SUFFIX_LENGTH]}~{digest}"


class Repairs:
    """Cleans values on their way into a row and lists what it changed (``notes``, for the row)."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def text(self, value: str, field: str, max_length: int | None = None) -> str:
        """Without NUL bytes (PostgreSQL refuses them), with unpaired surrogates as U+FFFD (they cannot
        be encoded as UTF-8), and cut to ``max_length``."""
        if not isinstance(value, str):
            return value
        if "\x00" in value:
            value = value.replace("\x00", "")
            self._note(f"{field}: NUL bytes removed")
        if _SURROGATES.search(value):
            value = _without_lone_surrogates(value)
            self._note(f"{field}: unpaired surrogates replaced by U+FFFD")
        if max_length is not None and len(value) > max_length:
            self._note(f"{field}: {len(value)} characters cut to {max_length}")
            value = value[:max_length]
        return value

    def identifier(self, value: str, field: str, max_length: int) -> str:
        """An id cleaned like text, then made to fit with :func:`bounded_id` (still unique, still stable)."""
        cleaned = self.text(value, field)
        fitted = bounded_id(cleaned, max_length)
        if fitted != cleaned:
            self._note(f"{field}: {len(cleaned)} characters, stored as a {max_length}-character hash")
        return fitted

    def json(self, value, field: str):
        """A JSON value with every string (keys too) cleaned like :meth:`text`, without length limits."""
        if isinstance(value, str):
            return self.text(value, field)
        if isinstance(value, dict):
            return {self.text(str(k), field): self.json(v, field) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item, field) for item in value]
        if isinstance(value, tuple):  # the typed parts of relay/events.py keep their tuples
            return tuple(self.json(item, field) for item in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):  # Location, Contact, Order...
            cleaned = {f.name: self.json(getattr(value, f.name), field) for f in dataclasses.fields(value)}
            return dataclasses.replace(value, **cleaned)
        if isinstance(value, float) and not math.isfinite(value):
            self._note(f"{field}: a non-finite number replaced by null")
            return None
        return value

    def moment(self, value: datetime | None, field: str, arrival: datetime) -> datetime:
        """``value`` if a clock could plausibly have shown it, else ``arrival`` (and a note)."""
        if value is None:
            return arrival
        if EARLIEST_PLAUSIBLE <= value <= arrival + CLOCK_SKEW:
            return value
        self._note(f"{field}: {value.isoformat()} is not a plausible time; the arrival time is used")
        return arrival


def storable(value: str) -> str:
    """``value`` as any text column can hold it: without NUL bytes (PostgreSQL refuses them) and with
    unpaired surrogates as U+FFFD (they cannot be encoded as UTF-8). For text nobody reviews as a repair,
    such as what another system said when it refused a call, or an exception's message."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if _SURROGATES.search(value):
        value = _without_lone_surrogates(value)
    return value


def _without_lone_surrogates(value: str) -> str:
    """Halves of a pair that arrived apart become the character; a half alone becomes U+FFFD."""
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
