"""A validated batch: the unit a store writes all-or-nothing, with where each record came from."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from corpgraph.schema.errors import Problem
from corpgraph.schema.kinds import EntityType
from corpgraph.schema.records import Entity, Relation


@dataclass(frozen=True)
class Origin:
    """Where a record was read from: file and line (or the API call that sent it), or, for one JSON
    document, the item's number and its JSON pointer (`/12/interests/0`).

    `fields` maps a native field to the pointer of the source value it came from, relative to
    `pointer` (an importer's {"share": "/share"}), so a problem with that field points at its source.
    """

    file: str
    line: int
    pointer: str | None = None
    fields: Mapping[str, str] | None = field(default=None, compare=False, hash=False)

    def problem(self, field_name: str, reason: str, warning: bool = False) -> Problem:
        """A Problem located at this origin (at the source value of `field_name` when it is known)."""
        pointer = self.pointer
        if pointer is not None and self.fields:
            pointer += self.fields.get(field_name.split(".")[0], "")
        return Problem(self.file, self.line, field_name, reason, pointer, warning)


@dataclass
class Batch:
    """Validated records of one input (a file or a mutation), nodes before relationships."""

    label: str
    entities: list[tuple[Entity, Origin]] = field(default_factory=list)
    relations: list[tuple[Relation, Origin]] = field(default_factory=list)
    # Problems found before the write (reading, validation): graph.write.ingest reports them together with
    # the reference problems, so a file's every problem comes out in one pass. A batch with problems
    # is never written.
    problems: list[Problem] = field(default_factory=list)
    # What changed on the way in without stopping the load (an imported text cut at its cap): reported, written.
    warnings: list[Problem] = field(default_factory=list)
    # Ids of entity records that failed validation: references to them are not reported again as unknown.
    failed_ids: set[str] = field(default_factory=set)
    format: str = "native"
    # Stored placeholders a real record of the batch gives another type, with their stored type: set by the
    # check the store runs inside its write transaction (graph.write.retype), read by a store that keeps the
    # type apart from the row it upserts (Neo4j relabels the node).
    retyped: dict[str, EntityType] = field(default_factory=dict)

    def __len__(self) -> int:
        """Number of records in the batch."""
        return len(self.entities) + len(self.relations)


class LoadPhase(str, Enum):
    """What a streamed load of one file is doing, in the order a load passes through them (shown by `corpgraph load`)."""

    READING = "reading and checking"  # parsing and validating the next batch
    WRITING = "writing"  # upserting a batch inside the file's transaction
    REFERENCES = "checking references"  # the whole-file checks before commit (references, share sums)
    COMMITTING = "committing"  # the store makes the file durable


@dataclass
class WriteSummary:
    """What a write did: records written (changed or new) per type, and how many were left unchanged."""

    entities: Counter[str] = field(default_factory=Counter)
    relations: Counter[str] = field(default_factory=Counter)
    placeholders: int = 0  # placeholder entities this write created (for references a file left open)
    unchanged: int = 0  # records equal to what was stored, so not written again (stores that tell them apart)
    notes: list[str] = field(default_factory=list)  # what the store did besides (a dead load it recovered first)

    def add(self, other: "WriteSummary") -> None:
        """Accumulate another summary into this one."""
        self.entities.update(other.entities)
        self.relations.update(other.relations)
        self.placeholders += other.placeholders
        self.unchanged += other.unchanged
        self.notes += other.notes
