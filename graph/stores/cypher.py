"""Every Cypher statement the Neo4j store sends: named constants and small pure builders.

Values always travel as `$parameters`. The only names put into the text are labels and relationship types
taken from the schema enums (plus the fixed `Entity` and `CorpgraphMeta` labels below), backtick-quoted,
and the relation property names schema.declaration.ANALYTIC_FIELDS declares.
The statements stay simple (MERGE, MATCH, UNWIND, SET, CASE, CONTAINS, ORDER BY/LIMIT and four functions,
checked by tests/test_cypher_lint.py) and run against a real Neo4j 5 Community server in the test suite.
`all_statements()` lists every statement for the linter test (tests/test_cypher_lint.py).
"""
from __future__ import annotations

import re

from corpgraph.schema.declaration import ANALYTIC_FIELDS, ENTITIES, RELATIONS
from corpgraph.schema.kinds import EntityType, RelationType

# Every node also carries this label, so that `id` is unique across types and a lookup by id needs no type.
ENTITY_LABEL = "Entity"
# One bookkeeping node holds the revision counter that projection caches key on.
META_LABEL = "CorpgraphMeta"
REVISION_KEY = "revision"
# The analytic scalars of a relationship (schema.declaration.ANALYTIC_FIELDS), set and read by name.
_SET_SCALARS = ", ".join(f"r.{name} = row.{name}" for name in ANALYTIC_FIELDS)
_RETURN_SCALARS = ", ".join(f"r.{name} AS {name}" for name in ANALYTIC_FIELDS)
# Users' merge/split decisions are nodes of their own, apart from the entities: they survive reloads.
JUDGEMENT_LABEL = "CorpgraphJudgement"
# The change log (GraphStore.changes_since): one node per revision, written by the transaction that made it.
CHANGE_LABEL = "CorpgraphChange"


def _q(name: str) -> str:
    """A label or type, backtick-quoted (names come from enums, never from input)."""
    return f"`{name}`"


# --- writes ---------------------------------------------------------------------------------------------

def _verb(create: bool) -> str:
    """CREATE for rows a batched load's probe found not stored, MERGE (upsert) otherwise.

    Why: a MERGE seeks the id's unique index under a lock and then inserts into it again; for new rows that
    doubles the index work (PROFILE: LockingMerge over a locking unique index seek per row, about twice the
    server CPU a row of CREATE costs). The unique constraints still refuse a duplicate a CREATE would make.
    """
    return "CREATE" if create else "MERGE"


def merge_entities(kind: EntityType, create: bool = False) -> str:
    """Upsert (or, `create`, insert) a chunk of entities of one kind; `$rows` = [{id, type, name, search, idkeys,
    idsearch, topics, doc}], `$load` = the batched load that writes them (hidden until it is published)
    or null (visible at commit).

    idkeys/idsearch are the identifier index: the normalised `SCHEME:ID` keys as a list (grouped by
    SHARED_IDENTIFIERS) and as one "\nkey\n" string (looked up by IDS_WITH_IDENTIFIER through a text index).
    """
    return (
        f"UNWIND $rows AS row {_verb(create)} (n:{_q(ENTITY_LABEL)}:{_q(kind.value)} {{id: row.id}}) "
        "SET n.type = row.type, n.name = row.name, n.search = row.search, "
        "n.idkeys = row.idkeys, n.idsearch = row.idsearch, n.topics = row.topics, n.doc = row.doc, n.load = $load "
        "RETURN count(n) AS written"
    )


def _labels(kind: EntityType | None) -> str:
    """An endpoint's labels in a pattern: `:Entity`, and its entity type's when it is known."""
    return f":{_q(ENTITY_LABEL)}" + (f":{_q(kind.value)}" if kind is not None else "")


def relabel_entities(kind: EntityType) -> str:
    """Give the entities `$ids` the label of `kind` in place of another entity type's: placeholders a real record
    of another type replaced (graph.write.retype), their row already upserted under the old label. Their
    relationships stay on the node."""
    others = ":".join(_q(other.value) for other in EntityType if other != kind)
    return (f"UNWIND $ids AS id MATCH (n:{_q(ENTITY_LABEL)} {{id: id}}) REMOVE n:{others} SET n:{_q(kind.value)} "
            "RETURN count(n) AS written")


