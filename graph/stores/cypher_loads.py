"""The Cypher of batched loads (graph/stores/neo4j_loads.py): the load's state on the revision node, probes
that tell new records from stored ones, publication and removal.

The state of the one unpublished load lives on the revision node (cypher.META_LABEL): `loading` (its number),
`load_label` (the file), `load_state` (LoadState), `heartbeat` and `load_started` (server milliseconds), and
`loads` (the last number given). Values travel as parameters; labels and types come from the schema enums.
"""
from __future__ import annotations

from enum import Enum

from corpgraph.schema.kinds import RelationType

from corpgraph.graph.stores.cypher import ENTITY_LABEL, META_LABEL, _q, merge_relations

_META = f"(m:{_q(META_LABEL)} {{id: $key}})"


class LoadState(str, Enum):
    """Where an unpublished load stands; what recovery does with it follows from it."""

    WRITING = "writing"  # batches are being written: a dead one is removed
    WRITTEN = "written"  # every record is written and nothing waits for publication: a dead one is published
    REMOVING = "removing"  # being removed (after a failure, or by recovery)


# Takes the revision node's write lock (a real change: the lock is what makes loads and writes take turns) and
# says which load, if any, is unpublished and how long ago it last showed life (`quiet`, milliseconds). On a new
# database it creates the node at revision 0, which readers may then read while the first load is written.
LOCK_META = (
    f"MERGE {_META} SET m.locks = coalesce(m.locks, 0) + 1, m.value = coalesce(m.value, 0) "
    "RETURN m.loading AS loading, m.load_label AS label, m.load_state AS state, "
    "timestamp() - m.heartbeat AS quiet"
)
BEGIN_LOAD = (
    f"MATCH {_META} SET m.loads = coalesce(m.loads, 0) + 1 "
    "WITH m SET m.loading = m.loads, m.load_label = $label, m.load_state = $state, m.heartbeat = timestamp(), "
    "m.load_started = timestamp() RETURN m.loading AS load"
)
# First statement of a load's publishing transaction: the load is still ours and in the state we left it (a
# recovery that took it over changed both), and it is alive. Chunk transactions use CLAIM_LANE and CHECK_LOAD.
CLAIM_LOAD = (
    f"MATCH {_META} WHERE m.loading = $load AND m.load_state = $state SET m.heartbeat = timestamp() "
    "RETURN count(m) AS written"
)
# Writer lanes: the chunk transactions of a load run on up to Neo4jStore.writers sessions at once, each holding
# the write lock of its own lane node (META_LABEL, id `$key/writer-K`, made by BEGIN_LOAD's transaction) rather
# than the revision node's, which would make them take turns. A chunk locks its lane first, then reads that its
# load is still its own (CHECK_LOAD, no lock); whoever takes a load away (recovery, a failed load's removal)
# locks the revision node and then every lane (LOCK_LANES), so it waits for the chunks in flight, which commit
# before the removal starts, and every later chunk reads the new state and writes nothing.
MAKE_LANES = f"UNWIND $lanes AS lane MERGE (l:{_q(META_LABEL)} {{id: lane}}) RETURN count(l) AS written"
CLAIM_LANE = f"MATCH (l:{_q(META_LABEL)} {{id: $lane}}) SET l.locks = coalesce(l.locks, 0) + 1 RETURN count(l) AS written"
CHECK_LOAD = f"MATCH {_META} WHERE m.loading = $load AND m.load_state = $state RETURN count(m) AS written"
LOCK_LANES = (f"OPTIONAL MATCH (l:{_q(META_LABEL)}) WHERE l.id STARTS WITH $key + '/writer-' "
              "SET l.locks = coalesce(l.locks, 0) + 1 RETURN count(l) AS written")
