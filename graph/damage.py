"""Damaged records an answer leaves out, per thread: a reader that meets an unreadable record notes it here and
goes on, when its caller collects (`with collecting() as notes:`), so one damaged row does not fail a whole
answer; with nobody collecting (the command line, checks, writes) the error is raised as before.

Example: `with collecting() as notes: found = store.search("acme", None, 10)` gives every readable match in
`found`, and in `notes` the message of each match that could not be read.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from corpgraph.schema.errors import UnreadableRecord

_local = threading.local()


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect, for the block, the messages of the damaged records readers leave out (the previous collector is
    restored after it)."""
    previous = getattr(_local, "notes", None)
    notes: list[str] = []
    _local.notes = notes
    try:
        yield notes
    finally:
        _local.notes = previous


def note(message: str) -> None:
    """Note a damaged record an answer still shows (a row that disagrees with its document), when collecting."""
    notes: list[str] | None = getattr(_local, "notes", None)
    if notes is not None and message not in notes:
        notes.append(message)


def skip(error: UnreadableRecord) -> None:
    """Leave a damaged record out of the answer and note why; raise the error when nobody collects."""
    notes: list[str] | None = getattr(_local, "notes", None)
    if notes is None:
        raise error
    if str(error) not in notes:
        notes.append(str(error))
