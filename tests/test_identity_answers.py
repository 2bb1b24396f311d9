"""Identity applied to answers: one entity per identifier in owners, liability and entity reads; conflicts shown.

The world, by hand (a GLEIF-shaped file and a BODS-shaped file about the same two companies):
- GLEIF: `lei:F` FERMCAT LIMITED (LEI F, GB-COH 03209885) and `lei:P` PARENT PLC (LEI P); P owns 60% of F
  from 2020-01-01, published 2024-01-01; P also owns 10% of `lei:X` (only GLEIF says so).
- BODS: `bods:fermcat` (LEI F, written loosely) and `bods:parent` (LEI P); parent owns 55% of fermcat from
  2020-01-01, statement recorded 2024-06-01 (more recent: it wins); a person owns 100% of parent.
- The incident `leak` is answered for by `lei:F` (stated by GLEIF's ids).
Canonical ids: "bods:" sorts before "lei:", so `bods:fermcat` and `bods:parent`.
"""
from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.api.context import make_context
from corpgraph.api.graphql_schema import make_schema
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.identity.clusters import IdentityError
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import approx, batch, company, entity, owns, rel

F, P = "549300O897ZC5H7CY412", "5493001KJTIIGC8Y1R12"
GLEIF_SRC = {"publisher": "GLEIF", "title": "golden copy", "published_on": "2024-01-01"}
BODS_SRC = {"publisher": "Companies House", "title": "PSC register", "recorded_on": "2024-06-01"}
DAY = date(2025, 1, 1)


def _gleif() -> list[dict[str, object]]:
    """The GLEIF-shaped records."""
    return [company("lei:" + F, "FERMCAT LIMITED", identifiers=[{"scheme": "LEI", "id": F},
                                                                 {"scheme": "GB-COH", "id": "03209885"}]),
            company("lei:" + P, "PARENT PLC", identifiers={"LEI": P}), company("lei:X", "Other"),
            owns("lei:" + P, "lei:" + F, 0.6, valid_from="2020-01-01", sources=[GLEIF_SRC]),
            owns("lei:" + P, "lei:X", 0.1, valid_from="2020-01-01", sources=[GLEIF_SRC]),
            entity("Incident", "leak", "Leak", category="data_leak", occurred_on="2024-03-01"),
            rel("RESPONSIBLE_FOR", "lei:" + F, "leak", role="operator")]


def _bods(share: float = 0.55) -> list[dict[str, object]]:
    """The BODS-shaped records (the LEI spelt in lower case with a space)."""
    return [company("bods:fermcat", "Fermcat Ltd", identifiers=[{"scheme": "lei", "id": f"{F[:6]} {F[6:].lower()}"}]),
            company("bods:parent", "Parent", identifiers={"LEI": P}), entity("Person", "bods:jane", "Jane Doe"),
            owns("bods:parent", "bods:fermcat", share, valid_from="2020-01-01", sources=[BODS_SRC]),
            owns("bods:jane", "bods:parent", 1.0, sources=[BODS_SRC])]


def _graph(path: Path, *files: list[dict[str, object]]) -> CorpGraph:
    """A CorpGraph over a new embedded store with the files loaded in order."""
    store = SqliteStore(path)
    for records in files:
        ingest(store, batch(*records))
    return CorpGraph(store)


@pytest.mark.parametrize("order", ["gleif-first", "bods-first"])
def test_one_company_by_any_id_or_identifier_whatever_the_load_order(tmp_path: Path, order: str) -> None:
    """Owners of F asked by either id or by LEI: one answer, canonical ids, the newer 55% stake."""
    files = (_gleif(), _bods()) if order == "gleif-first" else (_bods(), _gleif())
    graph = _graph(tmp_path / "g.db", *files)
    answers = [graph.owners(ref, DAY) for ref in ("lei:" + F, "bods:fermcat", f"LEI:{F}", "GB-COH:03209885")]
    assert all(a == answers[0] for a in answers)
    # by hand: parent holds 55% of fermcat (BODS, 2024-06-01, beats GLEIF's 60% of 2024-01-01); jane holds
    # 100% of parent, so integrated(jane, fermcat) = 1.0 * 0.55
    got = {h.owner: (h.direct, h.integrated) for h in answers[0]}
    assert got == {"bods:parent": (0.55, approx(0.55)), "bods:jane": (0.0, approx(0.55))}
    assert graph.referents("bods:fermcat") == ["lei:" + F]


