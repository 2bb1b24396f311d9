"""Graph payloads for visualisation tools: Cytoscape.js elements, D3 node-link, GEXF (Gephi), GraphML (yEd).

JSON formats carry properties as they are. The XML formats only take scalars of one type per
attribute; a property that is not a scalar of one type across all nodes (or all edges) is written as
JSON text under the name `<key>.json`, so lists and nulls survive and `parse` restores them. In the
XML formats the relation type is the edge `label` (GEXF reserves an edge's `type` for directed/undirected).

Each format has one writer, a generator of text pieces over the nodes and then the edges (`iter_export`
joins them into blocks; `export` joins the blocks), so a large answer is never one string in memory.
The XML is written here rather than by networkx, whose writers build the whole document as a tree; it
declares attributes as networkx does, so networkx, Gephi (graphology) and yEd read it as before.
"""
from __future__ import annotations

import io
import json
import pickle
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from xml.sax.saxutils import escape, quoteattr

import networkx as nx

from corpgraph.schema.errors import UnknownFormat

from corpgraph.graph.analytics.results import Edge, Node, Subgraph

JSON_SUFFIX = ".json"
_SCALARS = (str, int, float, bool)
_XML_TYPES = {str: "string", int: "long", float: "double", bool: "boolean"}  # as networkx declares them
_TEXT = {"\r": "&#13;"}  # a raw carriage return in XML text is read back as a line feed
Kinds = dict[str, set[type]]  # property key -> the Python types of its values
BLOCK = 64 * 1024  # characters per block of a streamed export: few hand-overs between threads, little held


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
    return "".join(iter_export([subgraph], format)), media_type(format)


def media_type(format: str) -> str:
    """The media type of a format of FORMATS; UnknownFormat (naming the known ones) for other formats."""
    if format not in FORMATS:
        raise UnknownFormat(f"unknown export format {format!r}: use one of {', '.join(FORMATS)}")
    return FORMATS[format][1]


def iter_export(parts: Iterable[Subgraph], format: str, block: int = BLOCK) -> Iterator[str]:
    """The export of the union of these parts (nodes and edges by id, the first of each kept), as blocks of
    text of about `block` characters whose concatenation is the file: what `export` joins and a streamed
    answer sends. The writers read nodes, then edges (the XML formats first declare every attribute's
    type), so a one-shot iterator of parts (pages computed as they are read) is first read whole into a
    Spool on disk, never held in memory, yielding an empty block after each part: a caller can hand each
    part's computation to a worker under its own time budget, and every error of the computation comes
    before the first byte. An in-memory sequence of parts is read as it is.
    """
    media_type(format)
    writer = FORMATS[format][0]
    if isinstance(parts, Sequence):
        return _blocks(writer(InMemory(parts)), block)
    return _spooled(writer, parts, block)


def _spooled(writer: Writer, parts: Iterable[Subgraph], block: int) -> Iterator[str]:
    """The writer's blocks over a spool of the parts (read whole first, an empty block after each part); the
    spool is removed when the blocks end or are dropped."""
    with Spool() as spool:
        for part in parts:
            spool.add(part)
            yield ""
        yield from _blocks(writer(spool), block)


def _blocks(pieces: Iterable[str], size: int) -> Iterator[str]:
    """Pieces of text joined into blocks of at least `size` characters (the last one shorter)."""
    buffer: list[str] = []
    held = 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield "".join(buffer)


class Elements(Protocol):
    """What a writer reads: the distinct nodes, then the distinct edges, each as often as it needs."""

    def nodes(self) -> Iterator[Node]:
        """The nodes, each id once."""
        ...

    def edges(self) -> Iterator[Edge]:
        """The edges, each id once."""
        ...

    def kinds(self) -> tuple[Kinds, Kinds]:
        """The Python types of the nodes' and of the edges' property values, by key (the XML formats declare them)."""
        ...


@dataclass(frozen=True)
class InMemory:
    """Elements of parts held in memory (one subgraph, usually)."""

    parts: Sequence[Subgraph]

    def nodes(self) -> Iterator[Node]:
        """The parts' nodes, each id once (the first seen)."""
        return _distinct(node for part in self.parts for node in part.nodes)

    def edges(self) -> Iterator[Edge]:
        """The parts' edges, each id once (the first seen)."""
        return _distinct(edge for part in self.parts for edge in part.edges)

    def kinds(self) -> tuple[Kinds, Kinds]:
        """The types of the property values, read from the parts."""
        node_kinds: Kinds = {}
        edge_kinds: Kinds = {}
        for node in self.nodes():
            _add_kinds(node_kinds, node.properties)
        for edge in self.edges():
            _add_kinds(edge_kinds, edge.properties)
        return node_kinds, edge_kinds


