"""Bytes a projection holds, counted by walking everything it references (benchmark row 6).

Every object reachable from the projection is counted once: numpy buffers by their size (a slice or view
counts its base buffer once), every other object by `sys.getsizeof` (dicts, lists, str, ints, dataclass
instances, scipy matrices' attributes...), without a depth limit. Parts, in this order (an object shared by
two parts counts in the first):
- `edges`: the per-edge columns and the adjacency built so far;
- `ids`: the id tables (node ids, what relation ids keep beside the columns, merged statements);
- `views`: the cached as-of views (masks, OWNS adjacency at the date, share matrix, whatever they cached).
"""
from __future__ import annotations

import sys
import types
from enum import Enum
from typing import Any

import numpy as np

_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, Enum)
_ID_FIELDS = ("ids", "relation_ids", "statements")


def projection_bytes(projection: Any) -> dict[str, int]:
    """Bytes held by a projection, by part (edges, ids, views); see the module docstring."""
    seen: set[int] = set()
    fields = vars(projection)
    ids = {name: fields[name] for name in _ID_FIELDS if name in fields}
    views = fields.get("_views")
    edges = [v for name, v in fields.items() if name not in ids and name != "_views"]
    seen.add(id(projection))
    sizes = {"edges": sys.getsizeof(projection) + sys.getsizeof(fields), "ids": 0, "views": 0}
    sizes["edges"] += sum(_walk(v, seen) for v in edges)
    sizes["ids"] += sum(_walk(v, seen) for v in ids.values())
    sizes["views"] += _walk(views, seen)
    return sizes


def _walk(root: Any, seen: set[int]) -> int:
    """Bytes of everything reachable from root not seen yet (iterative: no recursion limit)."""
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        while isinstance(obj, np.ndarray) and isinstance(obj.base, np.ndarray):  # a view: count its buffer once
            obj = obj.base
        if id(obj) in seen or obj is None or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += int(obj.nbytes)
            if obj.dtype == object:  # the references' objects too
                stack.extend(obj.ravel().tolist())
            continue
        total += sys.getsizeof(obj)
        if isinstance(obj, (str, bytes, int, float, bool, complex)):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        for name in getattr(type(obj), "__slots__", ()):
            stack.append(getattr(obj, name, None))
    return total
