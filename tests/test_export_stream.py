"""A large exposure's export streams (issue 22): pages of items, each page's nodes and edges written as they come,
the same file content as the whole answer built in memory, from the writers, the HTTP route and the CLI."""
from __future__ import annotations

import json
import subprocess
import time
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from typer.testing import CliRunner

from corpgraph.api import exporting
from corpgraph.api.app import create_app
from corpgraph.api.cli import app as cli
from corpgraph.api.exporting import ExportRequest, exposure_pages
from corpgraph.api.settings import ApiSettings
from corpgraph.graph import budget
from corpgraph.graph.analytics import exposure as exposure_
from corpgraph.graph.analytics import ownership
from corpgraph.graph.analytics.paths import PathFinder
from corpgraph.graph.analytics.results import Edge, Node, Subgraph
from corpgraph.graph.exports import FORMATS, export, iter_export, parse
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.graph.write.ingest import ingest
from tests.factory import batch, company, entity, owns, rel

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2024, 6, 1)
# P holds 50% of A1, 30% of A2, 20% of A3; A1 holds 60% of B. Each company is responsible for an incident of
# 100, 200, 300 and 1,000 records; HIT (no records) affected A2. Items, ranked by weight x records (a record-less
# incident by its weight): IB 0.3 x 1000 = 300; I2 0.3 x 200 = 60 and I3 0.2 x 300 = 60 (the heavier first);
# I1 0.5 x 100 = 50; HIT 0.3. Pages of 2: [IB, I2], [I3, I1], [HIT]. Z and FAR are not tied to P.
NODES = {"p", "a1", "a2", "a3", "b", "i1", "i2", "i3", "ib", "hit"}
EDGES = {("p", "a1", "OWNS"), ("p", "a2", "OWNS"), ("p", "a3", "OWNS"), ("a1", "b", "OWNS"),
         ("a1", "i1", "RESPONSIBLE_FOR"), ("a2", "i2", "RESPONSIBLE_FOR"), ("a3", "i3", "RESPONSIBLE_FOR"),
         ("b", "ib", "RESPONSIBLE_FOR"), ("hit", "a2", "AFFECTED")}


@pytest.fixture
def world(tmp_store: SqliteStore) -> CorpGraph:
    """The hand-made world above."""
    ingest(tmp_store, batch(
        *(company(c) for c in ("p", "a1", "a2", "a3", "b", "z")),
        *(entity("Incident", i, category="data_leak", records_affected=n)
          for i, n in (("i1", 100), ("i2", 200), ("i3", 300), ("ib", 1000), ("far", 5))),
        entity("Incident", "hit", category="outage"),
        owns("p", "a1", 0.5), owns("p", "a2", 0.3), owns("p", "a3", 0.2), owns("a1", "b", 0.6),
        rel("RESPONSIBLE_FOR", "a1", "i1"), rel("RESPONSIBLE_FOR", "a2", "i2"), rel("RESPONSIBLE_FOR", "a3", "i3"),
        rel("RESPONSIBLE_FOR", "b", "ib"), rel("AFFECTED", "hit", "a2"), rel("RESPONSIBLE_FOR", "z", "far"),
    ))
    return CorpGraph(tmp_store)


def _whole(graph: CorpGraph) -> Subgraph:
    """The exposure's subgraph as one answer in memory (every item at once), as the export was built before."""
    return graph.exposure("p", DAY, bounds=False, first=None).graph


def _pages(graph: CorpGraph) -> Iterator[Subgraph]:
    """The exposure's subgraph in pages of 2 items, as the export reads it."""
    return exposure_pages(graph, ApiSettings(), ExportRequest("exposure", "p", DAY), page=2)


def test_pages_are_three_and_carry_each_node_and_edge_once(world: CorpGraph) -> None:
    # [IB, I2]: P -> A1 -> B -> IB and P -> A2 -> I2. [I3, I1]: P -> A3 -> I3 and P -> A1 -> I1, where P, A1 and
    # P -> A1 came with the first page. [HIT]: HIT -> A2 beside P -> A2, both of whose ends came before.
    pages = list(_pages(world))
    assert [{n.id for n in page.nodes} for page in pages] == [{"p", "a1", "b", "ib", "a2", "i2"}, {"a3", "i3", "i1"},
                                                              {"hit"}]
    assert [{(e.source, e.target) for e in page.edges} for page in pages] == [
        {("p", "a1"), ("a1", "b"), ("b", "ib"), ("p", "a2"), ("a2", "i2")}, {("p", "a3"), ("a3", "i3"), ("a1", "i1")},
        {("hit", "a2")}]


