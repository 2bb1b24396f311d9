"""The steps of a Neo4j write transaction: statements with the row counts they must report, and the change log's.

Below both the store (graph.stores.neo4j) and its batched loads (graph.stores.neo4j_loads), which run the same
steps, so neither imports the other for them.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import neo4j

from corpgraph.schema.errors import StoreError

from corpgraph.graph.stores import cypher
from corpgraph.graph.stores.base import CHANGE_LOG_KEEP, ChangeRecorder


T = TypeVar("T")
_END: Any = object()  # what `next` answers past an iterator's end, in ahead()


class Rows(list[Any]):
    """A statement's list parameter (rows, ids), sent as a list, that the driver's debug line does not spell out.

    Why: the driver (neo4j 6, Bolt5x5.run) formats every RUN for its debug log with repr() of all parameters
    before logging.debug decides whether to log, so a chunk of 10,000 rows was turned into a few MB of text and
    thrown away: 5.6 µs a row, more than packing the rows (3.7 µs), 12% of a batched load's loader samples
    (py-spy). PackStream packs a list subclass as a list, byte for byte the same.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"


def params(**values: Any) -> dict[str, Any]:
    """A statement's parameters, its list values as Rows (see there)."""
    return {name: Rows(value) if isinstance(value, list) else value for name, value in values.items()}


@dataclass(frozen=True)
class Step:
    """One statement of a write transaction; `expected` is how many rows it must report written."""

    statement: str
    params: dict[str, Any]
    expected: int | None = None
    probe: str = ""  # which of the chunk's ids are stored (a batched load writes only new ones at once)
    differs: str = ""  # which stored ones the chunk would change
    create: str = ""  # the statement for the rows the probe found not stored (CREATE, no MERGE)
    relabel: str = ""  # run first on the rows this load wrote before: a streamed load re-states them, maybe retyped


def sent(values: dict[str, Any]) -> None:
    """Empty the Rows of a statement's parameters once its result is read.

    Why: the driver's Result keeps its parameters (Result._metadata) and sits in a reference cycle (its callbacks),
    so with the cyclic collector paused (`corpgraph load`, graph.gc_policy) every chunk's rows stayed alive to the
    end of the process: a streamed load's RSS grew about 0.7 KB a relation written (239 -> 374 MB for 190,379)."""
    for value in values.values():
        if isinstance(value, Rows):
            value.clear()


def run_step(tx: neo4j.Transaction | neo4j.ManagedTransaction, step: Step) -> None:
    """Run one statement of a write; a chunk that wrote fewer rows than sent aborts the whole transaction."""
    values = params(**step.params)
    record = tx.run(step.statement, values).single(strict=True)
    sent(values)
    if step.expected is not None and record["written"] != step.expected:
        raise StoreError(f"a write chunk stored {record['written']} of {step.expected} rows (an endpoint "
                         "vanished while writing?); nothing of this file was committed, load it again")


def run_plan(tx: neo4j.Transaction | neo4j.ManagedTransaction, plan: Iterable[Step]) -> None:
    """Every step of a write in order, in one transaction (re-run whole after a transient error)."""
    for step in plan:
        run_step(tx, step)


def log_steps(log: ChangeRecorder) -> list[Step]:
    """Log what a write changed under the revision it made, and prune the entries CHANGE_LOG_KEEP behind it."""
    entry = log.entry(0)  # the statement reads the revision from the meta node
    return [Step(cypher.LOG_CHANGE, {"key": cypher.REVISION_KEY, "kind": entry.kind.value,
                                     "relations": list(entry.relations), "entities": list(entry.entities)}, 1),
            Step(cypher.PRUNE_CHANGES, {"key": cypher.REVISION_KEY, "keep": CHANGE_LOG_KEEP})]


def ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of an iterator, each next one made on a thread while the caller works on the current one.

    Why: a batched load waits for the server while it writes a chunk (the socket read releases the GIL), and
    building the next chunk's rows (documents, search strings) is the loader's own work: this overlaps the two.
    One item at most is made ahead, so memory stays one chunk's.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="corpgraph-plan") as maker:
        coming = maker.submit(next, items, _END)
        while (item := coming.result()) is not _END:
            coming = maker.submit(next, items, _END)
            yield item
