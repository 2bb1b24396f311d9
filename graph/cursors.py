"""Opaque page cursors: what a client passes back as `after` (clients must not build them themselves)."""
from __future__ import annotations

import base64
import binascii

from corpgraph.schema.errors import InvalidCursor


def encode_cursor(key: str) -> str:
    """The opaque cursor of a position (an entity id, or a rank key such as `share|id`)."""
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_cursor(cursor: str, hint: str = "pass the endCursor of a previous page") -> str:
    """The position inside a cursor; raises InvalidCursor (ending with the hint) for text that is not one of ours."""
    try:
        key = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        key = ""
    if not key:
        raise invalid_cursor(cursor, hint)
    return key


def invalid_cursor(cursor: str, hint: str) -> InvalidCursor:
    """The error for a cursor we did not make, saying what to pass instead."""
    return InvalidCursor(f"invalid cursor {cursor!r}: {hint}")
