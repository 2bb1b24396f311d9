"""Strawberry's resolver decorators with their types kept, so `mypy --strict` checks the resolvers."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

F = TypeVar("F", bound=Callable[..., Any])


# strawberry types the called form `strawberry.field(description=...)` as Any (the overload that also serves
# `x: int = strawberry.field(...)`), so under --strict every resolver it decorates became untyped
# (strawberry-graphql/strawberry#1929). These wrappers do exactly the same at run time and tell mypy the
# decorated method keeps its own signature.
def resolver(description: str, deprecation_reason: str | None = None, *, heavy: bool = False,
             page_size: int | None = None) -> Callable[[F], F]:
    """`@strawberry.field(description=...)` on a resolver method, typed, with what the server needs to know of it.

    heavy: the field computes (analytics) or scans (search), so a document asking for it runs in the heavy lane;
    page_size: its default `first`, which the cost check multiplies its selection by.
    """
    metadata = {"heavy": heavy, "page_size": page_size}
    return cast(Callable[[F], F], strawberry.field(description=description, deprecation_reason=deprecation_reason,
                                                   metadata=metadata))


NEEDS_BOUNDS = {"needs": "bounds"}  # metadata of a field that needs the solves at the ranges' minimums and maximums
NEEDS_PATHS = {"needs": "paths"}  # metadata of a field that needs the explaining paths (and the reads behind them)


def mutation(description: str) -> Callable[[F], F]:
    """`@strawberry.mutation(description=...)` on a resolver method, typed."""
    return cast(Callable[[F], F], strawberry.mutation(description=description))


def subscription(description: str) -> Callable[[F], F]:
    """`@strawberry.subscription(description=...)` on an async generator method, typed."""
    return cast(Callable[[F], F], strawberry.subscription(description=description))