SET_LOAD_STATE = (
    f"MATCH {_META} WHERE m.loading = $load SET m.load_state = $state, m.heartbeat = timestamp() "
    "RETURN count(m) AS written"
)
HEARTBEAT = f"MATCH {_META} WHERE m.loading = $load SET m.heartbeat = timestamp() RETURN count(m) AS written"
# Publication: the load's records become visible and the revision moves, in one small transaction.
PUBLISH_LOAD = (
    f"MATCH {_META} WHERE m.loading = $load SET m.value = coalesce(m.value, 0) + 1 "
    "REMOVE m.loading, m.load_label, m.load_state, m.heartbeat, m.load_started RETURN count(m) AS written"
)
# The end of a removal (nothing visible changed, so the revision stays); $load null: whatever load (delete_all).
DROP_LOAD = (
    f"MATCH {_META} WHERE $load IS NULL OR m.loading = $load "
    "REMOVE m.loading, m.load_label, m.load_state, m.heartbeat, m.load_started RETURN count(m) AS written"
)
# Which ids of a chunk are stored, and whether this load wrote them (`own`: it may overwrite those at once).
EXISTING_ENTITIES = (
    f"MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.id IN $ids RETURN n.id AS id, coalesce(n.load, 0) = $load AS own"
)
# Of the stored records a chunk would replace, those whose document differs (the others need no write).
CHANGED_ENTITIES = (
    f"UNWIND $rows AS row MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.id = row.id AND n.doc <> row.doc RETURN n.id AS id"
)
# Whether the database holds any entity (a streamed load goes only into one that holds none): the count store.
ANY_ENTITIES = f"MATCH (n:{_q(ENTITY_LABEL)}) RETURN count(n) AS entities"
# What a streamed load wrote, per type (its summary; the last record of an id wins, so counting rows sent would not do).
LOAD_ENTITY_COUNTS = f"MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.load = $load RETURN n.type AS type, count(n) AS count"
LOAD_RELATION_COUNTS = "MATCH ()-[r]->() WHERE r.load = $load RETURN type(r) AS type, count(r) AS count"
# Removal, in inner transactions of $rows each (auto-commit): relationships first, then the load's new nodes.
# They scan rather than keep an index on `load`, which every write of every record would pay for.
REMOVE_LOAD_RELATIONS = "MATCH ()-[r]->() WHERE r.load = $load CALL (r) { DELETE r } IN TRANSACTIONS OF $rows ROWS"
REMOVE_LOAD_ENTITIES = (
    f"MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.load = $load CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF $rows ROWS"
)


def lanes(key: str, writers: int) -> list[str]:
    """The ids of a load's writer lane nodes (MAKE_LANES)."""
    return [f"{key}/writer-{k}" for k in range(writers)]


def existing_relations(kind: RelationType) -> str:
    """Which relation ids of a chunk are stored, and whether this load wrote them."""
    return (f"MATCH ()-[r:{_q(kind.value)}]->() WHERE r.id IN $ids "
            "RETURN r.id AS id, coalesce(r.load, 0) = $load AS own")


def changed_relations(kind: RelationType) -> str:
    """Of the stored relations a chunk would replace, those whose document differs."""
    return (f"UNWIND $rows AS row MATCH ()-[r:{_q(kind.value)}]->() WHERE r.id = row.id AND r.doc <> row.doc "
            "RETURN r.id AS id")


def all_statements() -> list[str]:
    """Every statement of batched loads, for the Cypher linter test."""
    out = [LOCK_META, BEGIN_LOAD, CLAIM_LOAD, MAKE_LANES, CLAIM_LANE, CHECK_LOAD, LOCK_LANES, SET_LOAD_STATE, HEARTBEAT, PUBLISH_LOAD, DROP_LOAD, EXISTING_ENTITIES,
           CHANGED_ENTITIES, REMOVE_LOAD_RELATIONS, REMOVE_LOAD_ENTITIES, ANY_ENTITIES, LOAD_ENTITY_COUNTS,
           LOAD_RELATION_COUNTS]
    out += [merge_relations(kind, None, None, create) for kind in RelationType for create in (False, True)]
    return out + [builder(kind) for kind in RelationType for builder in (existing_relations, changed_relations)]
