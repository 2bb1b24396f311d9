"""`corpgraph serve --workers N`: N server processes on one port, sharing one projection.

Why processes: a query's analytics hold the GIL for most of their time, so one process answers about one
core's worth of queries however many threads it has. N processes answer N cores' worth.

How they share: the parent opens nothing but the listening sockets (one per worker, all bound to the port
with SO_REUSEPORT, so the kernel spreads connections over the workers and a restarted worker takes over its
socket's queue), then forks the workers after the libraries are imported (their code and the parent's
objects stay in shared pages). Worker 0 is the **builder**: it builds the projection from the store, from a
thread of its own (`Publisher`) as soon as the revision moves, and publishes it as a snapshot
(graph.projection.snapshot). The others **follow** (graph.service.CorpGraph with follow=True): they map
the newest published snapshot read-only, so the page cache holds the columns once for all workers, and
apply the store's change log to it as any process does (graph.projection.delta: a small write is visible in
milliseconds, in every worker); a change the log cannot carry (a full rebuild) is built by the builder alone
while the followers keep answering, and they map its snapshot when it is published. The ready as-of views
(graph.projection.ready) travel in the snapshot too: a follower that needs a day's view asks the builder, which
readies it, publishes it and maps it back itself, so no worker holds a private copy of a view. A write through any
worker returns once that worker's queries see it; another worker sees it at its next query, as a replica does.

A worker that dies is forked again (a builder again if it was the builder); SIGINT or SIGTERM to the parent
stops every worker.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from corpgraph.graph.service import CorpGraph

LOOK_EVERY = 0.02  # seconds between the builder's looks at the store's revision (one indexed read)
PUBLISH_EVERY = 5.0  # seconds at least between publications of a state made by deltas (a full build publishes itself)
QUIET = 1.0  # seconds without a new revision before such a state is published: not amid a burst of writes
PUBLISH_AT_MOST = 30.0  # seconds after which it is published even while writes keep coming
_RETRY_AFTER = 1.0  # seconds the builder waits after a failed build before it tries again
_RESPAWN_AFTER = 1.0  # seconds before a worker that died is forked again (a crash loop must not spin)
HEADER = "x-corpgraph-worker"  # the response header naming the worker that answered (tests, benchmarks, logs)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Worker:
    """One worker process of a server: its index among `count` (0 is the builder)."""

    index: int
    count: int

    @property
    def builder(self) -> bool:
        """Whether this worker builds and publishes the projection (the others map what it publishes)."""
        return self.index == 0


class Publisher:
    """The builder worker's thread: keep the state up to the store's revision, so that a full build a change
    needs starts here at once (the followers wait for it rather than build), and publish the state made by deltas
    once the writes pause (`quiet` seconds without a new revision, at most every `publish_every` seconds, and at
    least every `at_most` seconds however busy the writes), so that a follower (re)starting maps a recent one and
    applies only the rest. A publication writes every array of the projection and its views (about 230 MB at 1M
    companies): amid a burst of writes it took the cores the workers' deltas need, and a write through a follower
    waited for them. Views a follower asks for (`serve_wanted`) are published at once."""

    def __init__(self, graph: CorpGraph, every: float = LOOK_EVERY, publish_every: float = PUBLISH_EVERY,
                 quiet: float = QUIET, at_most: float = PUBLISH_AT_MOST) -> None:
        self.graph, self.every, self.publish_every = graph, every, publish_every
        self.quiet, self.at_most = quiet, at_most
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="corpgraph-publisher", daemon=True)

    def start(self) -> None:
        """Start (the first build starts now, not with the first query)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the build or publication in progress."""
        self._stop.set()

    def _run(self) -> None:
        """Look at the revision every `every` seconds, publish when `due`; a failed build is retried."""
        pause, published, seen, since = 0.0, 0.0, -1, 0.0
        while not self._stop.wait(pause):
            try:
                revision = self.graph.live.fresh().revision
                now = time.monotonic()
                if revision != seen:
                    seen, since = revision, now
                if self.graph.serve_wanted() or self.due(now - published, now - since):
                    self.graph.publish()
                    published = time.monotonic()
                pause = self.every
            except Exception:  # the build's error is also kept for /healthz (graph.projection.live)
                _log.exception("the builder worker could not build or publish the projection; retrying")
                pause = _RETRY_AFTER

    def due(self, since_published: float, since_changed: float) -> bool:
        """Whether to publish now, given the seconds since the last publication and since the revision last moved."""
        if since_published < self.publish_every:
            return False
        return since_changed >= self.quiet or since_published >= self.at_most


class WorkerHeader:
    """ASGI middleware naming the worker that answered in every HTTP response's `x-corpgraph-worker` header."""

    def __init__(self, app: Any, index: int) -> None:
        self.app, self.value = app, str(index).encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on; add the header to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (HEADER.encode(), self.value)]}
            await send(message)
        await self.app(scope, receive, named)


def listening(host: str, port: int) -> socket.socket:
    """A listening socket on host:port that other sockets of this user may bind too (SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_workers(count: int, host: str, port: int, make_app: Callable[[Worker], Any]) -> None:
    """Run `count` forked workers, each serving `make_app(its Worker)` with uvicorn on its own socket of
    host:port, until SIGINT or SIGTERM; a worker that dies is forked again."""
    sockets = [listening(host, port) for _ in range(count)]
    gc.freeze()  # the parent's objects are never scanned again: their pages stay shared with the workers
    children: dict[int, int] = {}  # pid -> worker index
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        for pid in children:
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for index in range(count):
        children[_fork(Worker(index, count), sockets[index], make_app)] = index
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, -1)
        if index < 0 or stopping.is_set():
            continue
        _log.error("worker %d (pid %d) ended with status %d; starting it again", index, pid, status)
        time.sleep(_RESPAWN_AFTER)
        if not stopping.is_set():
            children[_fork(Worker(index, count), sockets[index], make_app)] = index


def _fork(worker: Worker, sock: socket.socket, make_app: Callable[[Worker], Any]) -> int:
    """Fork one worker serving on its socket; the parent gets the child's pid, the child never returns."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        import uvicorn

        signal.signal(signal.SIGINT, signal.SIG_DFL)  # uvicorn installs its own graceful handlers
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        app = WorkerHeader(make_app(worker), worker.index)
        uvicorn.Server(uvicorn.Config(app)).run(sockets=[sock])  # as uvicorn.run: access log on
        code = 0
    except BaseException:
        _log.exception("worker %d failed", worker.index)
    finally:
        os._exit(code)  # never run the parent's cleanup (atexit, the store it closed) in the child


def _signal(pid: int, signum: int) -> None:
    """Send a signal to a worker that may have ended already."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
