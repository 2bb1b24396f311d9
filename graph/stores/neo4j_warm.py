"""What a Neo4j replica runs at start so that the first user's write does not wait for the server to plan it:
the write transactions of two small mutations, rolled back, and the reads of a replica's first delta.

Why: write #0 after the servers started took 2.4-3.6 s, 2.1-2.3 s of it the server's CPU and 0.06 s the
replica's (the next writes 0.07-0.4 s), at 23,000 and 200,000 companies alike: Neo4j planned the write's ten
statements, in a JVM whose planner code was not compiled yet. Neo4j caches a plan under the query's text and its
parameters' types, a list's size counted in buckets (1; 2-10; 11-100; ...: a plan for 2 ids is made again for 1
or for 11, measured), so what warms the cache are the write's own statements with parameters of its own shapes.
EXPLAIN of them plans without running, but the run after it still took 15-32 ms a statement, and EXPLAIN of a
statement per label, relation type, endpoint labels and size (202) cost 22 s of server CPU and left write #0
0.65-0.88 s (docs/neo4j.md, "The first write"). The writes' own transactions, rolled back, run exactly what a
write runs, write nothing (a rollback commits nothing: revision, change log and records stay as they were) and
left write #0 0.14-0.46 s for 2.5-2.8 s of server CPU at start.

The shapes warmed are a mutation's commonest: new companies with a stake between them (two companies and an
OWNS: write #0 of benchmarks/neo4j_replicas.py), and one company alone. Other types pay for their own plans on
their first write, then with a warm planner (about 0.1 s a statement).
"""
from __future__ import annotations

from corpgraph.schema.batch import Batch
from corpgraph.schema.declaration import parsed_batch

from corpgraph.graph.stores import cypher

LABEL = "warm-up (rolled back)"
_ID = "corpgraph-warm-up-{}"  # never committed; an id no one loads


def batches() -> list[Batch]:
    """The mutations whose transactions are run and rolled back: two companies and a stake, then one company."""
    a, b = _ID.format("a"), _ID.format("b")
    stake = parsed_batch(LABEL, {"type": "Company", "id": a, "name": a}, {"type": "Company", "id": b, "name": b},
                         {"type": "OWNS", "source": a, "target": b, "share": 0.5})
    return [stake, parsed_batch(LABEL, {"type": "Company", "id": a, "name": a})]


def delta_reads() -> list[tuple[str, dict[str, int]]]:
    """The reads a replica's first delta makes besides those a write makes (graph.projection.delta), with
    parameters of their shape; run as they are (reads write nothing)."""
    return [(cypher.CHANGES_SINCE, {"since": 2**62}), (cypher.JUDGEMENTS, {})]
