"""Entity ids <-> node indices in a few bytes an id: no Python str or dict entry per node.

A million-node projection kept its ids as a list of str plus a dict (about 150 bytes a node). Here the ids
are grouped by length, and each group is one sorted numpy array of fixed-width bytes (`S<length>`), so an
id costs its own bytes and nothing else. Node indices follow that order (by length, then bytewise): the
ids of one length hold consecutive indices, so an index finds its group by one comparison against a few
group starts, and an id finds its index by one binary search (`np.searchsorted`) in the group of its length.

Entity ids are ASCII (schema.values.EntityId: letters, digits and `_.:-`), never contain NUL (which a numpy
bytes array would strip) and are at most 200 characters, so there are at most 200 groups. Other text
is encoded as UTF-8 and grouped by its byte length.

`extend` adds ids without rebuilding: they take the next indices, in a small overflow (a list and a dict)
shared by nothing else, while the sorted groups are shared with the table it extends.
"""
from __future__ import annotations

import bisect
import sys
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from corpgraph.graph.projection.distinct import distinct
from corpgraph.graph.projection.packed import position


def _encode(id: str) -> bytes:
    """The bytes an id is kept as (ASCII for every entity id)."""
    return id.encode("utf-8")


class NodeIds:
    """Ids of a projection's nodes: index <-> id, for one id or many at once."""

    def __init__(self, groups: Sequence[np.ndarray], extra: Sequence[str] = ()) -> None:
        # groups: one sorted, distinct `S<width>` array per id length, in increasing width
        self.groups: tuple[np.ndarray, ...] = tuple(groups)
        widths = [g.dtype.itemsize for g in self.groups]
        if widths != sorted(set(widths)):
            raise ValueError("NodeIds groups must have distinct widths, in increasing order")
        sizes = [g.size for g in self.groups]
        self._starts: list[int] = [0, *np.cumsum(sizes).tolist()]  # node index of the first id of each group, then the total
        self._by_width: dict[int, int] = {w: k for k, w in enumerate(widths)}
        self.base = self._starts[-1]  # ids in the sorted groups; the overflow's follow
        self.extra: tuple[str, ...] = tuple(extra)
        self._extra_index: dict[str, int] = {id: self.base + k for k, id in enumerate(self.extra)}

    @classmethod
    def build(cls, ids: Sequence[str]) -> tuple["NodeIds", np.ndarray]:
        """A table of distinct ids in any order, and the node index of each of them (same positions as `ids`)."""
        positions = np.empty(len(ids), dtype=np.int32 if len(ids) < 2**31 else np.int64)
        groups = []
        start = 0
        for width, members, column in _by_length(ids):
            order = np.argsort(column, kind="stable")
            group = column[order]
            if group.size > 1 and (group[1:] == group[:-1]).any():
                raise ValueError("NodeIds.build takes distinct ids")
            positions[members[order]] = np.arange(start, start + group.size)
            groups.append(group)
            start += group.size
        return cls(groups), positions

    def __len__(self) -> int:
        """Number of ids."""
        return self.base + len(self.extra)

    def __getitem__(self, index: int) -> str:
        """The id of a node index (numpy integers accepted)."""
        at = position(index, len(self))
        if at < self.base:
            group = bisect.bisect_right(self._starts, at) - 1 if len(self.groups) > 1 else 0
            found: bytes = self.groups[group].item(at - self._starts[group])
            return found.decode("utf-8")
        return self.extra[at - self.base]

    def __iter__(self) -> Iterator[str]:
        """Every id in index order."""
        for group in self.groups:
            yield from (b.decode("utf-8") for b in group.tolist())
        yield from self.extra

    def __contains__(self, id: object) -> bool:
        """Whether the id is a node."""
        return isinstance(id, str) and self.get(id) is not None

    def get(self, id: str, default: int | None = None) -> int | None:
        """The node index of an id, or `default` when it is not a node."""
        found = self._extra_index.get(id)
        if found is not None:
            return found
        key = _encode(id)
        group = self._by_width.get(len(key))
        if group is None:
            return default
        ids = self.groups[group]
        at = int(ids.searchsorted(key))
        if at < ids.size and ids.item(at) == key:
            return self._starts[group] + at
        return default

    def index(self, id: str) -> int:
        """The node index of an id; KeyError when it is not a node."""
        found = self.get(id)
        if found is None:
            raise KeyError(id)
        return found

    def indices(self, ids: Sequence[str]) -> np.ndarray:
        """Node indices of many ids at once (one binary search per length group), -1 where an id is not a node."""
        out = np.full(len(ids), -1, dtype=np.int64)
        for width, members, keys in _by_length(ids):
            group = self._by_width.get(width)
            if group is None:
                continue
            table = self.groups[group]
            at = np.minimum(np.searchsorted(table, keys), table.size - 1)
            hit = table[at] == keys
            out[members[hit]] = self._starts[group] + at[hit]
        if self.extra:
            for k in np.flatnonzero(out < 0).tolist():
                out[k] = self._extra_index.get(ids[k], -1)
        return out

    def ids(self, indices: Iterable[int] | np.ndarray) -> list[str]:
        """Ids of many node indices at once (in their order)."""
        at = np.asarray(indices if isinstance(indices, np.ndarray) else list(indices), dtype=np.int64).ravel()
        if at.size and (at.min() < 0 or at.max() >= len(self)):
            raise IndexError("node index out of range")
        out: list[str] = [""] * at.size
        group_of = np.searchsorted(np.asarray(self._starts), at, side="right") - 1
        for group in distinct(group_of).tolist():
            members = np.flatnonzero(group_of == group)
            if group >= len(self.groups):  # the overflow
                for k, i in zip(members.tolist(), at[members].tolist()):
                    out[k] = self.extra[i - self.base]
                continue
            found = _texts(self.groups[group][at[members] - self._starts[group]])
            if members.size == at.size:  # one group (the usual case): the ids are already in order
                return found
            for k, value in zip(members.tolist(), found):
                out[k] = value
        return out

    def keys(self, indices: np.ndarray) -> np.ndarray:
        """The ids of node indices as one fixed-width bytes array that numpy sorts as the ids sort as str.

        UTF-8 bytes order as their code points do, and the NUL padding of the shorter ids sorts first, as a
        prefix does (ids hold no NUL): a sort by id without a Python str per node.
        """
        at = np.asarray(indices, dtype=np.int64)
        if at.size and (at.min() < 0 or at.max() >= len(self)):
            raise IndexError("node index out of range")
        group_of = np.searchsorted(np.asarray(self._starts), at, side="right") - 1
        present = distinct(group_of).tolist()
        widths = [self.groups[g].dtype.itemsize for g in present if g < len(self.groups)]
        extra = [_encode(self.extra[i - self.base]) for i in at[group_of >= len(self.groups)].tolist()]
        out = np.zeros(at.size, dtype=f"S{max(widths + [len(e) for e in extra] + [1])}")
        for group in present:
            members = group_of == group
            if group >= len(self.groups):  # the overflow
                out[members] = extra
            else:
                out[members] = self.groups[group][at[members] - self._starts[group]]
        return out

    def extend(self, new_ids: Iterable[str]) -> "NodeIds":
        """A table with the ids not yet here appended (next indices, in order of first appearance); shares the groups."""
        fresh = [i for i in dict.fromkeys(new_ids) if i not in self]
        return NodeIds(self.groups, (*self.extra, *fresh)) if fresh else self

    @property
    def nbytes(self) -> int:
        """Bytes held: the sorted groups' buffers, and the overflow's Python objects."""
        extra = sys.getsizeof(self.extra) + sum(map(sys.getsizeof, self.extra)) if self.extra else 0
        index = sys.getsizeof(self._extra_index) + 28 * len(self._extra_index) if self.extra else 0  # keys: in extra
        return sum(int(g.nbytes) for g in self.groups) + extra + index


