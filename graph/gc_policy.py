"""Garbage-collector and allocator tuning, decided by the process that owns the heap; library calls never touch
the collector.

Only entry points use this module: `corpgraph serve` at start-up (frozen projections, and a paused collector
while a whole holdings or owners answer is made), `corpgraph load` (a paused collector for the command's bulk
work), the API app, which is a server (large blocks returned to the system), and the benchmark. A program that
imports corpgraph as a library keeps its collector as it set it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for bulk work (validating and writing millions of records).

    Records hold no reference cycles, but allocating millions of them triggers repeated full
    collections whose cost grows with the heap: pausing them more than doubles load throughput.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class FrozenProjections:
    """Rebuild hooks for a long-lived server's CorpGraph: each new projection is moved out of the collector's way.

    A 1M-company projection holds millions of objects that live as long as it serves; without gc.freeze()
    every full collection re-walks them, which doubled the p99 of a liability chain. Unfreezing before a
    rebuild lets the collector free the replaced projection (views refer back to it).
    """

    def __init__(self) -> None:
        self._was_enabled = True

    def before_rebuild(self, replacing: bool) -> None:
        """Let the collector see the projection about to be replaced, and pause it while the new one is built.

        A build allocates millions of ids and tuples that survive a while: collections triggered meanwhile
        re-walk all of them (measured at 1M companies: 57 s with the collector running, 18 s paused).
        """
        if replacing:
            gc.unfreeze()
        self._was_enabled = gc.isenabled()
        gc.disable()

    def after_rebuild(self) -> None:
        """Collect what the build left, freeze everything alive (the new projection with it), resume the collector."""
        gc.collect()
        gc.freeze()
        if self._was_enabled:
            gc.enable()

    def large_answer(self) -> AbstractContextManager[None]:
        """Pause the collector while the rows of a whole holdings or owners answer are made (see paused).

        The largest holder of a 1M world holds 850k companies: one Holding each, none in a cycle. With the
        projection frozen, the collector's full collections come each time the objects made since the last one
        reach a quarter of those it keeps, so it walked the growing answer about ten times: two thirds of the
        1.86 s `holdings()` took. Paused, the next collections walk them once or twice, after the answer is made.
        Several threads pausing at once leave the collector running when the last one is done.
        """
        return paused()


# glibc's mallopt parameter and the size from which a block is its own mapping (returned to the system when freed).
_M_MMAP_THRESHOLD = -3
_MAPPED_FROM = 64 * 1024


def return_large_blocks() -> bool:
    """Make glibc give every large block its own mapping, returned to the system when freed (False: not glibc).

    A server applies a delta per write: each builds the view's matrices, control relation and factorisation anew,
    slightly larger each time, and frees the previous ones. With glibc's default the mapping threshold rises to
    the largest block freed, so later blocks come from the heap, which they fragment: a soak of mutations grew
    by about 0.2 MB a write with nothing left to collect (tracemalloc and gc.collect found none); with a fixed
    threshold, about 0.04 MB (the data the writes added).

    The cost: a request's temporaries at or above 64 KB are fresh mappings, faulted in page by page (a served
    liabilityChain at 200k companies: 120 minor faults, none at 1 MB or more). Not raised for it (round 13): at 4 MB
    (trim threshold 8 MB) the 30k-company soak grew 0.003-0.0045 MB a write, at 64 KB 0.001-0.0015, in 200 s runs
    (0.017-0.022 before replaced states were freed); a longer soak decides (benchmarks/README.md).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        return False
    return bool(mallopt is not None and mallopt(_M_MMAP_THRESHOLD, _MAPPED_FROM))
