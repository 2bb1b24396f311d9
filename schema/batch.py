"""A validated batch: the unit a store writes all-or-nothing, with where each record came from."""
from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from schema.records import Entity, Relation


@dataclass(frozen=True)
class Origin:
    """File and line a record was read from (or the API call that sent it)."""

    file: str
    line: int


@dataclass
class Batch:
    """Validated records of one input (a file or a mutation), nodes before relationships."""

    label: str
    entities: list[tuple[Entity, Origin]] = field(default_factory=list)
    relations: list[tuple[Relation, Origin]] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of records in the batch."""
        return len(self.entities) + len(self.relations)


@dataclass
class WriteSummary:
    """What a write did: records written per type."""

    entities: Counter[str] = field(default_factory=Counter)
    relations: Counter[str] = field(default_factory=Counter)

    def add(self, other: "WriteSummary") -> None:
        """Accumulate another summary into this one."""
        self.entities.update(other.entities)
        self.relations.update(other.relations)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is built or written.

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
