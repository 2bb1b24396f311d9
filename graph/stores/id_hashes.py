"""Ids as 64-bit hashes for checks that run on numpy arrays, each with a second, independent hash to find two ids
that the first takes for one; and the relation types' allowed endpoint types as tables indexed by type codes.

Read by a bulk import's checks (graph.stores.bulk_staging and the arrays it keeps) and an embedded load's file-so-far
ids (graph.stores.sqlite_ids). Ids are hashed by Python's string hash: forked workers share its seed with the parent.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from corpgraph.schema.declaration import RELATIONS
from corpgraph.schema.kinds import EntityType, RelationType

ENTITY_KINDS = list(EntityType)  # a type's code is its place here
RELATION_KINDS = list(RelationType)
SOURCES = np.array([[e in RELATIONS[r].sources for e in ENTITY_KINDS] for r in RELATION_KINDS])
TARGETS = np.array([[e in RELATIONS[r].targets for e in ENTITY_KINDS] for r in RELATION_KINDS])
I64 = NDArray[np.int64]


def hashes(ids: Iterable[str]) -> I64:
    """The ids' 64-bit keys in the arrays: Python's string hash (the workers are forks: they share its seed)."""
    return ints([hash(i) for i in ids])


def check_hashes(ids: Iterable[str]) -> I64:
    """A second 64-bit hash of each id, independent of hashes(), to find two ids that hashes() takes for one."""
    # SipHash is a keyed pseudo-random function: for two different ids a and b, a + NUL and b + NUL are two other
    # different inputs under the same key, so their hashes agree by chance alone (2^-64) whether or not a's and b's
    # do. (A tuple's hash, hash(("corpgraph", a)), would not do: CPython computes it from hash(a).)
    return ints([hash(i + "\x00") for i in ids])


def distinct(first: I64, second: I64) -> tuple[I64, I64] | None:
    """Each first hash once with its second hash, sorted by the first; None when a first hash comes with two
    different second hashes (two different ids share it)."""
    order = np.argsort(first)
    first, second = first[order], second[order]
    same = first[1:] == first[:-1]
    if (same & (second[1:] != second[:-1])).any():  # sorted by the first only: a run's odd one out meets a neighbour
        return None
    keep = np.r_[True, ~same][:len(first)]
    return first[keep], second[keep]


def collision(what: str, checks: str, again: str) -> str:
    """Why a run whose checks met two different `what` (ids, documents) sharing a first hash refuses them whole."""
    return (f"two different {what} share one 64-bit hash in this run (Python's string hash), so {checks} cannot tell "
            f"them apart: {again}, which hashes with a new seed (unless PYTHONHASHSEED is fixed)")


def ints(values: list[int]) -> I64:
    """Hashes (or counts) as an int64 array."""
    return np.array(values, np.int64)
