"""corpgraph's own formats, JSON Lines and CSV (see README, 'The native format'), behind the format interface."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from corpgraph.schema.batch import Origin
from corpgraph.schema.declaration import spec_for
from corpgraph.schema.errors import Problem

from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.formats import Raw
from corpgraph.loaders.jsontext import JsonTextError, loads
from corpgraph.loaders.readers import iter_jsonl, iter_jsonl_lines, read_records

_TYPE = re.compile(rb'"type"\s*:\s*"([A-Za-z_]+)"')


class NativeFormat:
    """Native JSON Lines (one record with a native "type" per line) or CSV (by its .csv name)."""

    name = "native"

    def sniff(self, head: bytes, path: Path) -> bool:
        """A .csv file, or a first line that is a JSON object of a native record type."""
        if path.suffix.lower() == ".csv":
            return True
        first = head.removeprefix(b"\xef\xbb\xbf").lstrip().split(b"\n", 1)[0]
        try:
            data = loads(first.decode("utf-8"))
        except (JsonTextError, UnicodeDecodeError):
            # A first line longer than the head: read its type field without parsing the whole line.
            match = _TYPE.search(first)
            return bool(first.startswith(b"{") and match and spec_for(match.group(1).decode()) is not None)
        return isinstance(data, dict) and isinstance(data.get("type"), str) and spec_for(data["type"]) is not None

    def read(self, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Problem]:
        """The file's records with their line numbers and the problems met reading it (JSON Lines streamed);
        each record is counted as its own kind (it is imported as it is)."""
        file = str(path)
        if path.suffix.lower() != ".csv":
            for item in iter_jsonl(path):
                if isinstance(item, Problem):
                    yield item
                    continue
                if coverage is not None:
                    coverage.as_is(item[1].get("type"))
                yield Origin(file, item[0]), item[1]
            return
        records, problems = read_records(path)
        for line, data in records:
            if coverage is not None:
                coverage.as_is(data.get("type"))
            yield Origin(file, line), data
        yield from problems

    def lines(self, path: Path) -> Iterator[tuple[Origin, bytes] | Problem] | None:
        """A JSON Lines file's lines, unparsed, with their origins (loaders.validate reads each whole, in Rust), a
        line over the cap as a Problem; None for CSV."""
        if path.suffix.lower() == ".csv":
            return None
        file = str(path)
        return (item if isinstance(item, Problem) else (Origin(file, item[0]), item[1])
                for item in iter_jsonl_lines(path))


FORMAT = NativeFormat()
