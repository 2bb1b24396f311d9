"""Large arrays a delta copies, in anonymous pages of their own: not on the transparent huge pages numpy asks for.

numpy advises the kernel to back every allocation of 4 MB or more with huge pages (`madvise(MADV_HUGEPAGE)`).
A delta copies a view's W and adjacency arrays once per write (graph.projection.view_delta: 30-40 MB at 1M
companies), into memory never touched before; on a machine whose memory is fragmented (`defrag` set to
`madvise`, the default) each huge-page fault of those copies compacts memory first. At 1M companies that made a
100-record write cost a worker ~240 ms of CPU where the same copies on ordinary pages cost ~60 ms (and ~28 ms in
pages the process already had). The pages here are mapped without that advice and populated in one call
(MAP_POPULATE), not one fault a page; they are unmapped when the last array over them is gone, as numpy's are.
"""
from __future__ import annotations

import mmap

import numpy as np

LARGE = 1 << 20  # bytes from which an array gets pages of its own (below, numpy's allocator: no huge pages there)
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux; elsewhere the pages are faulted in as they are written


def fresh_empty(size: int, dtype: np.dtype | type, populate: bool = True) -> np.ndarray:
    """An uninitialised, writable array of `size` entries (populate: its pages mapped in now, for an array about to
    be written whole; else as they are first written, for one with spare capacity behind it)."""
    kind = np.dtype(dtype)
    nbytes = size * kind.itemsize
    if nbytes < LARGE:
        return np.empty(size, dtype=kind)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | (_POPULATE if populate else 0)
    return np.frombuffer(mmap.mmap(-1, nbytes, flags=flags), dtype=kind, count=size)