def _texts(found: np.ndarray) -> list[str]:
    """The ids of one group's fixed-width bytes (every one exactly that wide), as str.

    ASCII ids (every entity id) are decoded as one string and cut into equal slices: one str an id, and no
    bytes object and decode call per id as `tolist()` made (0.34 s for the 850k companies the largest holder of a
    1M world holds; 0.15 s so).
    """
    width, joined = found.dtype.itemsize, found.tobytes()
    if not joined.isascii():
        return [value.decode("utf-8") for value in found.tolist()]
    text = joined.decode("ascii")
    return [text[k:k + width] for k in range(0, len(text), width)]


def _by_length(ids: Sequence[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The ids grouped by byte length: (length, their positions in `ids`, their bytes as one `S<length>` array).

    Each group is joined into one buffer and viewed as fixed-width bytes: no per-id conversion in numpy.
    """
    if not len(ids):
        return
    text: Sequence[str] | list[bytes] = ids
    if not "".join(ids).isascii():
        text = [_encode(i) for i in ids]
    lengths = np.fromiter(map(len, text), np.int64, len(text))
    if lengths.min() < 1:
        raise ValueError("an id is never empty")
    for width in np.unique(lengths).tolist():
        members = np.flatnonzero(lengths == width)
        chosen = [text[k] for k in members.tolist()]
        joined = "".join(chosen).encode("ascii") if isinstance(chosen[0], str) else b"".join(chosen)  # type: ignore[arg-type]
        yield width, members, np.frombuffer(joined, dtype=f"S{width}")
