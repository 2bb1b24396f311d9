"""One module per input format, each mapping its format to native records; the interface they share.

A format module knows its format and `schema/` only (no store, no GraphQL). It exposes `FORMAT`, an
object with a `name`, a `sniff(head, path)` that recognises the format from the first bytes of a file,
and a `read(path, coverage)` that streams `Raw` records (a native record dict with "type", as one line of a
native JSON Lines file, and where it came from) and `Problem`s for what it could not map, counting what
each kind of source record became (loaders/coverage.py).
The importer contract and each format's mapping: docs/importers.md.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem

if TYPE_CHECKING:  # loaders.coverage imports this module for Raw
    from corpgraph.loaders.coverage import Coverage

# A file location: `Origin(file, line)` for line-based files, `Origin(file, n, pointer="/12/interests/0")`
# for one JSON document (n = the top-level item's number from 1, used to order problems).
Where = Origin
Raw = tuple[Where, dict[str, Any]]
# A record as JSON text, not yet parsed (a native JSON Lines line, or an imported record sent by the reading
# child of loaders.readahead): loaders.validate parses and validates it in one call into pydantic-core.
Line = tuple[Where, bytes]

# Every format corpgraph knows, in the order detection tries them: specific formats first, native last
# (it accepts any JSON Lines record with a native "type").
FORMAT_NAMES: tuple[str, ...] = ("bods", "ftm", "gleif", "stix", "veris", "native")
HEAD_BYTES = 64 * 1024  # how much of a file `sniff` sees


class Format(Protocol):
    """An input format: recognised from content, read as a stream of native records."""

    name: str

    def sniff(self, head: bytes, path: Path) -> bool:
        """True when the first bytes of the file (up to HEAD_BYTES) are in this format."""
        ...

    def read(self, path: Path, coverage: "Coverage | None" = None) -> Iterator[Raw | Problem]:
        """Native records of the file with where each came from, and problems, streamed in file order; what
        each kind of source record became is counted into `coverage` (loaders.coverage) as it is read."""
        ...


def available() -> dict[str, Format]:
    """The formats whose module is installed, by name, in detection order."""
    out: dict[str, Format] = {}
    for name in FORMAT_NAMES:
        module_name = f"corpgraph.loaders.formats.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # a missing dependency of an existing module is a real error
                raise
            continue
        out[name] = module.FORMAT
    return out


def get_format(name: str) -> Format:
    """The format of that name; ValueError naming the known ones otherwise."""
    formats = available()
    if name not in formats:
        raise ValueError(f"unknown format {name!r}; known formats: {', '.join(formats)}")
    return formats[name]
