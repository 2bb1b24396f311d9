"""A read-only list of strings packed into two arrays: millions of relation ids without a str object each."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import SupportsIndex

import numpy as np


class PackedStrings:
    """Strings as one UTF-8 buffer plus offsets; indexing decodes one string on demand.

    A Python str costs ~50 bytes of overhead on top of its text; the projection keeps one relation id
    per edge (3 million at 1M companies), so packing them saves most of that memory.

    >>> PackedStrings(["OWNS|a|b|", "AFFECTED|i|a"])[1]
    'AFFECTED|i|a'
    """

    def __init__(self, strings: Sequence[str]) -> None:
        encoded = [s.encode("utf-8") for s in strings]
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=self.offsets[1:])
        self.buffer = np.frombuffer(b"".join(encoded), dtype=np.uint8)

    @classmethod
    def from_arrays(cls, buffer: np.ndarray, offsets: np.ndarray) -> "PackedStrings":
        """Strings already packed (as `buffer` and `offsets` hold them: read back from a snapshot)."""
        packed = cls([])
        packed.buffer, packed.offsets = buffer, offsets
        return packed

    def extended(self, strings: Sequence[str]) -> "PackedStrings":
        """These strings followed by more (a new object: this one is left as it is, readers may hold it)."""
        more = PackedStrings(strings)
        out = PackedStrings([])
        out.offsets = np.concatenate((self.offsets, self.offsets[-1] + more.offsets[1:]))
        out.buffer = np.concatenate((self.buffer, more.buffer))
        return out

    def __len__(self) -> int:
        """Number of strings."""
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        """The string at an index (numpy integers accepted; negative indices count from the end)."""
        at = position(index, len(self))
        return self.buffer[self.offsets[at]:self.offsets[at + 1]].tobytes().decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        """Every string in order."""
        return (self[i] for i in range(len(self)))


def position(index: SupportsIndex, length: int) -> int:
    """A list's position for an index into `length` items (numpy integers accepted; negative indices count from the
    end); IndexError(index) outside."""
    at = int(index)
    if at < 0:
        at += length
    if not 0 <= at < length:
        raise IndexError(index)
    return at
