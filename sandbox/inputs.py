"""The one reader of JSON bodies and numbers that every simulator uses for what a client sends.

Python's own readers let hostile bytes through to a 500 or to nonsense state: ``json.loads`` raises
RecursionError (not ValueError) on arrays nested past the interpreter's depth, takes ``NaN`` and
``Infinity`` (not JSON, RFC 8259 section 6), turns ``1e999`` into ``inf``, and raises a plain ValueError
from inside the scanner on an integer longer than Python's digit limit; ``str.isdigit`` takes "²" and
"٣", which ``int`` then refuses or reads as another number. Every refusal here is a
:class:`json.JSONDecodeError` (a ValueError), so each simulator's existing ``except ValueError`` /
``except json.JSONDecodeError`` answers it with that vendor's own 400 shape.
"""

from __future__ import annotations

import json
import math
import re

WHOLE_NUMBER_RE = re.compile(r"-?[0-9]{1,18}")  # ASCII only; 18 digits always fit a signed 64-bit long


class _Refused(Exception):
    """Raised from inside the scanner's hooks; turned into a JSONDecodeError at the top."""


def _no_constant(name: str) -> float:
    raise _Refused(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]} is out of range")
    return value


def parse_json(raw: bytes | bytearray | str) -> object:
    """``raw`` decoded as strict JSON; any refusal is a JSONDecodeError naming why."""
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(
                "the body is not UTF-8", raw.decode("utf-8", "replace"), exc.start
            ) from None
        text = text.removeprefix("\ufeff")
    else:
        text = raw
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("arrays or objects nested too deeply", text, 0) from None
    except _Refused as exc:
        raise json.JSONDecodeError(str(exc), text, 0) from None
    except ValueError as exc:  # an integer past Python's digit limit, raised from inside the scanner
        raise json.JSONDecodeError(f"number out of range ({exc})", text, 0) from None


def whole_number(text: str | None) -> int | None:
    """``text`` as an integer when it is plain ASCII decimal digits (an optional '-'), else None."""
    if text is None or not WHOLE_NUMBER_RE.fullmatch(text.strip()):
        return None
    return int(text)


def query_int(value: str | None, default: int) -> int:
    """A numeric query parameter: ``default`` when absent, else its whole number (ValueError otherwise)."""
    if value is None:
        return default
    number = whole_number(value)
    if number is None:
        raise ValueError(f"{value[:40]!r} is not a whole number")
    return number


def finite_number(value: object, *, low: float, high: float) -> float:
    """A JSON number within [low, high] (ValueError otherwise: NaN, inf, bools and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{str(value)[:40]!r} is not a number")
    number = float(value)
    if not low <= number <= high:  # also refuses NaN, which compares false with everything
        raise ValueError(f"{value!r} is not between {low} and {high}")
    return number