def merge_relations(kind: RelationType, source: EntityType | None, target: EntityType | None,
                    create: bool = False) -> str:
    """Upsert (or, `create`, insert) a chunk of relations between two labels (None: any entity, sought by the
    `:Entity(id)` index alone, as a streamed load does: neo4j_stream); `$rows` = edge_row() fields plus doc;
    `$load` as for merge_entities."""
    return (
        f"UNWIND $rows AS row "
        f"MATCH (a{_labels(source)}) WHERE a.id = row.source "
        f"MATCH (b{_labels(target)}) WHERE b.id = row.target "
        f"{_verb(create)} (a)-[r:{_q(kind.value)} {{id: row.id}}]->(b) "
        f"SET {_SET_SCALARS}, r.doc = row.doc, r.load = $load "
        "RETURN count(r) AS written"
    )


BUMP_REVISION = (
    f"MERGE (m:{_q(META_LABEL)} {{id: $key}}) "
    "SET m.value = coalesce(m.value, 0) + 1 RETURN m.value AS revision"
)
# Batched (`$rows` nodes, with their relationships, per inner transaction): one transaction deleting a large
# graph needs server memory in proportion to it (about 1.8 KB a node with its relationship, measured), more
# than db.memory.transaction.max allows. Needs an auto-commit transaction (session.run). The meta node is
# kept: its revision only ever grows (Neo4jStore.delete_all bumps it), so a running server sees the deletion.
DELETE_ALL = (f"MATCH (n) WHERE n:{_q(ENTITY_LABEL)} OR n:{_q(JUDGEMENT_LABEL)} "
              "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $rows ROWS")
# The revision is read from the meta node the same transaction bumped (and write-locked) first.
LOG_CHANGE = (
    f"MATCH (m:{_q(META_LABEL)} {{id: $key}}) "
    f"CREATE (c:{_q(CHANGE_LABEL)} {{revision: m.value, kind: $kind, relations: $relations, entities: $entities}}) "
    "RETURN count(c) AS written"
)
PRUNE_CHANGES = (
    f"MATCH (m:{_q(META_LABEL)} {{id: $key}}) MATCH (c:{_q(CHANGE_LABEL)}) WHERE c.revision <= m.value - $keep "
    "DELETE c RETURN count(*) AS written"
)
# One decision per unordered pair: `$pair` = "a|b" with a < b (ids never hold "|").
MERGE_JUDGEMENT = (
    f"MERGE (j:{_q(JUDGEMENT_LABEL)} {{pair: $pair}}) "
    "SET j.a = $a, j.b = $b, j.verdict = $verdict, j.by = $by, j.at = $at RETURN count(j) AS written"
)

# --- reads ----------------------------------------------------------------------------------------------

# Reads see published records only. A batched load (graph/stores/neo4j_loads.py) tags what it writes with its
# number (`load`) and names itself in the revision node's `loading` until one small transaction publishes it;
# every read starts with HIDDEN (the number of the load still unpublished, -1 when none) and keeps a record
# whose `load` differs (records written outside a batched load carry none: 0). At most one load is unpublished
# at a time: loads and other writes take turns (Neo4jStore.write).
HIDDEN = f"OPTIONAL MATCH (meta:{_q(META_LABEL)} {{id: $key}}) WITH coalesce(meta.loading, -1) AS hidden "


def _shown(var: str) -> str:
    """The condition that a node or relationship belongs to no unpublished load (with none, the record's own
    `load` is not read: OR stops at its first true operand, and the feed reads millions of records)."""
    return f"(hidden < 0 OR coalesce({var}.load, 0) <> hidden)"


CHANGES_SINCE = (
    f"MATCH (c:{_q(CHANGE_LABEL)}) WHERE c.revision > $since "
    "RETURN c.revision AS revision, c.kind AS kind, c.relations AS relations, c.entities AS entities "
    "ORDER BY revision"
)
READ_REVISION = f"MATCH (m:{_q(META_LABEL)} {{id: $key}}) RETURN m.value AS revision"
ENTITY_TYPES = (f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.id IN $ids AND {_shown('n')} "
                "RETURN n.id AS id, n.type AS type")
GET_ENTITIES = (f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.id IN $ids AND {_shown('n')} "
                "RETURN n.id AS id, n.type AS type, n.doc AS doc")
