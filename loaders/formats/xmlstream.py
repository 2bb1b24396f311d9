"""Stream the record elements of a large XML file with the line each starts on, in bounded memory.

A pull parser (libxml2 through lxml; expat through ElementTree for a broken file) builds one record at a
time; the record is cleared from its container once handed on, so a 2.5-million-record golden copy never
sits in memory. Neither parser tells lines reliably (libxml2's are wrong past line 65,535), so the same
bytes fed to it are scanned for the records' start tags: both see the records in the same order, so the
n-th start tag found is the n-th record parsed.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from lxml import etree  # type: ignore[import-untyped]  # (no stubs shipped with lxml)

from corpgraph.schema.errors import Problem

CHUNK = 1 << 20
MAX_DEPTH = 32  # GLEIF records nest 6 levels; deeper is refused, not recursed into


@dataclass
class XmlRecord:
    """One record element as nested dicts of local names (see `as_tree`), its line and the header so far."""

    tag: str
    line: int
    tree: Any
    header: dict[str, str]


def local(tag: str) -> str:
    """An element's name without its namespace."""
    name = _LOCAL.get(tag)
    if name is None:
        name = tag[tag.rfind("}") + 1:]
        if len(_LOCAL) < _MAX_NAMES:
            _LOCAL[tag] = name
    return name


# Local names by qualified tag: a GLEIF file uses a few dozen tags, millions of times each. Bounded, so a
# file of endless distinct tags cannot grow it.
_LOCAL: dict[str, str] = {}
_MAX_NAMES = 10_000


def as_tree(elem: ET.Element) -> Any:
    """An element as plain data: its text when it has no children, else {local name: value}, where a
    name repeated among siblings holds a list (attributes are not kept)."""
    return _tree(elem)


def _element_events(parser: ET.XMLPullParser[ET.Element]) -> Iterator[tuple[str, ET.Element]]:
    """The parser's pending events; asked for start and end only, each comes with its Element."""
    # typeshed's read_events also lists the namespace events' shapes, which a start/end parser never yields.
    return cast(Iterator[tuple[str, ET.Element]], parser.read_events())


def iter_records(path: Path, record_tags: frozenset[str], header_tags: frozenset[str]) -> Iterator[XmlRecord | Problem]:
    """Every element named in record_tags (local names) that is a child of a child of the root (where
    GLEIF's files keep their records), in file order; texts of header_tags elements (children of the
    root's children, as GLEIF's header) met before a record come with it. A syntax error ends the stream
    with a Problem at its line.

    libxml2 (lxml) reads the file, reporting only the ends of the elements asked for: about twice as fast
    as ElementTree here (benchmarks/README.md, GLEIF). A file libxml2 finds broken is read again by expat
    (ElementTree), past the records already given, so a broken file gets the same problem, message and line
    as it always did.
    """
    given = 0
    try:
        for record in _lxml_records(path, record_tags, header_tags):
            yield record
            given += 1
        return
    except etree.XMLSyntaxError:
        pass
    for record in _expat_records(path, record_tags, header_tags):
        if given and isinstance(record, XmlRecord):
            given -= 1
            continue
        yield record


def _lxml_records(path: Path, record_tags: frozenset[str], header_tags: frozenset[str]) -> Iterator[XmlRecord | Problem]:
    """iter_records read by libxml2; raises XMLSyntaxError (after the records before it) on a broken file."""
    starts = _starts(record_tags)
    # Comments and processing instructions are not kept (as ElementTree's default builder does not keep them);
    # entities declared in the file are expanded, external ones never fetched (no network, no local files).
    parser = etree.XMLPullParser(events=("end",), tag=[f"{{*}}{t}" for t in sorted(record_tags | header_tags)],
                                 remove_comments=True, remove_pis=True, resolve_entities="internal",
                                 no_network=True, load_dtd=False)
    lines: deque[int] = deque()
    header: dict[str, str] = {}
    line, file = 1, str(path)
    with path.open("rb") as handle:
        for chunk in tag_aligned_chunks(handle):
            line = _scan(chunk, starts, line, lines)
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
            for _, elem in parser.read_events():
                name, depth = local(elem.tag), _depth(elem)
                if depth == 2 and name in record_tags:
                    record_line = lines.popleft() if lines else 0
                    try:
                        tree = _tree(elem)
                    except _TooDeep:
                        yield Problem(file, record_line, "(xml)", f"a record is nested deeper than {MAX_DEPTH} levels")
                        return
                    yield XmlRecord(name, record_line, tree, dict(header))
                    _drop(elem)
                elif depth == 3 and name in header_tags and local(elem.getparent().tag) not in record_tags:
                    header[name] = (elem.text or "").strip()
            if not chunk:
                return