class Spool:
    """Elements of parts added one at a time, kept in two temporary files (nodes, edges) rather than memory:
    each part's new nodes and edges are written down as it is added (the ids seen are all that is held),
    then read back as often as a writer needs. Pickle is safe here: the files are this object's own."""

    def __init__(self) -> None:
        self._files = {Node: tempfile.TemporaryFile(), Edge: tempfile.TemporaryFile()}
        self._seen: dict[type, set[str]] = {Node: set(), Edge: set()}
        self._batches = {Node: 0, Edge: 0}
        self._kinds: dict[type, Kinds] = {Node: {}, Edge: {}}  # noted as elements are added: no pass to read them

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        for file in self._files.values():
            file.close()

    def add(self, part: Subgraph) -> None:
        """Write down the part's nodes and edges not seen in an earlier part."""
        for kind, elements in ((Node, part.nodes), (Edge, part.edges)):
            seen, new = self._seen[kind], []
            for element in elements:
                if element.id not in seen:
                    seen.add(element.id)
                    _add_kinds(self._kinds[kind], element.properties)
                    new.append(tuple(vars(element).values()))  # the fields in order (dataclasses.astuple deep-copies)
            if new:
                pickle.dump(new, self._files[kind], protocol=pickle.HIGHEST_PROTOCOL)
                self._batches[kind] += 1

    def nodes(self) -> Iterator[Node]:
        """The nodes written down, in the order they came."""
        return (Node(*row) for row in self._read(Node))

    def edges(self) -> Iterator[Edge]:
        """The edges written down, in the order they came."""
        return (Edge(*row) for row in self._read(Edge))

    def kinds(self) -> tuple[Kinds, Kinds]:
        """The types of the property values, noted as the parts were added."""
        return self._kinds[Node], self._kinds[Edge]

    def _read(self, kind: type) -> Iterator[tuple[Any, ...]]:
        """The rows of one file, batch by batch (a writer reads one file at a time)."""
        file, batches = self._files[kind], self._batches[kind]
        file.flush()
        offset = 0
        for _ in range(batches):
            file.seek(offset)
            rows: list[tuple[Any, ...]] = pickle.load(file)
            offset = file.tell()
            yield from rows


def write_cytoscape(elements: Elements) -> Iterator[str]:
    """Cytoscape.js elements JSON: `{"elements": {"nodes": [{"data": ...}], "edges": [{"data": ...}]}}`."""
    yield '{"elements": {"nodes": ['
    yield from _json_list({"data": _node_fields(n)} for n in elements.nodes())
    yield '], "edges": ['
    yield from _json_list({"data": _edge_fields(e)} for e in elements.edges())
    yield "]}}"


def write_d3(elements: Elements) -> Iterator[str]:
    """D3 node-link JSON: `{"nodes": [...], "links": [{"source", "target", ...}]}` (networkx's `edges="links"`)."""
    yield '{"directed": true, "multigraph": true, "graph": {}, "nodes": ['
    yield from _json_list(_node_fields(n) for n in elements.nodes())
    yield '], "links": ['
    yield from _json_list({**_edge_fields(e), "key": e.id} for e in elements.edges())
    yield "]}"


def write_gexf(elements: Elements) -> Iterator[str]:
    """GEXF 1.2 for Gephi (as networkx writes it, so that networkx reads the edge keys back)."""
    nodes, edges = _attributes(elements)
    yield ('<?xml version="1.0" encoding="utf-8"?>\n<gexf xmlns="http://www.gexf.net/1.2draft" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.gexf.net/1.2draft '
           'http://www.gexf.net/1.2draft/gexf.xsd" version="1.2">\n'
           f'  <meta lastmodifieddate="{date.today().isoformat()}">\n    <creator>corpgraph</creator>\n  </meta>\n'
           '  <graph defaultedgetype="directed" mode="static" name="">\n')
    for kind, declared in (("node", nodes), ("edge", edges)):
        yield f'    <attributes mode="static" class="{kind}">\n'
        for key, (at, xml_type) in declared.items():
            yield f'      <attribute id="{at}" title={quoteattr(key)} type="{xml_type}" />\n'
        yield "    </attributes>\n"
    yield "    <nodes>\n"
    for node in elements.nodes():
        values = _xml_values(node.properties, nodes, {"type": node.type})
        yield f'      <node id={quoteattr(node.id)} label={quoteattr(node.label)}>\n{_attvalues(values)}      </node>\n'
    yield "    </nodes>\n    <edges>\n"
    for edge in elements.edges():
        values = _xml_values(edge.properties, edges, {"networkx_key": edge.id})
        yield (f'      <edge source={quoteattr(edge.source)} target={quoteattr(edge.target)} id={quoteattr(edge.id)} '
               f'label={quoteattr(edge.type)}>\n{_attvalues(values)}      </edge>\n')
    yield "    </edges>\n  </graph>\n</gexf>\n"


