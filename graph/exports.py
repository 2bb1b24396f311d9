"""Graph payloads for visualisation tools: Cytoscape.js elements, D3 node-link, GEXF (Gephi), GraphML (yEd).

JSON formats carry properties as they are. The XML formats only take scalars of one type per
attribute, and networkx's writers reject lists, dicts and None; a property that is not a scalar of
one type across all nodes (or all edges) is written as JSON text under the name `<key>.json`, so
lists and nulls survive and `parse` restores them. In the XML formats the relation type is the
edge `label` (GEXF reserves an edge's `type` for directed/undirected).
"""
from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import networkx as nx

from corpgraph.schema.errors import UnknownFormat

from corpgraph.graph.analytics.results import Edge, Node, Subgraph

JSON_SUFFIX = ".json"
_SCALARS = (str, int, float, bool)


# The file extension of each format: `.cyjs` is what Cytoscape desktop reads as Cytoscape.js JSON.
EXTENSIONS = {"cytoscape": "cyjs", "d3": "json", "gexf": "gexf", "graphml": "graphml"}
_UNSAFE_IN_NAMES = re.compile(r"[^\w.-]+")


def export_file_name(view: str, id: str, day: date, format: str) -> str:
    """The name an export is saved under: `<view>-<id>-<date>.<ext>`, the id's characters outside letters,
    digits, `.`, `_` and `-` made `_` (ids such as `stix:identity--x` or `bods:a/b` are not file names)."""
    safe = _UNSAFE_IN_NAMES.sub("_", id)
    return f"{view}-{safe}-{day.isoformat()}.{EXTENSIONS.get(format, format)}"


def export(subgraph: Subgraph, format: str) -> tuple[str, str]:
    """The subgraph as text in a format of FORMATS, with its media type; CorpgraphError for other formats."""
    writer, media_type = FORMATS.get(format, (None, ""))
    if writer is None:
        raise UnknownFormat(f"unknown export format {format!r}: use one of {', '.join(FORMATS)}")
    return writer(subgraph), media_type


def to_cytoscape(subgraph: Subgraph) -> str:
    """Cytoscape.js elements JSON: `{"elements": {"nodes": [{"data": ...}], "edges": [{"data": ...}]}}`."""
    elements = {
        "nodes": [{"data": _node_fields(n)} for n in subgraph.nodes],
        "edges": [{"data": _edge_fields(e)} for e in subgraph.edges],
    }
    return json.dumps({"elements": elements}, ensure_ascii=False)


def to_d3(subgraph: Subgraph) -> str:
    """D3 node-link JSON: `{"nodes": [...], "links": [{"source", "target", ...}]}` (networkx's `edges="links"`)."""
    data = {
        "directed": True,
        "multigraph": True,
        "graph": {},
        "nodes": [_node_fields(n) for n in subgraph.nodes],
        "links": [{**_edge_fields(e), "key": e.id} for e in subgraph.edges],
    }
    return json.dumps(data, ensure_ascii=False)


def to_gexf(subgraph: Subgraph) -> str:
    """GEXF 1.2 for Gephi."""
    return "\n".join(nx.generate_gexf(to_networkx(subgraph)))


def to_graphml(subgraph: Subgraph) -> str:
    """GraphML for yEd and Cytoscape desktop; edge ids are relation ids."""
    return "\n".join(nx.generate_graphml(to_networkx(subgraph), edge_id_from_attribute="id"))


def to_networkx(subgraph: Subgraph) -> nx.MultiDiGraph:
    """A MultiDiGraph keyed by relation id whose attributes XML writers accept (see the module docstring)."""
    graph = nx.MultiDiGraph()
    node_json = _needs_json([n.properties for n in subgraph.nodes])
    edge_json = _needs_json([e.properties for e in subgraph.edges])
    for node in subgraph.nodes:
        graph.add_node(node.id, **_encode(node.properties, node_json), label=node.label, type=node.type)
    for edge in subgraph.edges:
        graph.add_edge(edge.source, edge.target, key=edge.id,
                       **_encode(edge.properties, edge_json), id=edge.id, label=edge.type)
    return graph


def parse(text: str, format: str) -> Subgraph:
    """Read an export of this module back into a Subgraph (the inverse of `export`)."""
    if format in ("cytoscape", "d3"):
        data = json.loads(text)
        if format == "cytoscape":
            nodes = [n["data"] for n in data["elements"]["nodes"]]
            return _from_rows(nodes, [e["data"] for e in data["elements"]["edges"]])
        return _from_rows(data["nodes"], [{k: v for k, v in e.items() if k != "key"} for e in data["links"]])
    reader = nx.read_gexf if format == "gexf" else nx.read_graphml
    graph = reader(io.BytesIO(text.encode()))
    nodes = [{**_decode(d), "id": n} for n, d in graph.nodes(data=True)]
    edges = [{**_decode(d), "source": s, "target": t, "type": d["label"]} for s, t, d in graph.edges(data=True)]
    for row in edges:
        row.pop("label")
    return _from_rows(nodes, edges)


FORMATS: dict[str, tuple[Callable[[Subgraph], str], str]] = {
    "cytoscape": (to_cytoscape, "application/json"),
    "d3": (to_d3, "application/json"),
    "gexf": (to_gexf, "application/gexf+xml"),
    "graphml": (to_graphml, "application/graphml+xml"),
}


def _node_fields(node: Node) -> dict[str, Any]:
    """A node as one flat mapping; the structural keys win over properties of the same name."""
    return {**node.properties, "id": node.id, "label": node.label, "type": node.type}


def _edge_fields(edge: Edge) -> dict[str, Any]:
    """An edge as one flat mapping; the structural keys win over properties of the same name."""
    return {**edge.properties, "id": edge.id, "source": edge.source, "target": edge.target, "type": edge.type}


def _from_rows(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Subgraph:
    """A Subgraph from flat node and edge mappings (the JSON formats' shape)."""
    out = Subgraph()
    for row in nodes:
        props = {k: v for k, v in row.items() if k not in ("id", "label", "type")}
        out.nodes.append(Node(row["id"], row["type"], row["label"], props))
    for row in edges:
        props = {k: v for k, v in row.items() if k not in ("id", "source", "target", "type")}
        out.edges.append(Edge(row["id"], row["source"], row["target"], row["type"], props))
    return out


def _needs_json(rows: list[dict[str, Any]]) -> set[str]:
    """Keys whose values are not all scalars of one Python type (lists, dicts, None, or mixed types)."""
    kinds: dict[str, set[type]] = {}
    for row in rows:
        for key, value in row.items():
            kinds.setdefault(key, set()).add(type(value))
    return {key for key, seen in kinds.items() if len(seen) != 1 or not seen <= set(_SCALARS)}


def _encode(properties: dict[str, Any], as_json: set[str]) -> dict[str, Any]:
    """Properties with the keys in `as_json` renamed `<key>.json` and written as JSON text."""
    return {
        (key + JSON_SUFFIX if key in as_json else key): (json.dumps(value, ensure_ascii=False) if key in as_json else value)
        for key, value in properties.items()
    }


def _decode(attributes: dict[str, Any]) -> dict[str, Any]:
    """XML attributes back to properties: `<key>.json` decoded, networkx's own bookkeeping dropped."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if key.endswith(JSON_SUFFIX):
            out[key.removesuffix(JSON_SUFFIX)] = json.loads(value)
        elif key != "networkx_key":
            out[key] = value
    return out
