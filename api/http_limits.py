"""Limits on HTTP requests before GraphQL sees them: the body's size (413) and the shape and nesting of its JSON (400)."""
from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corpgraph.schema.errors import BadRequest, CorpgraphError, RequestTooLarge

from corpgraph.api.graphql_schema import error_answer
from corpgraph.api.graphql_schema import error_answer, public_message

_JSON_KINDS = {str: "a string", int: "a number", float: "a number", bool: "true or false", type(None): "null"}
_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "REQUEST_TOO_LARGE"}
BODY_SHAPE = 'the request body must be a JSON object such as {"query": "{ ... }", "variables": {}}'


class BodyLimit:
    """ASGI middleware: a body over max_bytes is refused with 413, whether its length is declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared oversize body at once; count a streamed one and stop reading at the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(self.too_large())(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise self.too_large()  # answered as JSON by the app's CorpgraphError handler
            return message

        await self.app(scope, counted, send)

    def too_large(self) -> RequestTooLarge:
        """The error for an oversize body, saying the limit and what to do."""
        return RequestTooLarge(f"the request body is larger than {self.max_bytes} bytes "
                               "(CORPGRAPH_API_MAX_BODY_BYTES); send fewer records per mutation or a shorter query")


def parse_body(data: str | bytes, max_depth: int, max_containers: int) -> dict[str, Any] | list[Any]:
    """The JSON of a GraphQL request body: an object (or a list, refused later as a batch); clear errors otherwise."""
    raw = data.encode() if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") > max_containers:  # C-speed, before a decode that would hold the GIL
        raise BadRequest(f"the request body has more than {max_containers} JSON arrays and objects (counting "
                         "'[' and '{' anywhere, CORPGRAPH_API_MAX_JSON_CONTAINERS); send fewer records per request")
    try:
        value = json.loads(data)
    except RecursionError:
        raise BadRequest(f"the request body nests JSON more than {max_depth} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON ({exc}); {BODY_SHAPE}") from None
    if not isinstance(value, (dict, list)):
        raise BadRequest(f"{BODY_SHAPE}, not {_JSON_KINDS.get(type(value), 'a scalar')}")
    if nesting(value) > max_depth:
        raise BadRequest(f"the request body nests JSON more than {max_depth} levels deep "
                         "(CORPGRAPH_API_MAX_JSON_DEPTH)")
    return value


def nesting(value: object) -> int:
    """How deeply a decoded JSON value nests objects and arrays (a scalar: 0); iterative, no recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def error_response(error: CorpgraphError) -> JSONResponse:
    """A project error as a JSON response with the status and code the API gives its class."""
    status, code = error_answer(error)
    return JSONResponse({"error": public_message(error), "code": code}, status_code=status)


def http_error_response(status: int, reason: str) -> JSONResponse:
    """A refusal of the HTTP layer (strawberry's: batching, content type, method; Starlette's: an unknown path) in
    the project's shape."""
    code = _HTTP_CODES.get(status, "BAD_REQUEST")
    return JSONResponse({"error": reason, "code": code}, status_code=status)
