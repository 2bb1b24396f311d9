"""Lines of a line-based input file (JSON Lines, CSV, FollowTheMoney) read with a cap on their length.

Iterating a file object reads a whole line however long it is: a 200 MB line sat in memory (with its decoded
copy, ~0.7 GB) before anything refused it. Every line-based reader goes through `bounded_lines`, which reads at
most MAX_LINE bytes of a line and skips the rest of a longer one in bounded pieces, so it is reported by number.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

# No record needs more: a name is at most 1,000 characters, a description 10,000, a list 200 entries.
MAX_LINE = 16 * 1024 * 1024
_SKIP = 64 * 1024  # bytes read at a time while skipping the rest of a line over the cap


def too_long(max_bytes: int = MAX_LINE) -> str:
    """The reason given for a line over the cap."""
    return (f"the line is longer than {max_bytes:,} bytes; no record takes that much (see the limits in the "
            "README): split it, or check that the file has line breaks")


def bounded_lines(handle: BinaryIO, max_bytes: int = MAX_LINE) -> Iterator[tuple[int, bytes | None]]:
    """Each line (with its line break) and its number from 1; None instead of a line longer than max_bytes."""
    number = 0
    while raw := handle.readline(max_bytes + 1):
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            # The rest of the long line, read in small pieces and dropped: pieces as large as the cap, freed and
            # allocated again, fragmented the heap (a 200 MiB line peaked at 103-263 MiB from run to run).
            while (rest := handle.readline(_SKIP)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, raw
