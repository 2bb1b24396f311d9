"""loaders.forking: a Ticker's thread is stopped for each fork (the child copies no lock it held) and ticks again
after it; a Ticker is the one kind of other thread that still lets the loaders fork."""
from __future__ import annotations

import os
import threading
import time

import pytest

from corpgraph.loaders import forking
from corpgraph.loaders.forking import Ticker, can_fork


def test_a_fork_waits_for_the_tick_under_way_and_the_ticks_go_on() -> None:
    # The tick holds the lock for 0.3 s; the fork is asked for as soon as a tick holds it. Forked then, the child
    # would find the lock taken for ever; the Ticker's thread is ended (the tick finished) before the fork instead.
    lock, holding, ticks = threading.Lock(), threading.Event(), []

    def tick() -> None:
        with lock:
            holding.set()
            ticks.append(time.monotonic())
            time.sleep(0.3)

    ticker = Ticker(tick, 0.01, "test-ticker")
    ticker.start()
    try:
        assert holding.wait(10)
        child = os.fork()
        if child == 0:  # the child: 0 when the lock it copied is free, 3 when a thread held it at the fork
            os._exit(0 if lock.acquire(timeout=2) else 3)  # nothing else of the test process runs here
        _, status = os.waitpid(child, 0)
        forked = len(ticks)
        deadline = time.monotonic() + 30
        while len(ticks) == forked and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        ticker.stop()
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(ticks) > forked  # a new thread ticks after the fork
    assert ticker.thread is None and all(thread.name != "test-ticker" for thread in threading.enumerate())


def test_only_a_tickers_thread_lets_the_loaders_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    ticker = Ticker(lambda: None, 60.0, "test-ticker")
    other = threading.Thread(target=lambda: None)
    ticker.start()
    thread = ticker.thread
    try:
        # threading.enumerate as this process would list them (the test process may run others of its own)
        monkeypatch.setattr(threading, "enumerate", lambda: [threading.current_thread(), ticker.thread])
        assert can_fork()
        monkeypatch.setattr(threading, "enumerate", lambda: [threading.current_thread(), ticker.thread, other])
        assert not can_fork()
    finally:
        ticker.stop()
    # stopped, its thread would count as any other (were it still alive)
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.current_thread(), thread])
    assert not can_fork() and ticker not in forking._RUNNING