# What a streamed load into a database in use reads of the ids each batch names (graph.stores.neo4j_stream
# .StoredFacts): type, identifier keys, and whether the record is a placeholder (its document says so, as
# `"placeholder":true`, PLACEHOLDER_MARK: the codec writes JSON without spaces, and the quotes of a value inside a
# string are escaped); and the same of the entities holding one of `$needles` ("\nkey\n", as IDS_WITH_IDENTIFIER).
PLACEHOLDER_MARK = '"placeholder":true'
_FACTS = "RETURN n.id AS id, n.type AS type, n.idkeys AS idkeys, n.doc CONTAINS $placeholder AS placeholder"
STORED_ENTITIES = f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.id IN $ids AND {_shown('n')} {_FACTS}"
IDENTIFIER_HOLDERS = (f"{HIDDEN}UNWIND $needles AS needle MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.idsearch CONTAINS needle "
                      f"AND {_shown('n')} WITH DISTINCT n {_FACTS}")
# Keys are stored as one string "\nkey1\nkey2\n" (keys never hold whitespace), so exact, prefix and contained
# matches are all CONTAINS on one indexable string: $exact = "\nkey\n", $prefix = "\nkey", $text = "key".
# $topics: null (no filter) or topic keys (graph.identity.topics), any of which the node's n.topics must hold.
SEARCH = (
    f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.search CONTAINS $text AND n.type IN $types AND {_shown('n')} "
    "AND ($topics IS NULL OR any(t IN coalesce(n.topics, []) WHERE t IN $topics)) "
    "WITH n, CASE WHEN n.search CONTAINS $exact THEN 0 WHEN n.search CONTAINS $prefix THEN 1 ELSE 2 END AS rank "
    "RETURN n.type AS type, n.doc AS doc, n.id AS id ORDER BY rank, size(n.name), n.id LIMIT $limit"
)
IDS_WITH_IDENTIFIER = (
    f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.idsearch CONTAINS $needle AND {_shown('n')} "
    "RETURN n.id AS id ORDER BY id"
)
SHARED_IDENTIFIERS = (
    f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)}) WHERE {_shown('n')} "
    "UNWIND n.idkeys AS idkey WITH idkey, collect(n.id) AS ids WHERE size(ids) > 1 RETURN idkey AS key, ids ORDER BY key"
)
JUDGEMENTS = (
    f"MATCH (j:{_q(JUDGEMENT_LABEL)}) "
    "RETURN j.a AS a, j.b AS b, j.verdict AS verdict, j.by AS by, j.at AS at ORDER BY a, b"
)
# `corpgraph check`: rows as stored, in pages by id, whatever their labels, types and documents hold.
RAW_ENTITIES = (
    f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)}) WHERE n.id > $after AND {_shown('n')} "
    "RETURN n.id AS id, n.type AS type, n.doc AS doc ORDER BY n.id LIMIT $limit"
)
RAW_RELATIONS = (
    f"{HIDDEN}MATCH (a:{_q(ENTITY_LABEL)})-[r]->(b:{_q(ENTITY_LABEL)}) WHERE r.id > $after AND {_shown('r')} "
    f"RETURN r.id AS id, type(r) AS type, a.id AS source, b.id AS target, {_RETURN_SCALARS}, r.doc AS doc "
    "ORDER BY r.id LIMIT $limit"
)
COUNT_ENTITIES = f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)}) WHERE {_shown('n')} RETURN n.type AS type, count(n) AS count"
COUNT_RELATIONS = (
    f"{HIDDEN}MATCH (:{_q(ENTITY_LABEL)})-[r]->(:{_q(ENTITY_LABEL)}) WHERE {_shown('r')} "
    "RETURN type(r) AS type, count(r) AS count"
)


def list_entities(kind: EntityType) -> str:
    """One page of entities of a kind (`$type`, its name) ordered by id, after `$after`, at most `$limit`: a seek
    in the (type, id) index, in its order, stopped at the page's end (in a CALL subquery, as edge_columns: after
    HIDDEN's OPTIONAL MATCH the planner sorted the whole rest of the type with Top; the outer sort is of the
    page only)."""
    return (f"{HIDDEN}CALL (hidden) {{ MATCH (n:{_q(ENTITY_LABEL)}:{_q(kind.value)}) WHERE n.type = $type "
            f"AND n.id > $after AND {_shown('n')} RETURN n ORDER BY n.type, n.id LIMIT $limit }} "
            "RETURN n.type AS type, n.doc AS doc, n.id AS id ORDER BY id")


def get_relations(kind: RelationType) -> str:
    """Relations of one type by relation id (`$ids`)."""
    return (f"{HIDDEN}MATCH ()-[r:{_q(kind.value)}]->() WHERE r.id IN $ids AND {_shown('r')} "
            "RETURN r.id AS id, r.doc AS doc")