def test_pages_of_merged_entities_are_the_whole_answer(world: CorpGraph) -> None:
    # A2X, responsible for I4 (400 records), is A2 under another id: once merged, P is exposed to I4 through A2
    # at 0.3 (120, second after IB's 300), and the pages' union is still the whole answer, each id once.
    ingest(world.store, batch(company("a2x"), entity("Incident", "i4", category="data_leak", records_affected=400),
                              rel("RESPONSIBLE_FOR", "a2x", "i4")))
    world.merge("a2", "a2x", by="test")
    pages = list(_pages(world))
    streamed = [n.id for page in pages for n in page.nodes], [e.id for page in pages for e in page.edges]
    assert len(set(streamed[0])) == len(streamed[0]) and len(set(streamed[1])) == len(streamed[1])
    assert _canonical(Subgraph([n for page in pages for n in page.nodes], [e for page in pages for e in page.edges])) \
        == _canonical(_whole(world))
    assert "i4" in {n.id for n in pages[0].nodes}


@pytest.mark.parametrize("size", [1, 2, 5])
def test_facade_pages_are_the_cursor_pages(world: CorpGraph, size: int) -> None:
    # Every page as exposure(first, after=the last cursor) gives it: the hand-ranked order IB, I2, I3, I1, HIT, in
    # pages of `size`; a full last page (5 of 5) is followed by an empty one, as the cursor loop ends.
    pages = list(world.exposure_pages("p", DAY, bounds=False, size=size))
    after, by_cursor = None, []
    while True:
        answer = world.exposure("p", DAY, bounds=False, first=size, after=after)
        by_cursor.append(answer)
        if len(answer.items) < size:
            break
        after = answer.items[-1].cursor
    assert [[i.incident for i in page.items] for page in pages] == [[i.incident for i in page.items] for page in by_cursor]
    assert [i.incident for page in pages for i in page.items] == ["ib", "i2", "i3", "i1", "hit"]
    assert len(pages) == {1: 6, 2: 3, 5: 2}[size]
    for mine, theirs in zip(pages, by_cursor):
        assert (mine.items, mine.totals, mine.count) == (theirs.items, theirs.totals, 5)
        assert _canonical(mine.graph) == _canonical(theirs.graph)


