"""Stream the items of a JSON document (a top-level array) or of a JSON Lines file, one at a time.

A 10-million-statement BODS array is never parsed whole: items are decoded one by one from a sliding
text window, each with its JSON pointer (`/12`); JSON Lines items come with their line number.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import Problem

from corpgraph.loaders.jsontext import DECODER, TOO_DEEP, JsonTextError, loads
from corpgraph.loaders.lines import bounded_lines, too_long
from corpgraph.loaders.textdecode import BOM, ChunkDecoder, NotUtf8, not_utf8

CHUNK = 1 << 20
_WS = " \t\r\n"


def first_char(head: bytes) -> str:
    """The first non-blank character of a file's head ('' when there is none); skips a UTF-8 BOM."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return chr(text[0]) if text else ""


def read_document(path: Path) -> Any | Problem:
    """A whole JSON document (one API page, one STIX bundle) read at once, or the Problem that stops it: not UTF-8
    at a byte, truncated (the text ends inside the value), or the first syntax error with its line and column."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # utf-8-sig counts from after a byte-order mark
        return Problem(str(path), 0, "(document)", not_utf8(exc.start + (3 if data.startswith(BOM) else 0) + 1), "")
    try:
        return DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return Problem(str(path), 0, "(document)", _syntax(text, exc), "")
    except (JsonTextError, RecursionError):
        try:
            loads(text)  # the same text again through the reader that words these reasons
        except JsonTextError as reason:
            return Problem(str(path), 0, "(document)", str(reason), "")
        raise


def _syntax(text: str, exc: json.JSONDecodeError) -> str:
    """The reason for a JSON document's syntax error: truncated when the text ends inside the value."""
    if not text[exc.pos:].strip():
        return (f"truncated: the JSON document ends at line {exc.lineno} before its value is complete "
                f"({len(text.encode()):,} bytes read); the file was cut short")
    return f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"


def iter_json_items(path: Path) -> Iterator[tuple[Origin, Any] | Problem]:
    """Items of a JSON array document (with pointers) or of a JSON Lines file (with line numbers)."""
    with path.open("rb") as probe:
        array = first_char(probe.read(4096)) == "["
    return _iter_array(path) if array else _iter_lines(path)


def _iter_lines(path: Path) -> Iterator[tuple[Origin, Any] | Problem]:
    """One JSON value per line; blank lines are skipped."""
    file = str(path)
    with path.open("rb") as handle:
        for number, raw in bounded_lines(handle):
            if raw is None:
                yield Problem(file, number, "(line)", too_long())
                continue
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield Problem(file, number, "(line)", not_utf8(exc.start + 1, "the line"))
                continue
            if not line.strip():
                continue
            try:
                yield Origin(file, number), loads(line)
            except JsonTextError as exc:
                yield Problem(file, number, "(line)", str(exc))


def _iter_array(path: Path) -> Iterator[tuple[Origin, Any] | Problem]:
    """The items of a top-level JSON array, decoded one at a time from a window of the text."""
    file = str(path)
    decoder = DECODER
    window = _Window(path)
    try:
        window.start()
        pos = window.skip(0)
        pos += 1  # the "[" first_char saw
        index = 0
        while True:
            pos = window.skip(pos)
            if pos >= len(window.text):
                yield Problem(file, index + 1, "(document)", "the JSON array is not closed", f"/{index}")
                return
            if window.text[pos] == "]":
                break
            if index > 0:
                if window.text[pos] != ",":
                    yield Problem(file, index + 1, "(document)", "not valid JSON: expected ',' or ']'", f"/{index}")
                    return
                pos = window.skip(pos + 1)
            value, pos = _decode(decoder, window, pos)
            if isinstance(value, ValueError):
                reason = f"not valid JSON: {value.msg}" if isinstance(value, json.JSONDecodeError) else str(value)
                yield Problem(file, index + 1, "(document)", reason, f"/{index}")
                return
            yield Origin(file, index + 1, f"/{index}"), value
            index += 1
            pos = window.slide(pos)
        if window.skip(pos + 1) < len(window.text):
            yield Problem(file, index + 1, "(document)", "not valid JSON: text after the closing ']'", "")
    except NotUtf8 as exc:
        yield Problem(file, 0, "(document)", str(exc), "")
    finally:
        window.handle.close()


def _decode(decoder: json.JSONDecoder, window: "_Window", pos: int) -> tuple[Any, int]:
    """Decode the value at pos, reading more text while it may be cut off by the window's end."""
    while True:
        try:
            value, end = decoder.raw_decode(window.text, pos)
        except json.JSONDecodeError as exc:
            if window.more():
                continue
            return exc, pos
        except JsonTextError as exc:
            return exc, pos
        except RecursionError:
            return JsonTextError(TOO_DEEP), pos
        if end < len(window.text) or not window.more():  # a number at the very end may go on
            return value, end


class _Window:
    """A sliding window of a file's text: read more on demand, drop what was consumed."""

    def __init__(self, path: Path) -> None:
        self.handle = path.open("rb")
        self.chunks = ChunkDecoder(self.handle)  # a byte that is not UTF-8 raises NotUtf8 with its file offset
        self.text = ""
        self.eof = False

    def start(self) -> None:
        """Read the first chunk."""
        self.text = self.chunks.read(CHUNK)
        self.eof = not self.text

    def more(self) -> bool:
        """Append the next chunk; False at the end of the file."""
        if self.eof:
            return False
        chunk = self.chunks.read(max(CHUNK, len(self.text)))  # doubling: big items are read in few rounds
        if not chunk:
            self.eof = True
            self.handle.close()
            return False
        self.text += chunk
        return True

    def skip(self, pos: int) -> int:
        """The position of the next non-blank character at or after pos (reading more as needed)."""
        while True:
            while pos < len(self.text) and self.text[pos] in _WS:
                pos += 1
            if pos < len(self.text) or not self.more():
                return pos

    def slide(self, pos: int) -> int:
        """Drop consumed text once it is large; returns pos in the new window."""
        if pos > CHUNK:
            self.text = self.text[pos:]
            return 0
        return pos