def test_a_relation_from_two_sources_is_one_with_both_sources(tmp_path: Path) -> None:
    """The same stake stated by GLEIF and BODS is one edge whose hop carries both sources; no conflict."""
    graph = _graph(tmp_path / "g.db", _gleif(), _bods(share=0.6))
    owners = graph.owners("bods:fermcat", DAY)
    parent = next(h for h in owners if h.owner == "bods:parent")
    assert (parent.direct, parent.conflicting, parent.statements) == (0.6, False, ())
    chain = graph.liability_chain("leak", DAY)
    party = next(p for p in chain.parties if p.entity == "bods:parent")
    hop = party.paths[0].hops[0]
    assert (hop.source, hop.target, hop.share) == ("bods:parent", "bods:fermcat", 0.6)
    assert sorted(s.publisher for s in hop.sources) == ["Companies House", "GLEIF"]


def test_disagreeing_sources_the_latest_published_wins_and_the_conflict_is_shown(tmp_path: Path) -> None:
    """60% (GLEIF, 2024-01-01) against 55% (BODS, recorded 2024-06-01): 55% counts, both listed, BODS first."""
    graph = _graph(tmp_path / "g.db", _gleif(), _bods())
    parent = next(h for h in graph.owners(f"LEI:{F}", DAY) if h.owner == "bods:parent")
    assert parent.conflicting
    assert parent.statements == ("OWNS|bods:parent|bods:fermcat|2020-01-01", f"OWNS|lei:{P}|lei:{F}|2020-01-01")
    # the liability chain weights with the winner: parent is an OWNER of the responsible company at 0.55
    weights = {p.entity: p.weight for p in graph.liability_chain("leak", DAY).parties}
    assert weights == {"bods:fermcat": 1.0, "bods:parent": pytest.approx(0.55), "bods:jane": pytest.approx(0.55)}


def test_the_merged_entity_has_every_name_and_identifier(tmp_path: Path) -> None:
    """Asked by any reference: the canonical id, the other names as aliases, identifiers of both records."""
    graph = _graph(tmp_path / "g.db", _gleif(), _bods())
    found = graph.entities([f"LEI:{F}", "lei:" + F, "nope"])
    assert sorted(found) == [f"LEI:{F}", "lei:" + F]
    merged = found[f"LEI:{F}"]
    assert (merged.id, merged.name, merged.aliases) == ("bods:fermcat", "Fermcat Ltd", ["FERMCAT LIMITED"])
    assert [(i.scheme, i.id) for i in merged.identifiers] == [("lei", f"{F[:6]} {F[6:].lower()}"),
                                                                ("GB-COH", "03209885")]
    assert [e.id for e in graph.search("fermcat limited")] == ["bods:fermcat"]
    # P's holding in X (stated under GLEIF's id only) is the merged parent's
    assert [(h.company, h.direct) for h in graph.holdings("bods:parent", DAY)] == [("bods:fermcat", 0.55),
                                                                                   ("lei:X", 0.1)]


def test_a_split_keeps_them_apart_and_decisions_survive_reloads(tmp_path: Path) -> None:
    """After `different`, F's two records are two entities again, also after both files are loaded again."""
    graph = _graph(tmp_path / "g.db", _gleif(), _bods())
    graph.decide("bods:fermcat", f"lei:{F}", "different", "analyst")
    for records in (_gleif(), _bods()):
        ingest(graph.store, batch(*records))
    assert graph.referents("bods:fermcat") == [] and graph.resolve("lei:" + F) == "lei:" + F
    assert [c.link for c in graph.identity().conflicts] == [f"LEI:{F}"]
    assert {h.owner: h.direct for h in graph.owners("lei:" + F, DAY)} == {"bods:parent": 0.6, "bods:jane": 0.0}
    with pytest.raises(IdentityError, match="kept apart"):
        graph.owners(f"LEI:{F}", DAY)