def test_pages_search_and_guide_once(world: CorpGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    solve, guide = ownership.row, PathFinder

    def row(*args: Any) -> Any:
        made.append("row")
        return solve(*args)

    def finder(*args: Any, **kwargs: Any) -> Any:
        made.append("guide")
        return guide(*args, **kwargs)

    monkeypatch.setattr(ownership, "row", row)
    monkeypatch.setattr(exposure_, "PathFinder", finder)
    assert len(list(_pages(world))) == 3
    assert made == ["row", "guide"]  # one solve and one path guide for the three pages


@pytest.mark.parametrize("format", sorted(FORMATS))
def test_streamed_export_equals_the_whole_answer(world: CorpGraph, format: str) -> None:
    streamed = parse("".join(iter_export(_pages(world), format)), format)
    whole = parse(export(_whole(world), format)[0], format)
    assert _canonical(streamed) == _canonical(whole)
    assert [n.id for n in streamed.nodes if n.id == "p"] == ["p"]  # de-duplicated across pages
    assert {n.id for n in streamed.nodes} == NODES
    assert {(e.source, e.target, e.type) for e in streamed.edges} == EDGES


@pytest.mark.parametrize("format", ["d3", "gexf"])
def test_streamed_file_opens_in_the_tools_library(world: CorpGraph, format: str, tmp_path: Path) -> None:
    path = tmp_path / f"exposure.{format}"
    with path.open("w", encoding="utf-8") as file:
        for block in iter_export(_pages(world), format, block=64):
            file.write(block)
    done = subprocess.run(["node", str(ROOT / "tools" / "read_export.mjs"), format, str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == NODES


def test_streamed_graphml_read_by_networkx(world: CorpGraph, tmp_path: Path) -> None:
    path = tmp_path / "exposure.graphml"
    path.write_text("".join(iter_export(_pages(world), "graphml")), encoding="utf-8")
    graph = nx.read_graphml(path)
    assert set(graph.nodes) == NODES
    assert {(s, t, d["label"]) for s, t, d in graph.edges(data=True)} == EDGES
    assert graph.nodes["i2"]["records_affected"] == 200  # a clean integer stays typed


def test_blocks_join_into_the_export() -> None:
    sample = Subgraph([Node(f"n{k}", "Company", f"N{k}", {"rank": k}) for k in range(20)],
                      [Edge(f"e{k}", f"n{k}", f"n{k + 1}", "OWNS", {"share": 0.5}) for k in range(19)])
    blocks = list(iter_export(iter([sample]), "graphml", block=100))
    assert blocks[0] == ""  # the one part read into the spool: a hand-over before any text
    text = blocks[1:]
    assert len(text) > 1 and all(len(b) >= 100 for b in text[:-1]) and 0 < len(text[-1])
    assert "".join(blocks) == export(sample, "graphml")[0]


@pytest.mark.parametrize("format", ["gexf", "graphml"])
def test_a_key_of_two_types_in_two_parts_is_json_text(format: str) -> None:
    # "rank" is an int in the first part and a float in the second: only JSON text holds both (the module's rule).
    first = Subgraph([Node("a", "Company", "A", {"rank": 3}), Node("b", "Company", "B", {"rank": 4})])
    second = Subgraph([Node("b", "Company", "B", {"rank": 4}), Node("c", "Company", "C", {"rank": 2.5})])
    streamed = "".join(iter_export(iter([first, second]), format))
    assert "rank.json" in streamed
    graph = parse(streamed, format)
    assert {n.id: n.properties["rank"] for n in graph.nodes} == {"a": 3, "b": 4, "c": 2.5}


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exposure exports in pages of 2 items (the route and the CLI read EXPOSURE_PAGE on each export)."""
    monkeypatch.setattr(exporting, "EXPOSURE_PAGE", 2)


@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize("format", ["cytoscape", "graphml"])
def test_route_streams_the_exposure(world: CorpGraph, format: str) -> None:
    with TestClient(create_app(store=world.store)) as client:
        with client.stream("GET", f"/export/{format}", params={"query": "exposure", "id": "p", "asOf": "2024-06-01"}) \
                as response:
            assert response.status_code == 200
            assert "content-length" not in response.headers  # streamed: its size is not known up front
            assert response.headers["x-corpgraph-more-nodes"] == "0"
            assert "exposure-p-2024-06-01." in response.headers["content-disposition"]
            text = "".join(response.iter_text())
    assert _canonical(parse(text, format)) == _canonical(parse(export(_whole(world), format)[0], format))


@pytest.mark.usefixtures("small_pages")
def test_route_unknown_id_is_still_a_json_error(world: CorpGraph) -> None:
    with TestClient(create_app(store=world.store)) as client:
        response = client.get("/export/graphml", params={"query": "exposure", "id": "nope"})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND" and "with id 'nope'; search for the entity" in response.json()["error"]


@pytest.mark.parametrize("pages,status", [
    ([0.4, 0.4, 0.4, 0.4], 200),  # 1.6 s in all, more than the budget of 1 s: each page has a budget of its own
    ([0.4, 1.6], 503),  # one page past its budget, before any byte was sent: the JSON error, not half a file
])
def test_each_page_runs_under_its_own_time_budget(world: CorpGraph, monkeypatch: pytest.MonkeyPatch,
                                                 pages: list[float], status: int) -> None:
    def timed_pages(*args: Any) -> Iterator[Subgraph]:
        """Pages that take these seconds, each checking the budget of the worker thread it runs on."""
        for seconds in pages:
            time.sleep(seconds)
            budget.check()
            yield Subgraph([Node("p", "Company", "P")])

    monkeypatch.setattr(exporting, "exposure_pages", timed_pages)
    with TestClient(create_app(store=world.store, settings=ApiSettings(time_budget=1.0))) as client:
        response = client.get("/export/d3", params={"query": "exposure", "id": "p"})
    assert response.status_code == status
    if status == 503:
        assert response.json()["code"] == "TIMEOUT"
    else:
        assert [n["id"] for n in response.json()["nodes"]] == ["p"]


@pytest.mark.usefixtures("small_pages")
def test_cli_writes_the_streamed_file(world: CorpGraph, tmp_path: Path) -> None:
    db = tmp_path / "corpgraph.db"  # tmp_store's file
    out = tmp_path / "exposure.graphml"
    result = CliRunner().invoke(cli, ["export", "graphml", "--query", "exposure", "--id", "p", "--as-of", "2024-06-01",
                                      "--db", str(db), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _canonical(parse(out.read_text(encoding="utf-8"), "graphml")) == \
        _canonical(parse(export(_whole(world), "graphml")[0], "graphml"))
    missing = CliRunner().invoke(cli, ["export", "graphml", "--query", "exposure", "--id", "nope", "--db", str(db),
                                       "-o", str(tmp_path / "nope.graphml")])
    assert missing.exit_code == 1 and "with id 'nope'; search for the entity" in missing.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if "nope" in p.name) == []  # no file, not even a partial one


def _canonical(graph: Subgraph) -> tuple[list[Any], list[Any]]:
    """Nodes and edges in id order, with properties as comparable JSON."""
    nodes = sorted((n.id, n.type, n.label, json.dumps(n.properties, sort_keys=True)) for n in graph.nodes)
    edges = sorted((e.id, e.source, e.target, e.type, json.dumps(e.properties, sort_keys=True)) for e in graph.edges)
    return nodes, edges

