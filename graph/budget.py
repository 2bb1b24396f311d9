"""A time budget per thread: the API sets a request's deadline around the work it hands a worker thread, and long
store reads check it, so the work of a request that has already been answered with a timeout stops.

Example: `with within(time.monotonic() + 0.5): store.search(...)` makes the embedded store interrupt the
search once half a second has passed (raising TimedOut) instead of scanning on for nobody.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from corpgraph.schema.errors import TimedOut

_local = threading.local()


@contextmanager
def within(deadline: float | None) -> Iterator[None]:
    """Run the block with a deadline (time.monotonic() seconds; None: no deadline); the previous one is restored."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


def expired() -> bool:
    """True when this thread's deadline has passed."""
    deadline = getattr(_local, "deadline", None)
    return deadline is not None and time.monotonic() > deadline


def check() -> None:
    """Raise TimedOut when this thread's deadline has passed (a point where abandoning the work is safe)."""
    if expired():
        raise timed_out()


def timed_out() -> TimedOut:
    """The error of a request past its budget, saying what to do."""
    return TimedOut("the request ran past its time budget (CORPGRAPH_API_TIME_BUDGET seconds) and was "
                    "abandoned; ask for less (smaller pages, a lower maxDepth) or try again later")
