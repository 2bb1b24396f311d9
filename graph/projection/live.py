"""What queries read while the store changes: the last built state, replaced by one built in the background.

When the store's revision moves, a query does not rebuild under a lock while every other query waits: one
builder thread builds the new state from the store as it is then, and swaps it in with one assignment, so a
query sees the old state or the new one, never half of a change. Revisions that arrive during a build are
coalesced: the builder reads the revision again when it finishes and builds once more if it moved. Only the
very first build (nothing to answer from yet) makes queries wait for it.

A query that finds the state stale waits for the build up to `fresh_wait` seconds (a small build is then seen
at once) and otherwise answers from the previous state; `fresh()` waits for the state of the revision it read
(a write through this process sees itself, graph.service.CorpGraph.write).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from corpgraph.graph import budget


class Revisioned(Protocol):
    """A built state: which store revision it was built from."""

    @property
    def revision(self) -> int:
        """The store revision the state was built from (read before the build started)."""
        ...


S = TypeVar("S", bound=Revisioned)
FRESH_WAIT = 0.2  # seconds a query waits for a build in flight before answering from the previous state


class LiveState(Generic[S]):
    """The state queries read, rebuilt by one background thread when `revision()` moves past it."""

    def __init__(self, build: Callable[[], S], revision: Callable[[], int], fresh_wait: float = FRESH_WAIT,
                 replaced: Callable[[S, S], None] | None = None) -> None:
        self._build = build  # reads the store's revision itself, before reading anything else
        self._revision = revision
        # run by the builder thread with the old state and the new one once the new one replaced it and the waiting
        # queries were released: the states' owner lets go of the old one (graph.service.CorpGraph)
        self._replaced = replaced
        self.fresh_wait = fresh_wait
        self._state: S | None = None
        self._cond = threading.Condition()
        self._building = False
        self._failure: BaseException | None = None  # the last build's error, for the queries waiting on it
        self.last_failure: BaseException | None = None  # kept until a build succeeds (health checks report it)
        self.builds = 0  # builds completed (tests and benchmarks read it)

    def current(self) -> S | None:
        """The state as built last (None before the first build), without looking at the store."""
        return self._state

    def get(self) -> S:
        """The state to answer from: the current one if fresh, else the new one if it is ready within fresh_wait."""
        return self.at(self._revision())

    def at(self, revision: int) -> S:
        """As get(), for the store revision the caller has just read itself (it reads the records of that revision)."""
        return self._wait(revision, self.fresh_wait)

    def fresh(self) -> S:
        """The state of the store's revision as of now (or later), waiting for its build however long it takes."""
        return self._wait(self._revision(), None)

    def fresh_if_built(self) -> None:
        """Wait for the current revision's state if one was ever built (writes must not start the first build)."""
        if self._state is not None:
            self.fresh()

    def _wait(self, revision: int, patience: float | None) -> S:
        """Start a build when the state is older than `revision`, then wait as `patience` allows."""
        with self._cond:
            if self._is_fresh(revision):
                return self._state  # type: ignore[return-value]
            self._failure = None
            if not self._building:
                self._building = True
                threading.Thread(target=self._builder, name="corpgraph-projection-builder", daemon=True).start()
            if self._state is not None and patience is not None:
                self._cond.wait_for(lambda: self._is_fresh(revision) or not self._building, patience)
                return self._state
            # nothing to answer from yet (or the caller needs this revision): wait, within the thread's budget
            while not self._is_fresh(revision):
                if self._failure is not None:
                    raise self._failure
                if not self._building:  # the build finished with an older revision than asked: go again
                    self._building = True
                    threading.Thread(target=self._builder, name="corpgraph-projection-builder", daemon=True).start()
                budget.check()
                self._cond.wait(0.05)
            return self._state  # type: ignore[return-value]

    def _is_fresh(self, revision: int) -> bool:
        """The state was built from `revision` or a later one (revisions only grow, on every store)."""
        return self._state is not None and self._state.revision >= revision

    def _builder(self) -> None:
        """Build until the state is as new as the store (coalescing the revisions that came meanwhile).

        The revision is read again before the swap, so nothing touches the store once a waiting query has been
        released (a caller may close the store as soon as it has its answer).
        """
        try:
            while True:
                built = self._build()
                again = self._revision() > built.revision
                with self._cond:
                    old = self._state
                    self._state = built  # one assignment: readers hold the old state or the new one
                    self.last_failure = None
                    self.builds += 1
                    self._building = again
                    self._cond.notify_all()
                if old is not None and old is not built and self._replaced is not None:
                    self._replaced(old, built)
                del old  # the builder keeps no replaced state while it builds the next one
                if not again:
                    return
        except BaseException as exc:  # kept for the waiting queries; the previous state keeps serving
            with self._cond:
                self._failure = self.last_failure = exc
                self._building = False
                self._cond.notify_all()