def relations_touching(kind: RelationType) -> str:
    """Relations of one type with either endpoint among `$ids` (a relation may come back twice)."""
    return (f"{HIDDEN}MATCH (n:{_q(ENTITY_LABEL)})-[r:{_q(kind.value)}]-() WHERE n.id IN $ids AND {_shown('r')} "
            "RETURN r.id AS id, r.doc AS doc")


def feed_fields(kind: RelationType) -> tuple[str, ...]:
    """The analytic fields a relation type's record declares (the store never holds the others on it)."""
    model = RELATIONS[kind].model
    return tuple(name for name in ANALYTIC_FIELDS if name in model.model_fields)


def numeric_feed_field(name: str) -> bool:
    """Whether an analytic field holds a number (a share) rather than text (dates travel as ISO text)."""
    return any(name in spec.model.model_fields and "float" in str(spec.model.model_fields[name].annotation)
               for spec in RELATIONS.values())


def edge_columns(kind: RelationType, bounded: bool = False) -> str:
    """One page of the projection feed as ONE record of columns: `id`, `source`, `target` and each declared
    analytic field a list, in relation id order after `$after` (and, `bounded`, up to `$upto` included), at
    most `$limit` relations.

    Why columns: the driver spends tens of microseconds on each record, and a few long lists unpack in its Rust
    PackStream at a fraction of that; fields the type does not declare are not read (each costs the server a
    walk of the relationship's property chain). collect() drops nulls, which would shift a column against
    the others, so an absent value travels as a value no stored one can be: NaN (0.0 / 0.0) for a share, the
    empty string for a date or an id; Neo4jStore.iter_edges turns both back into None. The seek sits in a
    CALL subquery: after HIDDEN's plain OPTIONAL MATCH the planner lost the index order and sorted the whole
    rest of the type for every page (PROFILE at 200k companies: Top over 585,933 rows per 50,000-row page).
    """
    columns = "".join(
        f", collect(coalesce(r.{name}, {'0.0 / 0.0' if numeric_feed_field(name) else repr('')})) AS {name}"
        for name in feed_fields(kind))
    upto = " AND r.id <= $upto" if bounded else ""
    return (f"{HIDDEN}CALL (hidden) {{ MATCH (a)-[r:{_q(kind.value)}]->(b) WHERE r.id > $after{upto} AND {_shown('r')} "
            "RETURN a, r, b ORDER BY r.id LIMIT $limit } "
            f"RETURN collect(r.id) AS id, collect(a.id) AS source, collect(b.id) AS target{columns}")


def relation_count(kind: RelationType) -> str:
    """How many relations of one type the store holds, unpublished ones included (Neo4j's count store: no
    relationship is read); the projection feed splits a type's id range among its readers by it."""
    return f"MATCH ()-[r:{_q(kind.value)}]->() RETURN count(r) AS count"


def edge_split(kind: RelationType) -> str:
    """The relation id `$skip` places after the first in id order: where a feed reader's share of the type ends.
    The index alone answers it (the id comes from the index, in its order: no relationship is read)."""
    return (f"MATCH ()-[r:{_q(kind.value)}]->() WHERE r.id > '' WITH r.id AS id ORDER BY id SKIP $skip LIMIT 1 "
            "RETURN id")


def edges_into(kind: RelationType) -> str:
    """The analytic scalars of the relations of one type into the entities `$ids`."""
    return (f"{HIDDEN}MATCH (a)-[r:{_q(kind.value)}]->(b:{_q(ENTITY_LABEL)}) WHERE b.id IN $ids AND {_shown('r')} "
            f"RETURN r.id AS id, a.id AS source, b.id AS target, {_RETURN_SCALARS}")


# --- schema ---------------------------------------------------------------------------------------------

# What is in place (names): opening a store checks that `corpgraph db init` created everything it creates.
SHOW_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name RETURN name"
SHOW_INDEXES = "SHOW INDEXES YIELD name RETURN name"
_SCHEMA_NAME = re.compile(r"^CREATE (?:TEXT )?(?:CONSTRAINT|INDEX) (\w+) IF NOT EXISTS")

# Which edition the server runs: Community cannot create the property existence constraints below.
EDITION = "CALL dbms.components() YIELD edition RETURN edition"


def enterprise_schema_statements() -> list[str]:
    """Constraints only Neo4j Enterprise can create (IF NOT EXISTS): every entity node has an id and a type."""
    return [
        f"CREATE CONSTRAINT corpgraph_node_entity_{prop}_exists IF NOT EXISTS "
        f"FOR (n:{_q(ENTITY_LABEL)}) REQUIRE n.{prop} IS NOT NULL"
        for prop in ("id", "type")
    ]


