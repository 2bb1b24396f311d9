"""Graph exports: every format parses back (networkx, an XML parser, json) with the same nodes, edges and values."""
from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpgraph.graph.analytics.results import Edge, Node, Subgraph
from corpgraph.graph.exports import FORMATS, export, parse
from corpgraph.schema.errors import CorpgraphError

# Lists, nulls, nested objects, a key whose type differs between nodes, non-Latin text and big ints.
SAMPLE = Subgraph(
    nodes=[
        Node("lakala", "Company", "Lakala", {"aliases": ["拉卡拉", "라카라"], "country": "CN", "rank": 3}),
        Node("kaola", "Company", "Kaola Credit", {"aliases": [], "country": None, "rank": 2.5}),
        Node("leak", "Incident", "Kaola leak", {"records_affected": 100_000_000, "amounts": [{"value": 38e6}]}),
    ],
    edges=[
        Edge("OWNS|lakala|kaola|", "lakala", "kaola", "OWNS", {"share": 0.324, "valid_from": None}),
        Edge("OWNS|lakala|kaola|2020-01-01", "lakala", "kaola", "OWNS", {"share": 0.5, "valid_from": "2020-01-01"}),
        Edge("RESPONSIBLE_FOR|kaola|leak|x", "kaola", "leak", "RESPONSIBLE_FOR", {"role": "data_controller"}),
    ],
)
NODE_IDS = {"lakala", "kaola", "leak"}
EDGE_IDS = {e.id for e in SAMPLE.edges}


@pytest.mark.parametrize("format", sorted(FORMATS))
def test_round_trip_keeps_every_value(format: str) -> None:
    text, _ = export(SAMPLE, format)
    assert _canonical(parse(text, format)) == _canonical(SAMPLE)


def test_cytoscape_shape() -> None:
    data = json.loads(export(SAMPLE, "cytoscape")[0])
    assert {n["data"]["id"] for n in data["elements"]["nodes"]} == NODE_IDS
    edge = next(e["data"] for e in data["elements"]["edges"] if e["data"]["id"] == "OWNS|lakala|kaola|")
    assert (edge["source"], edge["target"], edge["type"], edge["share"]) == ("lakala", "kaola", "OWNS", 0.324)
    assert edge["valid_from"] is None


def test_d3_is_networkx_node_link_with_links() -> None:
    graph = nx.node_link_graph(json.loads(export(SAMPLE, "d3")[0]), edges="links")
    assert set(graph.nodes) == NODE_IDS
    assert {d["id"] for _, _, d in graph.edges(data=True)} == EDGE_IDS
    assert graph.nodes["lakala"]["aliases"] == ["拉卡拉", "라카라"]


@pytest.mark.parametrize("format,reader", [("gexf", nx.read_gexf), ("graphml", nx.read_graphml)])
def test_xml_formats_read_by_networkx(format: str, reader: Any) -> None:
    graph = reader(io.BytesIO(export(SAMPLE, format)[0].encode()))
    assert set(graph.nodes) == NODE_IDS
    assert {(s, t, d["id"], d["label"]) for s, t, d in graph.edges(data=True)} == \
        {(e.source, e.target, e.id, e.type) for e in SAMPLE.edges}
    # Lists, nulls and mixed-type keys travel as JSON text under `<key>.json`; clean scalars stay typed.
    assert json.loads(graph.nodes["lakala"]["aliases.json"]) == ["拉卡拉", "라카라"]
    assert json.loads(graph.nodes["kaola"]["country.json"]) is None
    assert json.loads(graph.nodes["kaola"]["rank.json"]) == 2.5
    assert graph.nodes["leak"]["records_affected"] == 100_000_000


def test_graphml_by_a_plain_xml_parser() -> None:
    root = ET.fromstring(export(SAMPLE, "graphml")[0])
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert {n.get("id") for n in root.iterfind(".//g:node", ns)} == NODE_IDS
    assert {e.get("id") for e in root.iterfind(".//g:edge", ns)} == EDGE_IDS


def test_gexf_by_a_plain_xml_parser() -> None:
    root = ET.fromstring(export(SAMPLE, "gexf")[0])
    ns = {"x": "http://www.gexf.net/1.2draft"}
    assert {n.get("id") for n in root.iterfind(".//x:node", ns)} == NODE_IDS
    assert {(e.get("id"), e.get("label")) for e in root.iterfind(".//x:edge", ns)} == \
        {(e.id, e.type) for e in SAMPLE.edges}


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(CorpgraphError, match="use one of cytoscape, d3, gexf, graphml"):
        export(SAMPLE, "dot")


_KEYS = st.sampled_from(["a", "b", "note", "share"])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=2),
    max_leaves=4,
)
_PROPS = st.dictionaries(_KEYS, _VALUES, max_size=3)


@st.composite
def _subgraphs(draw: st.DrawFn) -> Subgraph:
    ids = draw(st.lists(st.sampled_from(["n1", "n2", "n3", "n4"]), min_size=1, max_size=4, unique=True))
    nodes = [Node(i, "Company", draw(st.text(min_size=1, max_size=5).filter(str.isprintable)), draw(_PROPS))
             for i in ids]
    pairs = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=4))
    edges = [Edge(f"R|{s}|{t}|{k}", s, t, "OWNS", draw(_PROPS)) for k, (s, t) in enumerate(pairs)]
    return Subgraph(nodes, edges)


@settings(max_examples=40, deadline=None)
@given(_subgraphs(), st.sampled_from(sorted(FORMATS)))
def test_round_trip_of_any_properties(subgraph: Subgraph, format: str) -> None:
    assert _canonical(parse(export(subgraph, format)[0], format)) == _canonical(subgraph)


def _canonical(graph: Subgraph) -> tuple[list[Any], list[Any]]:
    """Nodes and edges in id order, with properties as comparable JSON."""
    nodes = sorted((n.id, n.type, n.label, json.dumps(n.properties, sort_keys=True)) for n in graph.nodes)
    edges = sorted((e.id, e.source, e.target, e.type, json.dumps(e.properties, sort_keys=True)) for e in graph.edges)
    return nodes, edges
