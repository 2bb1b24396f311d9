"""Bytes of an input file to text in bounded chunks, knowing the file's byte offset of any byte that is not UTF-8.

Readers that take a file in chunks (a JSON array, a GLEIF XML file, a VERIS document) decode through here, so
that a bad byte anywhere is reported as `not UTF-8 at byte N` of the file (counted from 1), never as a
traceback or an offset into some chunk.

Example: a file holding b'["a", "\\xe9"]' stops with NotUtf8(8) ("not UTF-8 at byte 8 of the file").
"""
from __future__ import annotations

import codecs
from typing import BinaryIO

BOM = b"\xef\xbb\xbf"


class NotUtf8(ValueError):
    """A byte that is not UTF-8, at `byte` of the file (from 1)."""

    def __init__(self, byte: int) -> None:
        self.byte = byte
        super().__init__(not_utf8(byte))


def not_utf8(byte: int, of: str = "the file") -> str:
    """The reason shown for a byte that is not UTF-8."""
    return f"not UTF-8 at byte {byte:,} of {of}; save the file as UTF-8"


class ChunkDecoder:
    """Reads a binary file's text a chunk at a time; a byte-order mark at the start is dropped."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0  # bytes of the file handed to the decoder so far
        self._started = False

    def read(self, size: int) -> str:
        """About `size` bytes more, as text ('' only at the end of the file); NotUtf8 at a bad byte."""
        while True:
            raw = self.handle.read(max(size, len(BOM)))
            end = not raw
            if not self._started:
                self._started = True
                if raw.startswith(BOM):
                    raw, self._offset = raw[len(BOM):], len(BOM)
            text = self._decode(raw, end)
            if text or end:  # a chunk may end inside a character (or be the mark alone): then read on
                return text

    def _decode(self, raw: bytes, end: bool) -> str:
        """Decode the next bytes (the last call, with none, checks that no character was left cut)."""
        pending = len(self._decoder.getstate()[0])  # bytes of a character cut by the previous chunk
        try:
            text = self._decoder.decode(raw, final=end)
        except UnicodeDecodeError as exc:
            raise NotUtf8(self._offset - pending + exc.start + 1) from None
        self._offset += len(raw)
        return text