def schema_statements() -> list[str]:
    """Constraints and indexes, IF NOT EXISTS: unique id of every entity and of each relationship type, the
    (type, id) index, the search and identifier text indexes."""
    # One unique id across every entity label (each entity node also carries ENTITY_LABEL): an id unique per
    # label as well followed from it, and its own constraint cost every new node a second unique-index insert
    # (about a quarter of a node's server CPU: 76 -> 36-50 µs with it dropped, CREATE of 30,000 Company nodes,
    # warm JVM). Pages of one type read the (type, id) index instead (list_entities).
    out = [f"CREATE CONSTRAINT {_name('node', ENTITY_LABEL)} IF NOT EXISTS FOR (n:{_q(ENTITY_LABEL)}) "
           "REQUIRE n.id IS UNIQUE"]
    # The revision node too: READ_REVISION (every API request) seeks it by index, and the constraint keeps
    # two first writers from MERGE-creating two of it. Its write lock is what serialises corpgraph's writers
    # (Neo4jStore._write_tx).
    out.append(f"CREATE CONSTRAINT {_name('node', META_LABEL)} IF NOT EXISTS FOR (m:{_q(META_LABEL)}) "
               "REQUIRE m.id IS UNIQUE")
    out += [
        f"CREATE CONSTRAINT {_name('rel', kind.value)} IF NOT EXISTS "
        f"FOR ()-[r:{_q(kind.value)}]-() REQUIRE r.id IS UNIQUE"
        for kind in RELATIONS
    ]
    out.append(f"CREATE TEXT INDEX corpgraph_entity_search IF NOT EXISTS FOR (n:{_q(ENTITY_LABEL)}) ON (n.search)")
    out.append(f"CREATE TEXT INDEX corpgraph_entity_identifiers IF NOT EXISTS FOR (n:{_q(ENTITY_LABEL)}) "
               "ON (n.idsearch)")
    out.append(f"CREATE CONSTRAINT corpgraph_judgement_pair IF NOT EXISTS FOR (j:{_q(JUDGEMENT_LABEL)}) "
               "REQUIRE j.pair IS UNIQUE")
    out.append(f"CREATE INDEX corpgraph_entity_type_id IF NOT EXISTS FOR (n:{_q(ENTITY_LABEL)}) ON (n.type, n.id)")
    return out


def obsolete_schema_statements() -> list[str]:
    """Drops (IF EXISTS) of what earlier versions' `db init` created and this one no longer keeps: the unique id
    per entity label and the type-only index (both written on every new node, neither read any more)."""
    return ([f"DROP CONSTRAINT {_name('node', kind.value)} IF EXISTS" for kind in ENTITIES]
            + ["DROP INDEX corpgraph_entity_type IF EXISTS"])


def schema_names() -> list[str]:
    """The names of the constraints and indexes schema_statements() creates, in order, each once."""
    return list(dict.fromkeys(_SCHEMA_NAME.match(statement).group(1)  # type: ignore[union-attr]
                              for statement in schema_statements()))


def _name(scope: str, label: str) -> str:
    """A stable schema object name, so IF NOT EXISTS recognises it on the next run."""
    return f"corpgraph_{scope}_{label.lower()}_id"


def all_statements() -> list[str]:
    """Every statement the store can send, for the Cypher linter test."""
    out = [BUMP_REVISION, DELETE_ALL, READ_REVISION, LOG_CHANGE, PRUNE_CHANGES, CHANGES_SINCE, ENTITY_TYPES, GET_ENTITIES, SEARCH,
           COUNT_ENTITIES, COUNT_RELATIONS, MERGE_JUDGEMENT, IDS_WITH_IDENTIFIER, SHARED_IDENTIFIERS, JUDGEMENTS,
           RAW_ENTITIES, RAW_RELATIONS, STORED_ENTITIES, IDENTIFIER_HOLDERS, EDITION, SHOW_CONSTRAINTS, SHOW_INDEXES, *schema_statements(), *enterprise_schema_statements(),
           *obsolete_schema_statements()]
    out += [builder(kind) for kind in EntityType for builder in (merge_entities, list_entities, relabel_entities)]
    out += [builder(kind) for kind in RelationType
            for builder in (get_relations, relations_touching, edge_columns, edges_into)]
    out += [merge_entities(kind, create=True) for kind in EntityType]
    out += [merge_relations(kind, source, target, create)
            for kind, spec in RELATIONS.items() for source in sorted(spec.sources) for target in sorted(spec.targets)
            for create in (False, True)]
    return out
