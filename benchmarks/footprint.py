"""Bytes a projection holds, counted by walking everything it references (benchmark row 6).

Every object reachable from the projection is counted once: numpy buffers by their size (a slice or view
counts its base buffer once), every other object by `sys.getsizeof` (dicts, lists, str, ints, dataclass
instances, scipy matrices' attributes...), without a depth limit. Parts, in this order (an object shared by
two parts counts in the first):
- `edges`: the per-edge columns and the adjacency built so far;
- `ids`: the id tables (node ids, what relation ids keep beside the columns, merged statements);
- `views`: the cached as-of views (masks, OWNS adjacency at the date, share matrix, whatever they cached).

`array_bytes` gives the same walk's numpy buffers by where they were reached (`views[*].W.data`), for the
breakdown by array, over a store loaded once per workdir (benchmarks/workers.py's `prepared`), view at the
world's date readied as benchmarks/run.py readies it:

    nice .venv/bin/python benchmarks/footprint.py --companies 200000 --workdir /tmp/corpgraph-bench-workers
"""
from __future__ import annotations

import argparse
import sys
import types
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, Enum)
_ID_FIELDS = ("ids", "relation_ids", "statements")


def projection_bytes(projection: Any) -> dict[str, int]:
    """Bytes held by a projection, by part (edges, ids, views); see the module docstring."""
    return _walked(projection, None)


def array_bytes(projection: Any) -> dict[str, int]:
    """The projection's numpy buffers by the path they were first reached by (each counted once, as above)."""
    named: dict[str, int] = {}
    _walked(projection, named)
    return named


def _walked(projection: Any, named: dict[str, int] | None) -> dict[str, int]:
    """projection_bytes, filling `named` with the arrays' paths when given."""
    seen: set[int] = set()
    fields = vars(projection)
    ids = {name: fields[name] for name in _ID_FIELDS if name in fields}
    views = fields.get("_views")
    edges = {name: v for name, v in fields.items() if name not in ids and name != "_views"}
    seen.add(id(projection))
    sizes = {"edges": sys.getsizeof(projection) + sys.getsizeof(fields), "ids": 0, "views": 0}
    sizes["edges"] += sum(_walk(v, seen, name, named) for name, v in edges.items())
    sizes["ids"] += sum(_walk(v, seen, name, named) for name, v in ids.items())
    sizes["views"] += _walk(views, seen, "views", named)
    return sizes


def _walk(root: Any, seen: set[int], path: str = "", named: dict[str, int] | None = None) -> int:
    """Bytes of everything reachable from root not seen yet (iterative: no recursion limit); each numpy buffer's
    bytes also under its path in `named` when given."""
    total = 0
    stack = [(root, path)]
    while stack:
        obj, at = stack.pop()
        while isinstance(obj, np.ndarray) and isinstance(obj.base, np.ndarray):  # a view: count its buffer once
            obj = obj.base
        if id(obj) in seen or obj is None or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += int(obj.nbytes)
            if named is not None:
                named[at] = named.get(at, 0) + int(obj.nbytes)
            if obj.dtype == object:  # the references' objects too
                stack.extend((item, at + "[*]") for item in obj.ravel().tolist())
            continue
        total += sys.getsizeof(obj)
        if isinstance(obj, (str, bytes, int, float, bool, complex)):
            continue
        if isinstance(obj, dict):
            stack.extend((key, at + ".key") for key in obj.keys())
            stack.extend((value, at + _label(key)) for key, value in obj.items())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend((item, at + "[*]") for item in obj)
        if hasattr(obj, "__dict__"):
            stack.append((vars(obj), at))
        for name in getattr(type(obj), "__slots__", ()):
            stack.append((getattr(obj, name, None), f"{at}.{name}"))
    return total


def _label(key: Any) -> str:
    """A dict key as a path shows it: `.name` for attributes and other text keys, `[OWNS]` for relation types,
    `[*]` for anything else (a view's day number, an edge)."""
    if isinstance(key, str) and not isinstance(key, Enum):
        return "." + key
    return f"[{key.value}]" if isinstance(key, Enum) else "[*]"


def main(argv: list[str] | None = None) -> int:
    """Print the projection's parts and its arrays, largest first, on a generated world's store."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.ours import Ours  # here: ours imports this module
    from benchmarks.workers import prepared
    from corpgraph.graph.stores.sqlite import SqliteStore

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--companies", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-bench-workers"))
    parser.add_argument("--min-mb", type=float, default=0.1, help="arrays smaller than this are summed in one line")
    args = parser.parse_args(argv)
    db, world = prepared(args.companies, args.workdir)
    ours = Ours(SqliteStore(db))
    ours.warm(world.as_of)
    parts, arrays = projection_bytes(ours.projection), array_bytes(ours.projection)
    mb = 1024 * 1024
    print(f"{args.companies:,} companies: " + ", ".join(f"{k} {v / mb:.1f} MB" for k, v in parts.items())
          + f", total {sum(parts.values()) / mb:.1f} MB (arrays {sum(arrays.values()) / mb:.1f} MB)")
    small = 0
    for path, size in sorted(arrays.items(), key=lambda item: -item[1]):
        if size < args.min_mb * mb:
            small += size
            continue
        print(f"{size / mb:8.2f} MB  {path}")
    print(f"{small / mb:8.2f} MB  arrays under {args.min_mb:g} MB each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