def _depth(elem: etree._Element) -> int:
    """How deep an element lies (the root at 0), counted up to 4 (deeper is all the same here)."""
    depth = 0
    parent = elem.getparent()
    while parent is not None and depth < 4:
        depth += 1
        parent = parent.getparent()
    return depth


def _drop(elem: etree._Element) -> None:
    """Free a finished record and the records before it (the parser may already be building the next)."""
    elem.clear(keep_tail=True)
    parent = elem.getparent()
    while elem.getprevious() is not None:
        del parent[0]


def _starts(record_tags: frozenset[str]) -> re.Pattern[bytes]:
    """The start tags of the records, in any namespace prefix."""
    return re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(" + b"|".join(t.encode() for t in sorted(record_tags)) + rb")[\s>/]")


def _expat_records(path: Path, record_tags: frozenset[str], header_tags: frozenset[str]) -> Iterator[XmlRecord | Problem]:
    """iter_records read by expat (ElementTree), whose messages and lines a broken file is reported with."""
    starts = _starts(record_tags)
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    lines: deque[int] = deque()
    header: dict[str, str] = {}
    line, depth, container, record_line = 1, 0, None, 0
    file = str(path)
    with path.open("rb") as handle:
        for chunk in tag_aligned_chunks(handle):
            line = _scan(chunk, starts, line, lines)
            try:
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
                # Inlined on purpose: this loop sees every element of a multi-gigabyte file twice.
                for event, elem in _element_events(parser):
                    if event == "start":
                        depth += 1
                        if depth == 2:
                            container = elem
                        continue
                    depth -= 1
                    if depth != 2:
                        continue
                    name = local(elem.tag)
                    if name in record_tags:
                        record_line = lines.popleft() if lines else 0
                        yield XmlRecord(name, record_line, _tree(elem), dict(header))
                    else:
                        header.update((local(c.tag), (c.text or "").strip()) for c in elem if local(c.tag) in header_tags)
                    if container is not None:
                        container.clear()  # keeps no finished record alive
            except ET.ParseError as exc:
                yield Problem(file, exc.position[0], "(xml)", f"not well-formed XML: {_reason(exc)}")
                return
            except _TooDeep:
                yield Problem(file, record_line, "(xml)", f"a record is nested deeper than {MAX_DEPTH} levels")
                return
            if not chunk:
                return


def tag_aligned_chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The file in pieces of about CHUNK bytes, each cut just before a '<' so that no tag name is cut in two, then
    one b"" for the end. Whatever the file's line breaks (a golden copy may have none), a piece stays bounded: one
    holding no '<' after its start (a long text or tag) is handed on whole."""
    carry = b""
    while data := handle.read(CHUNK):
        data = carry + data
        cut = data.rfind(b"<")
        if cut <= 0:
            carry = b""
            yield data
        else:
            carry = data[cut:]
            yield data[:cut]
    if carry:
        yield carry
    yield b""


def _scan(chunk: bytes, starts: re.Pattern[bytes], line: int, lines: deque[int]) -> int:
    """Queue the line of every record start tag in the chunk; the line the next chunk starts on."""
    pos = 0
    for match in starts.finditer(chunk):
        line += chunk.count(b"\n", pos, match.start())
        pos = match.start()
        lines.append(line)
    return line + chunk.count(b"\n", pos)


class _TooDeep(Exception):
    """A record nested deeper than any GLEIF record is (a hostile or broken file)."""


def _tree(elem: ET.Element, depth: int = 0) -> Any:
    """as_tree, refusing a record nested deeper than MAX_DEPTH (Python's stack would give out first)."""
    if depth > MAX_DEPTH:
        raise _TooDeep
    if len(elem) == 0:
        return (elem.text or "").strip()
    out: dict[str, Any] = {}
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # an entity left unexpanded (lxml gives it as a node; ElementTree keeps none)
        name = _LOCAL.get(tag) or local(tag)  # the cache read inline: 30 elements a record
        # A leaf (most elements of a record) is read here rather than in a call of its own.
        value = (child.text or "").strip() if depth < MAX_DEPTH and len(child) == 0 else _tree(child, depth + 1)
        if name not in out:
            out[name] = value
        elif isinstance(out[name], list):
            out[name].append(value)
        else:
            out[name] = [out[name], value]
    return out


def _reason(exc: ET.ParseError) -> str:
    """expat's message without the position ElementTree appends (the Problem carries the line)."""
    return re.sub(r":\s*line \d+, column \d+$", "", str(exc))
