"""Worker threads for everything that blocks, in lanes, so the event loop only moves bytes and no kind of work
queues behind another kind.

- **heavy**: analytics, searches, neighbourhoods, exports (seconds at most, bounded by the time budget);
- **quick**: primary-key reads (entities of an answer, browsing pages, the store's revision for /healthz);
- **write**: mutations, one at a time (SQLite takes one writer anyway; a writer waiting for the file lock
  then holds up only the next writer);
- **health**: /healthz alone, so that it never queues behind the quick lane's reads;
- **parse**: decoding a large request body and parsing a long GraphQL document (pure-Python work of up to
  seconds for a 2 MB body), one at a time, so that neither the event loop nor another lane waits for it.

A job carries its request's deadline: one still queued when the deadline passes is dropped unrun, and a
running one sees the deadline in graph.budget (the embedded store interrupts its reads).
"""
from __future__ import annotations

import asyncio
import time
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import Any, TypeVar

from corpgraph.graph import budget

T = TypeVar("T")
_local = threading.local()  # each worker thread's event loop


class Lane(str, Enum):
    """Which pool of worker threads a job runs in."""

    HEAVY = "heavy"
    QUICK = "quick"
    WRITE = "write"
    PARSE = "parse"
    HEALTH = "health"


class Lanes:
    """One thread pool per lane, shared by every request of an app; shut down with the app."""

    def __init__(self, heavy: int, quick: int) -> None:
        sizes = {Lane.HEAVY: heavy, Lane.QUICK: quick, Lane.WRITE: 1, Lane.PARSE: 1, Lane.HEALTH: 1}
        self.pools = {lane: ThreadPoolExecutor(size, thread_name_prefix=f"corpgraph-{lane.value}")
                      for lane, size in sizes.items()}

    async def run(self, lane: Lane, deadline: float | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(*args, **kwargs) in a worker thread of the lane under the deadline; await its result.

        Raises TimedOut at the deadline even if the thread is still busy (it stops at its next check).
        """
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self.pools[lane], _call_within, deadline, fn, args, kwargs)
        if deadline is None:
            return await job
        try:
            return await asyncio.wait_for(job, max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            raise budget.timed_out() from None

    def shutdown(self) -> None:
        """Stop taking jobs; drop the queued ones (running ones end within their time budget)."""
        for pool in self.pools.values():
            pool.shutdown(wait=False, cancel_futures=True)


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on this worker thread's own event loop (made on first use, then kept).

    The app runs each GraphQL operation this way: resolvers then call the synchronous facade directly,
    and the server's event loop never executes an operation's fields.
    """
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(make())


def _call_within(deadline: float | None, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    """Call fn under the deadline, unless the deadline passed while the job waited in the queue."""
    with budget.within(deadline):
        budget.check()
        return fn(*args, **kwargs)
