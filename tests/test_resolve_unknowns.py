"""The resolver never merges parties that are not known (issue 20, item 12).

The case from the shared samples: two "unknown entity (interested-party-exempt-from-disclosure)" records of
BODS statements, each said to control a different company, scored 0.85 on "identical names" and were merged by
`--accept-above 0.85`; the merged node then controlled both companies.
"""
from __future__ import annotations

from benchmarks import matching as bench
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.identity.resolve.candidates import find_candidates
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import batch, company, entity, owns

EXEMPT = "unknown entity (interested-party-exempt-from-disclosure)"


def test_two_unknown_parties_of_one_name_are_held_not_merged(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(
        company("u1", EXEMPT, unknown_reason="interested-party-exempt-from-disclosure"),
        company("u2", EXEMPT, unknown_reason="interested-party-exempt-from-disclosure"),
        company("a"), company("b"), owns("u1", "a", 0.6), owns("u2", "b", 0.6),
        company("p1", "Acme Holdings", placeholder=True), company("p2", "Acme Holdings", placeholder=True),
        entity("Actor", "x1", "unknown hackers", known=False), entity("Actor", "x2", "unknown hackers", known=False),
    ))
    graph = CorpGraph(tmp_store)
    done = graph.accept_above(0.85, "test")
    assert done.merged == []
    # each pair is listed with its score (identical names: 0.85) and held, naming why
    assert sorted((c.a, c.b, c.score) for c, _ in done.held) == [
        ("p1", "p2", 0.85), ("u1", "u2", 0.85), ("x1", "x2", 0.85)]
    assert all(why.startswith("not a known party: ") for _, why in done.held)
    assert [h.owner for h in graph.owners("a")] == ["u1"]  # u2 did not become a's owner
    # a human can still merge them by name
    graph.merge("u1", "u2", "test")
    assert {h.company for h in CorpGraph(tmp_store).holdings("u1")} == {"a", "b"}


def test_the_labelled_unknown_pairs_are_never_predicted_the_same() -> None:
    pairs, _, _ = bench.labelled()
    unknown = [(a, b) for a, b, same, _ in pairs if a.unknown_reason or a.placeholder]
    assert len(unknown) == 4
    for a, b in unknown:
        (found,) = find_candidates([a, b]).candidates
        assert found.score >= 0.85 and found.conflicts  # identical names, yet never merged automatically
