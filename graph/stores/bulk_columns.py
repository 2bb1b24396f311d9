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

from corpgraph.graph.stores.id_hashes import ENTITY_KINDS, I64, RELATION_KINDS, check_hashes as _check_hashes, \
    hashes as _hashes, ints as _ints
from corpgraph.graph.write.allocation import _minimum

Where = tuple[str, int, "str | None", "dict[str, str] | None"]
HASHED = ("ent_hash", "key_hash", "rel_hash", "rel_source", "rel_target", "inc_hash", "rel_doc")  # Columns.checks
Spilled = tuple[list[tuple[str, str, "str | None"]], dict[tuple[str, int], Where], list[str]]  # Columns.spill


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


def columns(label: str, entities: list[tuple[str, str, bool, list[str], Where]],
            relations: list[tuple[tuple[Any, ...], tuple[int, int], bool, Where]]) -> Columns:
    """A batch's Columns from its entities (id, type, placeholder, identifier keys, origin) and relations (edge_values,
    the document's two hashes (document_hashes), whether it is a native OWNS, origin), with each record's row among
    its type's rows."""
    ent_local, rel_local = _places([e[1] for e in entities]), _places([v[1] for v, _, _, _ in relations])
    keys = [(key, n) for n, entry in enumerate(entities) for key in entry[3]]
    extras = {("e", n): where for n, (*_, where) in enumerate(entities) if where[0] != label or where[2:] != (None, None)}
    extras.update({("r", n): where for n, (*_, where) in enumerate(relations)
                   if where[0] != label or where[2:] != (None, None)})
    incidents = [(n, v[7]) for n, (v, _, _, _) in enumerate(relations) if v[7]]
    kinds = {kind.value: code for code, kind in enumerate(ENTITY_KINDS)}
    rel_kinds = {kind.value: code for code, kind in enumerate(RELATION_KINDS)}
    hashed = ([e[0] for e in entities], [k for k, _ in keys],
              *([v[at] for v, _, _, _ in relations] for at in (0, 2, 3)), [i for _, i in incidents])
    h1, h2 = [_hashes(ids) for ids in hashed], [_check_hashes(ids) for ids in hashed]
    return Columns(
        label, h1[0], np.array([kinds[e[1]] for e in entities], np.int8),
        np.array([e[2] for e in entities], np.bool_), np.array([e[4][1] for e in entities], np.int32),
        np.array(ent_local, np.int32),
        h1[1], np.array([n for _, n in keys], np.int32),
        h1[2], np.array([rel_kinds[v[1]] for v, _, _, _ in relations], np.int8), h1[3], h1[4],
        _ints([digest for _, (digest, _), _, _ in relations]), np.array([r[2] for r in relations], np.bool_),
        np.array([_minimum(v[4], v[8]) for v, _, _, _ in relations], np.float64),
        np.array([_day(v[5]) for v, _, _, _ in relations], np.int32),
        np.array([_day(v[6]) for v, _, _, _ in relations], np.int32),
        np.array([r[3][1] for r in relations], np.int32), np.array(rel_local, np.int32),
        np.array([n for n, _ in incidents], np.int32), h1[5],
        (h2[0], h2[1], h2[2], h2[3], h2[4], h2[5], _ints([check for _, (_, check), _, _ in relations])),
        pickle.dumps(([(v[2], v[3], v[7]) for v, _, _, _ in relations], extras, [e[0] for e in entities]),
                     protocol=pickle.HIGHEST_PROTOCOL))


def document_hashes(doc: str) -> tuple[int, int]:
    """A relation's document hashed as an id is (first, then second hash): whether a re-stated record is unchanged
    reads the first, and the collision checks the second."""
    return hash(doc), hash(doc + "\x00")


def _places(kinds: list[str]) -> list[int]:
    """Each record's place among the records of its type before it (its row in its type's block of the batch)."""
    seen: dict[str, int] = {}
    out = []
    for kind in kinds:
        out.append(seen.get(kind, 0))
        seen[kind] = out[-1] + 1
    return out


def _day(text: str | None) -> int:
    """An ISO date's ordinal, 0 for none."""
    return date.fromisoformat(text).toordinal() if text else 0
