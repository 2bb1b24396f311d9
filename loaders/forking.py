"""When the loaders may fork a child that runs Python (loaders.workers, loaders.readahead), and the one kind of
thread that does not stop them: a Ticker.

A fork copies the locks other threads hold at that moment, C libraries' included (SQLite takes its allocator's
mutex without the GIL; a console's lock while a progress line is drawn), and the child hangs on the first it takes.
So a fork waits until this process runs no other thread, save Tickers: a Ticker calls its function every few
seconds on a thread of its own, and that thread is stopped (set to end and joined, not paused) before each fork of
this process and started again after it, in the parent only (os.register_at_fork). `corpgraph load`'s progress
display is drawn by one (api.load_progress), so a load from the command line forks its validating workers as the
library's callers do.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable

_RUNNING: set["Ticker"] = set()  # the Tickers started and not stopped; the fork hooks stop and restart their threads


def can_fork() -> bool:
    """True when `fork` is there and no thread but this one runs during a fork (every other is a Ticker's)."""
    tickers = {ticker.thread for ticker in list(_RUNNING)}
    return "fork" in mp.get_all_start_methods() and all(
        thread is threading.current_thread() or thread in tickers for thread in threading.enumerate())


class Ticker:
    """Calls `tick()` every `every` seconds on a daemon thread, from start() until stop(); the thread is not running
    while this process forks, and the rhythm goes on after the fork (a fork does not push the next tick back)."""

    def __init__(self, tick: Callable[[], None], every: float, name: str) -> None:
        self._tick = tick
        self._every = every
        self._name = name
        self._due = 0.0
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """The first tick in `every` seconds, then every `every` seconds."""
        self._due = time.monotonic() + self._every
        _RUNNING.add(self)
        self._resume()

    def stop(self) -> None:
        """No tick from now on: the thread has ended when this returns (a tick under way is finished first)."""
        _RUNNING.discard(self)
        self._halt()

    def _resume(self) -> None:
        """A new thread (a thread starts only once) ticking at the times still due."""
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(self._stop,), name=self._name, daemon=True)
        self.thread.start()

    def _halt(self) -> None:
        """End the thread and wait for it (unless this is that thread: a tick that forks goes on ticking after)."""
        thread, self.thread = self.thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self, stop: threading.Event) -> None:
        """The thread: tick when due until told to stop; a slow tick delays the next one, never doubles it."""
        while not stop.wait(max(0.0, self._due - time.monotonic())):
            self._due = max(self._due + self._every, time.monotonic())
            self._tick()


def _before_fork() -> None:
    """Stop every Ticker's thread: the fork copies no lock one of them holds."""
    for ticker in list(_RUNNING):
        ticker._halt()


def _after_fork_in_parent() -> None:
    """Start every Ticker's thread again."""
    for ticker in list(_RUNNING):
        ticker._resume()


def _after_fork_in_child() -> None:
    """The child has none of the parent's threads: no Ticker runs there."""
    _RUNNING.clear()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)
