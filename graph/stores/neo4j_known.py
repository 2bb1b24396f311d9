"""What a batched Neo4j load knows of its chunks' ids without asking the server (neo4j_loads.Loads._write_chunks).

A chunk's transaction used to begin with a probe (cypher_loads.EXISTING_ENTITIES, existing_relations): which of
its ids are stored, and which this load wrote itself. Into an empty database every id of a first load is new,
yet the probe was a round trip, a list of batch_size ids for the server to unpack and an index seek an id before
the write's own: a fifth to a quarter of Neo4j's CPU a record (docs/neo4j.md). The loader knows the answer for
most ids:
- stored before the load: nothing, in a database that held no entity once the load was named (from then on every
  other writer waits for the load: writes take turns); else the ids StoredFacts read for the batch that named
  them (neo4j_stream, a streamed load's checks read them anyway; records of the load itself left out);
- a relation can be stored only if both of its endpoints are: its id names them (schema.declaration.relation_id)
  and a relationship is deleted with its nodes;
- written by an earlier chunk of this load: the hashes of every chunk sent so far (sqlite_ids.Written).
An id none of these names is new and CREATEd without a probe; only the others are probed. Two ids sharing a hash
cost a probe, never a CREATE of a stored id. Should a writer that does not take turns have stored one of those
ids meanwhile, the CREATE breaks the unique constraint and the chunk runs again with the probe (Loads._write_chunks).

Memory: 8 bytes a record of the file sent, and 8 an id stored before the load that the file names (sorted runs of
numpy arrays, sqlite_ids.Runs): 34 MB for 4.3M records.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from corpgraph.graph.stores.cypher_loads import EXISTING_ENTITIES
from corpgraph.graph.stores.id_hashes import hashes
from corpgraph.graph.stores.neo4j_steps import Step
from corpgraph.graph.stores.sqlite_ids import Runs, Written


class Known:
    """The ids a load's chunks may find stored (probed), the others new (CREATEd at once); see the module."""

    def __init__(self) -> None:
        self._stored = Runs()  # hashed ids the database held before the load, of those the file names
        self._sent = Written()  # hashed ids of every chunk sent so far

    def stored(self, ids: Iterable[str]) -> None:
        """Ids the database held before the load (read by StoredFacts)."""
        keys = np.unique(hashes(ids))
        self._stored.add(keys[self._stored.find(keys)[0] < 0])

    def unsure(self, step: Step) -> frozenset[str]:
        """The ids of a chunk about to be sent that may be stored, by this load or before it (to be probed); the
        chunk's ids then count as sent."""
        rows = step.params["rows"]
        ids = [row["id"] for row in rows]
        maybe = ~self._sent.unwritten(hashes(ids))
        if len(self._stored):
            if step.probe == EXISTING_ENTITIES:
                maybe |= self._held(ids)
            else:
                maybe |= self._held([row["source"] for row in rows]) & self._held([row["target"] for row in rows])
        return frozenset(id for id, unsure in zip(ids, maybe.tolist()) if unsure)

    def _held(self, ids: list[str]) -> NDArray[np.bool_]:
        """Where an id's hash is among those stored before the load."""
        found: NDArray[np.bool_] = self._stored.find(hashes(ids))[0] >= 0
        return found
