"""The project's one error root and its narrow subclasses (each carries the context a user needs)."""
from __future__ import annotations

from dataclasses import dataclass


class CorpgraphError(Exception):
    """Root of every error corpgraph raises on purpose; its message is safe to show a user."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (file, line or JSON pointer, field) and why.

    `line` orders problems (for a single JSON document: the top-level item's number, from 1);
    `pointer`, when set, is the JSON pointer into that document and is shown instead of the line.
    """

    file: str
    line: int
    field: str
    reason: str
    pointer: str | None = None

    def __str__(self) -> str:
        """Render as `file:line: field: reason` or `file:#/json/pointer: field: reason`, the forms users grep for."""
        where = f"#{self.pointer}" if self.pointer is not None else str(self.line)
        return f"{self.file}:{where}: {self.field}: {self.reason}"


class InvalidInput(CorpgraphError):
    """Input failed validation; nothing of it was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        head = "\n".join(str(p) for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n... and {more} more problems" if more > 0 else ""
        super().__init__(f"{len(self.problems)} problem(s), nothing written:\n{head}{tail}")


class NotFound(CorpgraphError):
    """An id names no entity of the expected kind."""


class StoreError(CorpgraphError):
    """The store failed; the message says what to check."""


class StoreUnavailable(StoreError):
    """The store cannot be reached."""


class StoreAuthError(StoreError):
    """The store refused the credentials."""


class ConstraintViolation(StoreError):
    """The store rejected a write that breaks a uniqueness rule."""


class TransactionTooLarge(StoreError):
    """A file needs more transaction memory than the server allows; the message names the limit and the remedy."""


class SingularOwnership(CorpgraphError):
    """A closed loop of companies holds 100% of itself, so integrated ownership is undefined."""

    def __init__(self, companies: list[str]) -> None:
        self.companies = companies
        super().__init__(
            "ownership is singular: the companies "
            + ", ".join(companies)
            + " hold all of each other with no outside owner; check their OWNS shares"
        )


class LimitExceeded(CorpgraphError):
    """A request asked for more than the configured limit allows."""


class RequestTooLarge(LimitExceeded):
    """An HTTP request body is larger than the configured limit."""


class TimedOut(CorpgraphError):
    """A request ran past its time budget; its work was abandoned."""


class BadRequest(CorpgraphError):
    """An HTTP request is malformed (its body is not a GraphQL request object)."""
