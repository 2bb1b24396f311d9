"""The project's one error root and its narrow subclasses, one per condition.

Each class carries what a user needs (file, line, field, ids) and how the API answers it: `http_status` (HTTP
routes) and `code` (GraphQL `extensions.code`). The API maps errors to answers by reading these two class
attributes, never by a table of its own (as yente's `exc.py` does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self


WITHHELD = "<withheld: see the server log>"


class CorpgraphError(Exception):
    """Root of every error corpgraph raises on purpose; its message is safe to show a user.

    The parts named by `withholding` (a file's path) are shown on the command line but replaced by WITHHELD in
    answers to HTTP clients (`public()`), who must not learn the server's filesystem; the server logs them.
    """

    http_status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    private: tuple[str, ...] = ()

    def withholding(self, *parts: str) -> Self:
        """The same error, with these parts of its message kept out of answers to HTTP clients."""
        self.private = tuple(p for p in parts if p)
        return self

    def public(self) -> str:
        """The message for a client of the server: each withheld part replaced by WITHHELD."""
        text = str(self)
        for part in sorted(self.private, key=len, reverse=True):  # a path before the folder it starts with
            text = text.replace(part, WITHHELD)
        return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (file, line or JSON pointer, field) and why.

    `line` orders problems (for a single JSON document: the top-level item's number, from 1);
    `pointer`, when set, is the JSON pointer into that document and is shown instead of the line.
    `warning`: something changed on the way in (a text cut at its cap) that does not stop the load.
    """

    file: str
    line: int
    field: str
    reason: str
    pointer: str | None = None
    warning: bool = False

    def __str__(self) -> str:
        """Render as `file:line: field: reason` or `file:#/json/pointer: field: reason`, the forms users grep for."""
        where = f"#{self.pointer}" if self.pointer is not None else str(self.line)
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{where}: {kind}{self.field}: {self.reason}"


class InvalidInput(CorpgraphError):
    """Input failed validation; nothing of it was written."""

    code = "INVALID_INPUT"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        head = "\n".join(str(p) for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n... and {more} more problems" if more > 0 else ""
        super().__init__(f"{len(self.problems)} problem(s), nothing written:\n{head}{tail}")


class InvalidArgument(CorpgraphError):
    """A request parameter has a value that cannot be used (bad date, unknown query name, missing id)."""


class InvalidCursor(CorpgraphError):
    """A pagination cursor that is not the endCursor of a previous page."""

    code = "INVALID_CURSOR"


class NotFound(CorpgraphError):
    """An id names no entity of the expected kind."""

    http_status = 404
    code = "NOT_FOUND"


class UnknownFormat(NotFound):
    """An export format that corpgraph does not write."""


class LimitExceeded(CorpgraphError):
    """A request asked for more than the configured limit allows."""

    code = "LIMIT_EXCEEDED"


class ConfigurationError(CorpgraphError):
    """A setting has a value corpgraph cannot use (e.g. an unknown store kind)."""

    http_status = 500
    code = "CONFIGURATION_ERROR"


class SingularOwnership(CorpgraphError):
    """A closed loop of companies holds 100% of itself, so integrated ownership is undefined."""

    http_status = 422
    code = "SINGULAR_OWNERSHIP"

    def __init__(self, companies: list[str]) -> None:
        self.companies = companies
        super().__init__(
            "ownership is singular: the companies "
            + ", ".join(companies)
            + " hold all of each other with no outside owner; check their OWNS shares"
        )


class StoreError(CorpgraphError):
    """The store failed; the message says what to check."""

    http_status = 503
    code = "STORE_ERROR"


class StoreUnavailable(StoreError):
    """The store cannot be reached."""

    code = "STORE_UNAVAILABLE"


class StoreAuthError(StoreError):
    """The store refused the credentials."""

    code = "STORE_AUTH_FAILED"


class SchemaMissing(StoreError):
    """The Neo4j database lacks corpgraph's constraints and indexes: `corpgraph db init` creates them."""

    code = "STORE_SCHEMA_MISSING"


class StoreLocked(StoreError):
    """Another writer held the store's write lock for longer than the configured wait."""

    code = "STORE_LOCKED"


class ConstraintViolation(StoreError):
    """The store rejected a write that breaks a uniqueness rule."""

    http_status = 409
    code = "CONFLICT"


class TransactionTooLarge(StoreError):
    """A file needs more transaction memory than the server allows; the message names the limit and the remedy."""

    http_status = 413
    code = "TRANSACTION_TOO_LARGE"


class UnreadableRecord(StoreError):
    """A stored record no longer validates (written by hand or by an older version); `corpgraph check` lists them."""

    http_status = 500
    code = "UNREADABLE_RECORD"


class RequestTooLarge(LimitExceeded):
    """An HTTP request body is larger than the configured limit."""

    http_status = 413
    code = "REQUEST_TOO_LARGE"


class TimedOut(CorpgraphError):
    """A request ran past its time budget; its work was abandoned."""

    http_status = 503
    code = "TIMEOUT"


class BadRequest(CorpgraphError):
    """An HTTP request is malformed (its body is not a GraphQL request object)."""


class UnknownRegime(CorpgraphError):
    """A sanctions regime corpgraph computes no ownership rule for (docs/sanctions.md lists those it does)."""

    code = "BAD_REQUEST"
