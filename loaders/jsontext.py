"""JSON text to values, with reasons a user can act on for what Python's reader refuses.

Python's json module raises RecursionError for deeply nested text and a bare ValueError for integers
longer than 4,300 digits; both would escape as tracebacks. Every reader of JSON input goes through here.
"""
from __future__ import annotations

import json
from typing import Any

# Python refuses to turn longer digit strings into integers (sys.get_int_max_str_digits()).
MAX_DIGITS = 4_300
TOO_DEEP = "not valid JSON here: nested too deeply (a record needs fewer than 10 levels of objects and lists)"


class JsonTextError(ValueError):
    """JSON text that cannot be read; the message is the reason shown to the user."""


def integer(text: str) -> int:
    """A JSON integer; one of more than MAX_DIGITS digits is refused with a message instead of Python's."""
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise JsonTextError(f"a number has {digits:,} digits; numbers may have at most {MAX_DIGITS:,} "
                            "(and counts must fit 19)")
    return int(text)


# NaN and Infinity literals are read as floats here; the records refuse them by field (allow_inf_nan=False).
DECODER = json.JSONDecoder(parse_int=integer)


def loads(text: str) -> Any:
    """The value of a JSON text; JsonTextError with the reason (and the column, counted in characters from 1)."""
    try:
        return DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise JsonTextError(TOO_DEEP) from None
