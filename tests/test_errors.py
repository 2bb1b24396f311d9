"""One error class per condition, each carrying its HTTP status and GraphQL code (the API reads nothing else)."""
from __future__ import annotations

from typing import cast

import pytest

from corpgraph.api.context import Unauthorized
from corpgraph.api.graphql_schema import error_answer
from corpgraph.graph.cursors import decode_cursor
from corpgraph.graph.analytics.results import Subgraph
from corpgraph.graph.exports import export
from corpgraph.graph.settings import Settings
from corpgraph.graph.stores.factory import open_store
from corpgraph.schema import errors as e


@pytest.mark.parametrize("error,status,code", [
    (e.InvalidInput([]), 400, "INVALID_INPUT"),
    (e.InvalidArgument("bad value"), 400, "BAD_REQUEST"),
    (e.InvalidCursor("bad cursor"), 400, "INVALID_CURSOR"),
    (e.LimitExceeded("too many"), 400, "LIMIT_EXCEEDED"),
    (Unauthorized("no token"), 401, "UNAUTHORIZED"),
    (e.NotFound("no such id"), 404, "NOT_FOUND"),
    (e.UnknownFormat("no such format"), 404, "NOT_FOUND"),
    (e.ConstraintViolation("id taken"), 409, "CONFLICT"),
    (e.SingularOwnership(["a", "b"]), 422, "SINGULAR_OWNERSHIP"),
    (e.ConfigurationError("unknown store"), 500, "CONFIGURATION_ERROR"),
    (e.UnreadableRecord("bad doc"), 500, "UNREADABLE_RECORD"),
    (e.StoreError("failed"), 503, "STORE_ERROR"),
    (e.StoreLocked("locked"), 503, "STORE_LOCKED"),
    (e.StoreUnavailable("down"), 503, "STORE_UNAVAILABLE"),
    (e.StoreAuthError("refused"), 503, "STORE_AUTH_FAILED"),
])
def test_each_condition_has_its_status_and_code(error: e.CorpgraphError, status: int, code: str) -> None:
    assert error_answer(error) == (status, code)


def test_conditions_raise_their_own_class_not_the_root() -> None:
    with pytest.raises(e.InvalidCursor):
        decode_cursor("!!")
    with pytest.raises(e.ConfigurationError):
        open_store("mongo", Settings())
    with pytest.raises(e.UnknownFormat):
        export(cast(Subgraph, None), "dot")  # refused by its format before the subgraph is read

