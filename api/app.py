"""The ASGI app: GraphQL (with GraphiQL on GET), /healthz and /export/{format}, CORS as configured."""
from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.exceptions import HTTPException as HTTPError
from starlette.types import Receive, Scope, Send
from cross_web import HTTPException  # the refusal strawberry raises (its dependency; strawberry.asgi answers it in plain text)
from starlette.staticfiles import StaticFiles
from graphql import GraphQLError
from strawberry.asgi import GraphQL
from strawberry.http.parse_content_type import parse_content_type
from strawberry.types import ExecutionResult

from corpgraph.graph.gc_policy import return_large_blocks
from corpgraph.graph.service import CorpGraph, RebuildHooks
from corpgraph.graph.projection.snapshot import snapshots_for
from corpgraph.graph.stores.base import GraphStore
from corpgraph.graph.stores.factory import open_store
from corpgraph.schema.errors import CorpgraphError, StoreError, TimedOut

from corpgraph.api.context import Context, Unauthorized, make_context
from corpgraph.api.document_guard import lane_of, parsed
from corpgraph.api.exporting import export_response
from corpgraph.api.graphql_schema import error_answer, make_schema, public_message
from corpgraph.api.lanes import Lane, Lanes, run_coroutine
from corpgraph.api.http_limits import BodyLimit, error_response, http_error_response, parse_body
from corpgraph.api.settings import ApiSettings, get_api_settings
from corpgraph.api.workers import Publisher, Worker

# Bodies and GraphQL documents up to this many bytes are decoded on the event loop (at most ~15 ms for the
# worst 8 KiB: nested empty lists), longer ones in the parse lane (api/lanes.py): a 2 MB body of nested lists
# costs ~1.5-3 s of pure Python and would stall every other request on the loop.
ON_LOOP_BYTES = 8 * 1024
# The pages (playground, explorer) and the browser libraries they use, built by web/build.mjs into the
# package so that nothing is ever fetched from another host.
STATIC = Path(__file__).parent / "static"
_log = logging.getLogger(__name__)


class CorpGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view with our per-request context, JSON body checks and time budget."""

    def __init__(self, graph: CorpGraph, settings: ApiSettings, lanes: Lanes) -> None:
        super().__init__(make_schema(settings), graphql_ide="graphiql" if settings.graphiql else None)
        self.graph = graph
        self.settings = settings
        self.lanes = lanes

    def parse_json(self, data: str | bytes) -> Any:
        """The request's JSON, refused with a clear 400 unless it is an object (or list) nested within the limit."""
        if isinstance(data, _Decoded):
            return data.value  # decoded in the parse lane by parse_http_body
        return parse_body(data, self.settings.max_json_depth, self.settings.max_json_containers)

    def encode_json(self, data: object) -> str:
        """The response's JSON, written by orjson: strawberry's json.dumps took 0.48 ms for an 80-party liability
        chain, orjson 0.03 (floats in shortest round-trip form, the same numbers to any reader). What orjson
        refuses (an integer beyond 64 bits in a JSON scalar) is written by json.dumps as before."""
        # Text, not bytes: strawberry sends bytes over a websocket as binary frames, and GraphiQL's graphql-ws
        # client reads only text frames (the playground's Watch subscription then shows nothing).
        try:
            return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    async def parse_http_body(self, request: Any) -> Any:
        """strawberry's reading of the request, with a JSON body over ON_LOOP_BYTES decoded in the parse lane."""
        if request.method == "POST":
            body = await request.get_body()
            # the content type only for a long body: its parser (the email package's) is read for every request
            # by strawberry already, ~10 us each time
            if len(body) > ON_LOOP_BYTES and "application/json" in parse_content_type(request.content_type or "")[0]:
                deadline = time.monotonic() + self.settings.time_budget
                value = await self.lanes.run(Lane.PARSE, deadline, self.parse_json, body)
                request = _DecodedRequest(request, _Decoded(value))
        return await super().parse_http_body(request)

    @cached_property
    def graphql_ide_html(self) -> str:
        """Our GraphiQL page (local assets, the README's queries as tabs) instead of strawberry's CDN one."""
        return (STATIC / "graphiql.html").read_text(encoding="utf-8")

    async def get_context(self, request: Any, response: Any) -> Context:
        """A fresh context (fresh DataLoaders, its own deadline) for every request."""
        return make_context(self.graph, self.settings, request.headers.get("authorization"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry's ASGI entry, with its own HTTP refusals (plain text there) answered in the project's JSON shape."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response: Response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as refusal:
            response = http_error_response(refusal.status_code, refusal.reason)
        await response(scope, receive, send)

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any, context: Context,
                             root_value: Any, request_data: Any) -> ExecutionResult:
        """Execute one operation in a worker thread of its lane; past its deadline, answer a TIMEOUT error."""
        base = super().execute_single
        operation = functools.partial(base, request, request_adapter, sub_response, context, root_value, request_data)
        try:
            query = request_data.query
            if isinstance(query, str) and len(query) > ON_LOOP_BYTES:  # a long document is parsed off the loop
                lane = await self.lanes.run(Lane.PARSE, context.deadline, self.lane, request_data, context)
            else:
                lane = self.lane(request_data, context)
            result: ExecutionResult = await self.lanes.run(lane, context.deadline, run_coroutine, operation)
        except TimedOut as error:
            return ExecutionResult(data=None, errors=[GraphQLError(str(error), original_error=error,
                                                                   extensions={"code": error_answer(error)[1]})])
        if any(isinstance(e.original_error, Unauthorized) for e in result.errors or []):
            sub_response.status_code = Unauthorized.http_status  # as the README says: a refused mutation is a 401
        return result

    def lane(self, request_data: Any, context: Context) -> Lane:
        """The lane of a request's document (parsed once, through the schema's document cache, kept in the context)."""
        query = request_data.query
        if not isinstance(query, str) or not query:
            return Lane.QUICK
        try:
            entry = parsed(self.schema.documents, query, self.settings.max_tokens)  # type: ignore[attr-defined]
        except GraphQLError:
            return Lane.QUICK  # the syntax error is reported by the normal path, quickly
        context.parsed = entry
        return lane_of(entry.document, request_data.variables, self.settings,
                       self.schema.page_sizes, self.schema.heavy_fields, entry)  # type: ignore[attr-defined]


class _Decoded(bytes):
    """A request body already decoded off the loop; `bytes` only to pass through strawberry's typed hooks."""

    value: Any

    def __new__(cls, value: Any) -> "_Decoded":
        made = super().__new__(cls)
        made.value = value
        return made


class _DecodedRequest:
    """A request adapter whose body is the already decoded _Decoded (everything else is the request's)."""

    def __init__(self, request: Any, body: _Decoded) -> None:
        self._request, self._body = request, body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    async def get_body(self) -> bytes:
        """The decoded body (strawberry hands it to parse_json, which unwraps it)."""
        return self._body


def create_app(store: GraphStore | None = None, settings: ApiSettings | None = None,
               store_kind: str | None = None, rebuild_hooks: RebuildHooks | None = None,
               worker: Worker | None = None, build_apart: bool = False) -> Starlette:
    """The app over a store (opened from the settings and closed on shutdown when none is given).

    rebuild_hooks: what the serving process runs around projection rebuilds (`corpgraph serve` passes
    graph.gc_policy.FrozenProjections); the app itself never tunes the garbage collector.
    worker: this process's place among the workers of `corpgraph serve --workers N` (api/workers.py): the
    builder publishes the projection, the others map it; None for a server of one process.
    build_apart: full projection builds run in a child process (graph.projection.apart), whose snapshot is
    mapped, so that they never hold the query threads' GIL (needs snapshots; `corpgraph serve` asks for it).
    """
    settings = settings or get_api_settings()
    # An app is a long-lived server (`corpgraph serve`, or uvicorn --factory): its allocator returns large blocks
    # (graph.gc_policy), so the delta applied per write does not fragment the heap.
    return_large_blocks()
    owned = store is None
    opened = store if store is not None else open_store(store_kind)
    # a builder worker's Publisher publishes its states once writes pause: the facade does not save them too
    graph = CorpGraph(opened, rebuild_hooks, snapshots=snapshots_for(opened),
                      follow=worker is not None and not worker.builder, apart=build_apart,
                      save_deltas=worker is None)
    publisher = Publisher(graph) if worker is not None and worker.builder else None
    lanes = Lanes(settings.heavy_workers, settings.quick_workers)

    def deadline() -> float:
        """The deadline of a request starting now."""
        return time.monotonic() + settings.time_budget

    async def healthz(request: Request) -> JSONResponse:
        """Liveness, with the store's name and revision (read in its own lane, never behind other work); "degraded"
        with the first problem when the store cannot be read (503) or the last projection build failed (200)."""
        name = graph.store.name
        try:
            revision = await lanes.run(Lane.HEALTH, deadline(), graph.revision)
        except StoreError as exc:
            return JSONResponse({"status": "degraded", "store": name, "problem": public_message(exc),
                                 "code": exc.code}, status_code=503)
        failure = graph.build_failure()
        if failure is not None:
            return JSONResponse({"status": "degraded", "store": name, "revision": revision,
                                 "problem": _problem(failure)})
        return JSONResponse({"status": "ok", "store": name, "revision": revision})

    async def export_route(request: Request) -> Response:
        """The subgraph of a query's answer in the format of the path, streamed (api/exporting.py)."""
        return await export_response(lanes, deadline, graph, settings, request.path_params["format"],
                                     request.query_params)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """Start warming the store up (on a thread: the first answer does not wait for it) and publishing (the builder
        worker); stop publishing and the worker lanes, and close the store when the app opened it, on shutdown."""
        threading.Thread(target=warm_up, args=(graph.store,), name="corpgraph-warm-up", daemon=True).start()
        if publisher is not None:
            publisher.start()
        yield
        if publisher is not None:
            publisher.stop()
        lanes.shutdown()
        if owned:
            graph.store.close()

    async def explore(request: Request) -> FileResponse:
        """The graph explorer page; it reads its view from the URL (query, id, asOf)."""
        return FileResponse(STATIC / "explore.html", media_type="text/html")

    async def home(request: Request) -> RedirectResponse:
        """The explorer is the front page."""
        return RedirectResponse("/explore")

    graphql = CorpGraphQL(graph, settings, lanes)
    # The same view answers subscriptions (`watch`) over graphql-transport-ws at the same path.
    routes = [Route("/", home), Route("/healthz", healthz), Route("/export/{format}", export_route),
              Route("/graphql", graphql), WebSocketRoute("/graphql", graphql), Route("/explore", explore),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    return Starlette(routes=routes, middleware=_middleware(settings), lifespan=lifespan,
                     exception_handlers={CorpgraphError: _error_response, HTTPError: _http_error})


def warm_up(store: GraphStore) -> None:
    """The store's warm-up (GraphStore.warm_up: a Neo4j server plans the first write's statements), its failure
    only logged: the first write then plans its own statements, as it did before there was a warm-up."""
    started = time.monotonic()
    try:
        ran = store.warm_up()
    except Exception:
        _log.warning("warming up the store's write statements failed; the first write plans them itself",
                     exc_info=True)
        return
    if ran:
        _log.info("warmed up the store's write statements (%d transactions rolled back) in %.1f s", ran,
                  time.monotonic() - started)


def _problem(failure: BaseException) -> str:
    """What /healthz says of a failed build: a project error's public message; anything else only by its kind."""
    if isinstance(failure, CorpgraphError):
        return public_message(failure)
    _log.error("the projection build failed", exc_info=failure)
    return f"the projection build failed ({type(failure).__name__}); the server log has the details"


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a method a route does not take) in the project's JSON shape."""
    assert isinstance(exc, HTTPError)
    if exc.status_code < 400:  # not a refusal (Starlette raises none such today): its own answer
        return Response(status_code=exc.status_code, headers=exc.headers)
    return http_error_response(exc.status_code, exc.detail)


async def _error_response(request: Request, exc: Exception) -> JSONResponse:
    """A project error as JSON, with the HTTP status and code its class carries (schema/errors.py)."""
    assert isinstance(exc, CorpgraphError)
    return error_response(exc)


def _middleware(settings: ApiSettings) -> list[Middleware]:
    """The body-size limit; CORS when origins are configured (otherwise browsers refuse cross-origin calls)."""
    limit = [Middleware(BodyLimit, max_bytes=settings.max_body_bytes)]
    if not settings.cors_origins:
        return limit
    return [Middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                       allow_headers=["authorization", "content-type"]), *limit]