def write_graphml(elements: Elements) -> Iterator[str]:
    """GraphML for yEd and Cytoscape desktop; edge ids are relation ids."""
    nodes, edges = _attributes(elements, node_extra={"label": "string", "type": "string"},
                               edge_extra={"id": "string", "label": "string"})
    yield ('<?xml version="1.0" encoding="utf-8"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/'
           'xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n')
    for kind, declared in (("node", nodes), ("edge", edges)):
        for key, (at, xml_type) in declared.items():
            yield f'  <key id="d{at}" for="{kind}" attr.name={quoteattr(key)} attr.type="{xml_type}" />\n'
    yield '  <graph edgedefault="directed">\n'
    for node in elements.nodes():
        values = _xml_values(node.properties, nodes, {"label": node.label, "type": node.type})
        yield f"    <node id={quoteattr(node.id)}>\n{_data(values)}    </node>\n"
    for edge in elements.edges():
        values = _xml_values(edge.properties, edges, {"id": edge.id, "label": edge.type})
        yield (f"    <edge source={quoteattr(edge.source)} target={quoteattr(edge.target)} id={quoteattr(edge.id)}>\n"
               f"{_data(values)}    </edge>\n")
    yield "  </graph>\n</graphml>\n"


def to_graphml(subgraph: Subgraph) -> str:
    """GraphML of one in-memory subgraph (export(subgraph, "graphml") without the media type)."""
    return export(subgraph, "graphml")[0]


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


Writer = Callable[[Elements], Iterator[str]]
FORMATS: dict[str, tuple[Writer, str]] = {
    "cytoscape": (write_cytoscape, "application/json"),
    "d3": (write_d3, "application/json"),
    "gexf": (write_gexf, "application/gexf+xml"),
    "graphml": (write_graphml, "application/graphml+xml"),
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


Element = TypeVar("Element", Node, Edge)


def _distinct(elements: Iterable[Element]) -> Iterator[Element]:
    """The elements, each id once (the first seen); only the ids are held."""
    seen: set[str] = set()
    for element in elements:
        if element.id not in seen:
            seen.add(element.id)
            yield element


def _json_list(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The items as the inside of a JSON list, one piece each."""
    comma = ""
    for item in items:
        yield comma + json.dumps(item, ensure_ascii=False)
        comma = ", "


Declared = dict[str, tuple[str, str]]  # property key as written -> (XML attribute id, XML type)


def _attributes(elements: Elements, node_extra: dict[str, str] | None = None,
                edge_extra: dict[str, str] | None = None) -> tuple[Declared, Declared]:
    """The XML attributes of the nodes' and edges' properties, plus the structural
    ones given; a key that is not a scalar of one type everywhere is declared as `<key>.json`, a string."""
    node_kinds, edge_kinds = elements.kinds()
    node_types = {**_xml_types(node_kinds), **(node_extra or {"type": "string"})}
    edge_types = {**_xml_types(edge_kinds), **(edge_extra or {"networkx_key": "string"})}
    return _declared(node_types, 0), _declared(edge_types, len(node_types))


def _add_kinds(kinds: Kinds, properties: dict[str, Any]) -> None:
    """Note the Python type of each property value under its key."""
    for key, value in properties.items():
        kinds.setdefault(key, set()).add(type(value))


def _xml_types(kinds: Kinds) -> dict[str, str]:
    """Key as written (`<key>.json` for lists, dicts, None or mixed types) -> XML type, in first-seen order."""
    out: dict[str, str] = {}
    for key, seen in kinds.items():
        scalar = len(seen) == 1 and seen <= set(_SCALARS)
        out[key if scalar else key + JSON_SUFFIX] = _XML_TYPES[next(iter(seen))] if scalar else "string"
    return out


def _declared(types: dict[str, str], first: int) -> Declared:
    """Attribute ids d<n> (GraphML) or <n> (GEXF: only the number is used there) numbered from `first`."""
    return {key: (str(first + k), xml_type) for k, (key, xml_type) in enumerate(types.items())}


def _xml_values(properties: dict[str, Any], declared: Declared, structural: dict[str, str]) -> list[tuple[str, str]]:
    """(attribute id, text) of a node's or edge's values: JSON text under `<key>.json` where declared so,
    booleans as `true`/`false`, the structural values last (they win over properties of the same name)."""
    out = []
    for key, value in properties.items():
        if key in structural:
            continue
        if key in declared:
            out.append((declared[key][0], str(value).lower() if isinstance(value, bool) else str(value)))
        else:
            out.append((declared[key + JSON_SUFFIX][0], json.dumps(value, ensure_ascii=False)))
    out.extend((declared[key][0], value) for key, value in structural.items())
    return out


def _data(values: list[tuple[str, str]]) -> str:
    """GraphML `<data>` elements of these values."""
    return "".join(f'      <data key="d{at}">{escape(text, _TEXT)}</data>\n' for at, text in values)


def _attvalues(values: list[tuple[str, str]]) -> str:
    """A GEXF `<attvalues>` element of these values."""
    inner = "".join(f'          <attvalue for="{at}" value={quoteattr(text)} />\n' for at, text in values)
    return f"        <attvalues>\n{inner}        </attvalues>\n"


def _decode(attributes: dict[str, Any]) -> dict[str, Any]:
    """XML attributes back to properties: `<key>.json` decoded, networkx's own bookkeeping dropped."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if key.endswith(JSON_SUFFIX):
            out[key.removesuffix(JSON_SUFFIX)] = json.loads(value)
        elif key != "networkx_key":
            out[key] = value
    return out
