"""GET /export/{format} and `corpgraph export`: which subgraph a request asks for, as parts, and its streamed answer.

An exposure is exported a page of items at a time (graph.analytics.exposure: first/after), each page's nodes
and edges written as it comes, so a holder of 10^5 companies never has every item's explained paths in
memory at once (issue 22). The writers (graph/exports.py) spool the pages to disk, then send the text in
blocks: every page is computed in the heavy lane under the request time budget, one job per page, and an
error in any page comes before the first byte, as the project's JSON error.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from starlette.responses import StreamingResponse

from corpgraph.graph.analytics.results import Channel, Subgraph
from corpgraph.graph.exports import export_file_name, iter_export, media_type
from corpgraph.graph.service import CorpGraph
from corpgraph.schema.errors import InvalidArgument
from corpgraph.schema.kinds import RelationType

from corpgraph.api.lanes import Lane, Lanes
from corpgraph.api.settings import ApiSettings

QUERIES = ("neighborhood", "liability", "exposure")
# Items per page of an exposure export: a page's paths and subgraph are what is held at once (~+40 MB for the
# largest holder of a 200k world); the search, the ranking of every item and the path guide are made once for all
# pages (benchmarks/export_stream.py).
EXPOSURE_PAGE = 1000


@dataclass(frozen=True)
class ExportRequest:
    """Which subgraph to export: a query name, an id, and that query's optional arguments."""

    query: str
    id: str
    as_of: date | None = None
    depth: int | None = None
    max_depth: int | None = None
    min_share: float | None = None
    channels: tuple[Channel, ...] | None = None
    relation_types: tuple[RelationType, ...] | None = None
    max_owners: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str | None]) -> "ExportRequest":
        """Parse URL query parameters (camelCase, as in GraphQL; lists comma-separated); clear errors on bad values."""
        query, id = params.get("query") or "neighborhood", params.get("id")
        if query not in QUERIES:
            raise InvalidArgument(f"unknown query {query!r}: use one of {', '.join(QUERIES)}")
        if not id:
            raise InvalidArgument("the parameter id is required (an entity id; find one with the search query)")
        return cls(query, id, _parse(params, "asOf", date.fromisoformat), _parse(params, "depth", int),
                   _parse(params, "maxDepth", int), _parse(params, "minShare", float),
                   _parse(params, "channels", lambda v: _names(Channel, v)),
                   _parse(params, "relationTypes", lambda v: _names(RelationType, v)),
                   _parse(params, "maxOwners", int))


def _attachment(req: ExportRequest, format: str) -> str:
    """Content-Disposition of an export: saved as `<view>-<id>-<date>.<ext>` (the date asked, else today), with
    an ASCII name for old clients and the UTF-8 one (RFC 6266) for ids in other scripts."""
    name = export_file_name(req.query, req.id, req.as_of or date.today(), format)
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def export_parts(graph: CorpGraph, settings: ApiSettings, req: ExportRequest,
                 page: int | None = None) -> tuple[Iterable[Subgraph], int]:
    """The parts of one query's answer and its "more nodes" count, with the same bounds as the GraphQL fields
    (ApiSettings.*_args): a neighbourhood or liability chain whole, an exposure as lazy pages of `page` items
    (default EXPOSURE_PAGE)."""
    if req.query == "neighborhood":
        around = graph.neighborhood(req.id, relation_types=req.relation_types, **settings.neighborhood_args(req.depth))
        return [around], around.more_nodes
    if req.query == "liability":
        chain = graph.liability_chain(req.id, req.as_of, bounds=False,
                                      **settings.liability_args(req.max_depth, req.min_share, req.max_owners))
        return [chain.graph], chain.graph.more_nodes
    return exposure_pages(graph, settings, req, page or EXPOSURE_PAGE), 0


def exposure_pages(graph: CorpGraph, settings: ApiSettings, req: ExportRequest, page: int) -> Iterator[Subgraph]:
    """The subgraphs of an exposure's items, `page` items at a time in rank order (every item, no share
    bounds), each without the nodes and edges of the pages before; their union is the whole exposure's
    subgraph. The first page is computed on the first read, with the search and ranking every later page reads
    (CorpGraph.exposure_graphs)."""
    args = settings.exposure_args(req.max_depth, whole=True)
    channels = list(req.channels) if req.channels else None
    return graph.exposure_graphs(req.id, req.as_of, channels=channels, max_depth=args["max_depth"], bounds=False,
                                 size=page)


async def export_response(lanes: Lanes, deadline: Callable[[], float], graph: CorpGraph, settings: ApiSettings,
                          format: str, params: Mapping[str, str | None]) -> StreamingResponse:
    """The streamed answer of GET /export/{format}: the parts computed (each block in the heavy lane, under a
    deadline of its own) until the first byte, then the text in blocks; errors until then raise."""
    kind = media_type(format)
    req = ExportRequest.from_params(params)
    parts, more = await lanes.run(Lane.HEAVY, deadline(), export_parts, graph, settings, req)
    blocks = iter_export(parts, format)
    first: str | None = ""
    while first == "":  # an empty block: one part computed; the analytics are synchronous, never on the event loop
        first = await lanes.run(Lane.HEAVY, deadline(), next, blocks, None)
    # The "N more" marker of a capped neighbourhood, outside the file so every format carries it.
    return StreamingResponse(_rest(lanes, deadline, first or "", blocks), media_type=kind,
                             headers={"X-Corpgraph-More-Nodes": str(more), "Content-Disposition": _attachment(req, format)})


def _parse(params: Mapping[str, str | None], name: str, convert: Any) -> Any:
    """One optional parameter converted, or an InvalidArgument naming it and the bad value."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return convert(raw)
    except (ValueError, KeyError):
        raise InvalidArgument(f"bad value for {name}: {raw!r}") from None


def _names(enum: Any, text: str) -> tuple[Any, ...]:
    """Comma-separated enum member names (as GraphQL spells them) into members."""
    return tuple(enum[part.strip()] for part in text.split(",") if part.strip())


async def _rest(lanes: Lanes, deadline: Callable[[], float], first: str, blocks: Iterator[str]) -> AsyncIterator[str]:
    """The first block, then the others as the client reads them; the spool is removed at the end."""
    yield first
    try:
        while (block := await lanes.run(Lane.HEAVY, deadline(), next, blocks, None)) is not None:
            yield block
    finally:
        _close(blocks)


def _close(blocks: Iterator[str]) -> None:
    """Close a generator of blocks unless a worker is still in it (abandoned at its deadline: it ends there)."""
    try:
        getattr(blocks, "close", lambda: None)()
    except ValueError:  # "generator already executing": the worker's next step raises TimedOut and closes it
        pass
