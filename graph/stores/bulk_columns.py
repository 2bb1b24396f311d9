"""What a bulk import's checks keep of one batch (`Columns`): numpy arrays of a few bytes a record, built where the
batch was validated (a worker process: loaders.workers), read by graph.stores.bulk_staging's checks.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.batch import Origin

from corpgraph.graph.stores.id_hashes import ENTITY_KINDS, I64, RELATION_KINDS, check_hashes as _check_hashes, \
    hashes as _hashes, ints as _ints
from corpgraph.graph.write.allocation import _minimum

Where = tuple[str, int, "str | None", "dict[str, str] | None"]
HASHED = ("ent_hash", "key_hash", "rel_hash", "rel_source", "rel_target", "inc_hash", "rel_doc")  # Columns.checks
Spilled = tuple[list[tuple[str, str, "str | None"]], dict[tuple[str, int], Where], list[str]]  # Columns.spill
_ENTITY_CODES = {kind.value: code for code, kind in enumerate(ENTITY_KINDS)}
_RELATION_CODES = {kind.value: code for code, kind in enumerate(RELATION_KINDS)}


@dataclass
class Columns:
    """One batch's records as the checks read them, in the batch's order (entities, then relations); built where the
    batch was validated (graph.stores.neo4j_bulk.prepare)."""

    label: str
    ent_hash: I64
    ent_type: NDArray[np.int8]
    ent_placeholder: NDArray[np.bool_]
    ent_line: NDArray[np.int32]
    ent_local: NDArray[np.int32]  # its row among the batch's rows of its type
    key_hash: I64  # identifier keys, hashed, with the entity (its place in the batch) carrying each
    key_of: NDArray[np.int32]
    rel_hash: I64
    rel_type: NDArray[np.int8]
    rel_source: I64
    rel_target: I64
    rel_doc: I64  # the hash of the document
    rel_native_owns: NDArray[np.bool_]
    rel_minimum: NDArray[np.float64]  # share, else share_min, else 0 (what the share sums add)
    rel_from: NDArray[np.int32]  # valid_from's ordinal, 0 for none
    rel_to: NDArray[np.int32]
    rel_line: NDArray[np.int32]
    rel_local: NDArray[np.int32]
    inc_at: NDArray[np.int32]  # the relations naming an incident, and its hash
    inc_hash: I64
    # each hash's second hash (_check_hashes), in parallel with ent_hash, key_hash, rel_hash, rel_source, rel_target,
    # inc_hash and rel_doc, in that order: only the collision checks read them
    checks: tuple[I64, I64, I64, I64, I64, I64, I64]
    # pickled (Spilled): each relation's (source, target, incident), every origin that is not (label, line), each
    # entity's id
    spill: bytes


class Gathered:
    """A batch's records as prepare (graph.stores.neo4j_bulk) meets them, kept column by column (one list a field, one
    append each, no tuple a record), turned into the batch's Columns at the end."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.ent_ids: list[str] = []
        self.ent_types: list[int] = []
        self.ent_placeholder: list[bool] = []
        self.ent_line: list[int] = []
        self.ent_local: list[int] = []
        self.keys: list[str] = []
        self.key_of: list[int] = []
        self.extras: dict[tuple[str, int], Where] = {}
        self.rel_ids: list[str] = []
        self.rel_types: list[int] = []
        self.sources: list[str] = []
        self.targets: list[str] = []
        self.ends: list[tuple[str, str, str | None]] = []
        self.inc_at: list[int] = []
        self.incidents: list[str] = []
        self.doc_hash: list[int] = []
        self.doc_check: list[int] = []
        self.native_owns: list[bool] = []
        self.minimum: list[float] = []
        self.valid_from: list[int] = []
        self.valid_to: list[int] = []
        self.rel_line: list[int] = []
        self.rel_local: list[int] = []

    def entity(self, id: str, kind: str, placeholder: bool, keys: list[str] | None, local: int,
               origin: Origin) -> None:
        """Keep one entity record (its identifier keys, its row among its type's rows of the batch, its origin)."""
        n = len(self.ent_ids)
        self.ent_ids.append(id)
        self.ent_types.append(_ENTITY_CODES[kind])
        self.ent_placeholder.append(placeholder)
        self.ent_line.append(origin.line)
        self.ent_local.append(local)
        if keys:
            self.keys += keys
            self.key_of += [n] * len(keys)
        if origin.file != self.label or origin.pointer is not None or origin.fields:
            self.extras["e", n] = _where(origin)

    def relation(self, values: tuple[Any, ...], dates: tuple[date | None, date | None], local: int,
                 doc: tuple[int, int], native_owns: bool, origin: Origin) -> None:
        """Keep one relation record: its edge_values, its validity as dates, its row among its type's rows of the
        batch, its document's two hashes (document_hashes), whether it is a native OWNS, its origin."""
        n = len(self.rel_ids)
        self.rel_ids.append(values[0])
        self.rel_types.append(_RELATION_CODES[values[1]])
        self.sources.append(values[2])
        self.targets.append(values[3])
        self.ends.append((values[2], values[3], values[7]))
        if values[7]:
            self.inc_at.append(n)
            self.incidents.append(values[7])
        self.doc_hash.append(doc[0])
        self.doc_check.append(doc[1])
        self.native_owns.append(native_owns)
        self.minimum.append(_minimum(values[4], values[8]))
        self.valid_from.append(dates[0].toordinal() if dates[0] else 0)
        self.valid_to.append(dates[1].toordinal() if dates[1] else 0)
        self.rel_line.append(origin.line)
        self.rel_local.append(local)
        if origin.file != self.label or origin.pointer is not None or origin.fields:
            self.extras["r", n] = _where(origin)

    def columns(self) -> Columns:
        """The batch's Columns."""
        hashed = (self.ent_ids, self.keys, self.rel_ids, self.sources, self.targets, self.incidents)
        h1, h2 = [_hashes(ids) for ids in hashed], [_check_hashes(ids) for ids in hashed]
        return Columns(
            self.label, h1[0], np.array(self.ent_types, np.int8), np.array(self.ent_placeholder, np.bool_),
            np.array(self.ent_line, np.int32), np.array(self.ent_local, np.int32), h1[1],
            np.array(self.key_of, np.int32), h1[2], np.array(self.rel_types, np.int8), h1[3], h1[4],
            _ints(self.doc_hash), np.array(self.native_owns, np.bool_), np.array(self.minimum, np.float64),
            np.array(self.valid_from, np.int32), np.array(self.valid_to, np.int32), np.array(self.rel_line, np.int32),
            np.array(self.rel_local, np.int32), np.array(self.inc_at, np.int32), h1[5],
            (h2[0], h2[1], h2[2], h2[3], h2[4], h2[5], _ints(self.doc_check)),
            pickle.dumps((self.ends, self.extras, self.ent_ids), protocol=pickle.HIGHEST_PROTOCOL))


def document_hashes(doc: str) -> tuple[int, int]:
    """A relation's document hashed as an id is (first, then second hash): whether a re-stated record is unchanged
    reads the first, and the collision checks the second."""
    return hash(doc), hash(doc + "\x00")


def _where(origin: Origin) -> Where:
    """An Origin as its fields, in the order Origin takes them (a tuple pickles far faster than a dataclass)."""
    return origin.file, origin.line, origin.pointer, dict(origin.fields) if origin.fields else None