def test_two_stakes_valid_the_same_day_are_not_summed(tmp_path: Path) -> None:
    """Register history rows overlapping: the latest valid_from counts (40%, not 70%); flagged, both listed."""
    graph = _graph(tmp_path / "g.db", [company("a"), company("b"),
                                       owns("a", "b", 0.3, valid_from="2019-01-01"),
                                       owns("a", "b", 0.4, valid_from="2020-01-01", valid_to="2030-01-01")])
    [stake] = graph.owners("b", DAY)
    assert (stake.direct, stake.conflicting) == (0.4, True)
    assert stake.statements == ("OWNS|a|b|2020-01-01", "OWNS|a|b|2019-01-01")
    [before] = graph.owners("b", date(2019, 6, 1))  # only the 2019 row is valid then: no conflict
    assert (before.direct, before.conflicting) == (0.3, False)


def test_graphql_shows_referents_and_what_each_source_said(tmp_path: Path) -> None:
    """`entity(id: "LEI:...")` answers the merged entity with its referents; a conflicting holding lists both statements."""
    graph = _graph(tmp_path / "g.db", _gleif(), _bods())
    query = """{
      entity(id: "LEI:%s") { id name aliases referents }
      owners(companyId: "lei:%s", asOf: "2025-01-01") {
        owner { id } direct conflicting statements { relationId share sources { publisher } }
      }
    }""" % (F, F)
    result = asyncio.run(make_schema(ApiSettings()).execute(query, context_value=make_context(graph, ApiSettings())))
    assert result.errors is None and result.data is not None
    assert result.data["entity"] == {"id": "bods:fermcat", "name": "Fermcat Ltd", "aliases": ["FERMCAT LIMITED"],
                                     "referents": ["lei:" + F]}
    parent = next(h for h in result.data["owners"] if h["owner"]["id"] == "bods:parent")
    assert (parent["direct"], parent["conflicting"]) == (0.55, True)
    assert parent["statements"] == [
        {"relationId": "OWNS|bods:parent|bods:fermcat|2020-01-01", "share": 0.55,
         "sources": [{"publisher": "Companies House"}]},
        {"relationId": f"OWNS|lei:{P}|lei:{F}|2020-01-01", "share": 0.6, "sources": [{"publisher": "GLEIF"}]}]


def test_refused_links_are_reported_in_graphql_and_by_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a split, the LEI link it overrides is listed by `identityConflicts` and `corpgraph resolve`."""
    graph = _graph(tmp_path / "g.db", _gleif(), _bods())
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "g.db"))
    by_lei = CliRunner().invoke(app, ["resolve", "--split", "bods:fermcat", f"LEI:{F}"])
    assert by_lei.exit_code != 0 and "both name bods:fermcat" in by_lei.output  # the LEI names the merged entity
    split = CliRunner().invoke(app, ["resolve", "--split", "bods:fermcat", f"lei:{F}"])
    assert split.exit_code == 0, split.output
    listing = CliRunner().invoke(app, ["resolve"])
    assert f"apart  bods:fermcat  lei:{F}  (LEI:{F}: a split decision keeps bods:fermcat and lei:{F} apart)" in listing.output
    result = asyncio.run(make_schema(ApiSettings()).execute("{ identityConflicts { a b link reason } }",
                                                            context_value=make_context(graph, ApiSettings())))
    assert result.errors is None and result.data is not None
    assert result.data["identityConflicts"] == [
        {"a": "bods:fermcat", "b": f"lei:{F}", "link": f"LEI:{F}",
         "reason": f"a split decision keeps bods:fermcat and lei:{F} apart"}]
