"""Every statement that reads stored records skips an unpublished batched load (cypher.HIDDEN, issue 25).

A batched load writes its records in many transactions and publishes them in one (graph/stores/neo4j_loads.py);
until then a read must not see them. The filter is text in each statement, so a new read that forgets it
would show half a file: this test reads every statement the store can send and finds the ones that do not.
"""
from __future__ import annotations

import re

from corpgraph.graph.stores import cypher
from corpgraph.schema.kinds import RelationType

# Statements that read no entity or relation record: bookkeeping, decisions, the server's own catalogue.
NOT_RECORDS = {cypher.READ_REVISION, cypher.CHANGES_SINCE, cypher.JUDGEMENTS, cypher.EDITION,
               cypher.SHOW_CONSTRAINTS, cypher.SHOW_INDEXES}
_WRITES = re.compile(r"\b(MERGE|CREATE|SET|DELETE)\b")
_RELATIONSHIP = re.compile(r"-\[(\w+)[:\]]")  # the variable of a relationship pattern: -[r:`OWNS`]- or -[r]-
_NODE = re.compile(r"(?<!OPTIONAL )MATCH \((\w+):")  # the node of `MATCH (n:`Label`)`, not HIDDEN's meta


def record_reads() -> list[str]:
    """The store's statements that only read and read entity or relation records."""
    return [s for s in cypher.all_statements() if "MATCH" in s and not _WRITES.search(s) and s not in NOT_RECORDS]


def test_every_read_of_records_starts_with_the_hidden_load_and_filters_what_it_returns() -> None:
    """Each read begins with HIDDEN and keeps only records of no unpublished load: its relationship variable
    when it matches relationships, else the entity node it matches."""
    reads = record_reads()
    # the feed, search and the relation reads of every type are among them (the builders are covered)
    assert {cypher.SEARCH, cypher.RAW_RELATIONS, cypher.COUNT_ENTITIES} <= set(reads)
    assert all(builder(kind) in reads for kind in RelationType
               for builder in (cypher.edge_columns, cypher.get_relations, cypher.edges_into))
    unfiltered = []
    for statement in reads:
        found = _RELATIONSHIP.findall(statement) or _NODE.findall(statement)
        if not statement.startswith(cypher.HIDDEN) or not found or any(
                f"coalesce({var}.load, 0) <> hidden" not in statement for var in found):
            unfiltered.append(statement)
    assert unfiltered == []


def test_the_check_would_catch_a_read_without_the_filter() -> None:
    """A relation read written without HIDDEN is not among the filtered ones (the test above is looking)."""
    bare = "MATCH (a)-[r:`OWNS`]->(b) WHERE r.id > $after RETURN r.id AS id"
    assert not bare.startswith(cypher.HIDDEN) and "coalesce(r.load, 0) <> hidden" not in bare
    assert _RELATIONSHIP.findall(bare) == ["r"]
