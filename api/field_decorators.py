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
def resolver(description: str) -> Callable[[F], F]:
    """`@strawberry.field(description=...)` on a resolver method, typed."""
    return cast(Callable[[F], F], strawberry.field(description=description))


def mutation(description: str) -> Callable[[F], F]:
    """`@strawberry.mutation(description=...)` on a resolver method, typed."""
    return cast(Callable[[F], F], strawberry.mutation(description=description))
