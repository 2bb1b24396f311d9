"""Read nested source data (a JSON document, or an XML record as `xmlstream.as_tree` gives it) by
slash paths, keeping where each value came from, so a problem can point at it.

A path walks dict keys; a list met on the way is walked item by item (so one path reads a single
element and a repeated one alike, as XML gives no way to tell them apart).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem


def pick(tree: Any, path: str, pointer: str = "") -> list[tuple[str, str]]:
    """(pointer, text) of every non-blank text (or number) at a path."""
    found = nodes(tree, path, pointer)
    if len(found) == 1 and type(found[0][1]) is str:  # one text, as most paths of a record give: no list of lists
        text = found[0][1].strip()
        return [(found[0][0], text)] if text else []
    return [(ptr, text) for ptr, node in found for text in _texts(node)]


def nodes(tree: Any, path: str, pointer: str = "") -> list[tuple[str, Any]]:
    """(pointer, node) of every node at a path."""
    # Most paths meet only dicts: walked without building the pointer step by step (a golden copy's LEI record
    # is read by some thirty paths, millions of times); a list met on the way takes the general walk from there.
    steps = _steps(path)
    node = tree
    for at, step in enumerate(steps):
        if not isinstance(node, dict):
            return _walk(node, steps, at, pointer + "".join(f"/{s}" for s in steps[:at])) if isinstance(node, list) else []
        if step not in node:
            return []
        node = node[step]
    if isinstance(node, list):
        return _walk(node, steps, len(steps), f"{pointer}/{path}" if path else pointer)
    return [(f"{pointer}/{path}" if path else pointer, node)]


@lru_cache(maxsize=1024)
def _steps(path: str) -> tuple[str, ...]:
    """A path's steps, split once per path (mappings read the same few paths in every record)."""
    return tuple(path.split("/")) if path else ()


def _walk(tree: Any, steps: tuple[str, ...], at: int, pointer: str) -> list[tuple[str, Any]]:
    """The nodes at steps[at:] below tree: a loop down dicts, a branch for each item of a list met."""
    while True:
        if isinstance(tree, list):
            return [hit for i, item in enumerate(tree) for hit in _walk(item, steps, at, f"{pointer}/{i}")]
        if at == len(steps):
            return [(pointer, tree)]
        step = steps[at]
        if not isinstance(tree, dict) or step not in tree:
            return []
        tree, pointer, at = tree[step], f"{pointer}/{step}", at + 1


class View:
    """Our fields of one source record, read by a table `our field -> path`, with their locations.

    For a JSON document a problem points at the value (`file:#/data/3/attributes/lei: lei: ...`); for
    XML, which has lines but no pointers, it names the element path (`file:12: Relationship/StartNode/NodeID: ...`).
    """

    def __init__(self, tree: Any, paths: dict[str, str], pointer: str = "") -> None:
        self.paths, self.base = paths, pointer
        self.found: dict[str, tuple[str, str]] = {}
        for ours, path in paths.items():
            hits = pick(tree, path, pointer)
            if hits:
                self.found[ours] = hits[0]

    def __contains__(self, name: str) -> bool:
        """True when the record gives this field."""
        return name in self.found

    def text(self, name: str) -> str:
        """The field's text ('' when the record does not give it)."""
        return self.found[name][1] if name in self.found else ""

    def pointer(self, name: str) -> str:
        """Where the field's value is (or would be) below the record."""
        return self.found[name][0] if name in self.found else f"{self.base}/{self.paths[name]}"

    def problem(self, origin: Origin, name: str, reason: str, label: str | None = None) -> Problem:
        """A problem with one field: at its JSON pointer, or at the record's line naming its XML path."""
        if origin.pointer is None:
            return Problem(origin.file, origin.line, self.pointer(name).lstrip("/"), reason)
        return Problem(origin.file, origin.line, label or name, reason, origin.pointer + self.pointer(name))

    def located(self, origin: Origin, fields: dict[str, str]) -> Origin:
        """The origin, telling (for JSON) where the source value of each native field lies."""
        if origin.pointer is None:
            return origin
        return Origin(origin.file, origin.line, origin.pointer,
                      {ours: self.pointer(theirs) for ours, theirs in fields.items() if theirs in self})


def _texts(node: Any) -> list[str]:
    """The text of a leaf (numbers as written), or nothing for a blank or a structure."""
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return [str(node)]
    return [node.strip()] if isinstance(node, str) and node.strip() else []
