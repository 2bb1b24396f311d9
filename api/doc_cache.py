"""Parsed GraphQL documents and their validation errors by query text: an LRU cache bounded by bytes, not entries.

A count bound lets a few large distinct queries take any amount of memory (140 distinct 5 MB queries
took the server from 112 MB to 1.4 GB). Here each entry is weighed when it is stored (the parsed tree
walked once: nodes, tokens, strings) and the least recently used entries go until the total fits.
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, Node
from graphql.language import Location, Source, Token

from corpgraph.api.query_cost import Measure


@dataclass
class CachedDocument:
    """A parsed document, its validation errors once known (None: not validated yet), and its weight.

    `measured`: the document's last measures (api/query_cost.py) with the key they hold for (the values of the
    variables its `first` arguments read), so the lane choice and the limit check of a request, and the next
    request with the same page sizes, walk the document once (~60 us a request at 200k); one slot, so its memory
    stays proportional to the document's operations, which the weight already counts. `names`: the field names
    the lane choice looks for heavy fields among (the document's own strings).
    """

    document: DocumentNode
    errors: list[GraphQLError] | None = None
    size: int = field(default=0)
    page_variables: tuple[str, ...] | None = None  # names of the variables its `first` arguments read, once known
    names: frozenset[str] | None = None  # every field name its text asks for, once known (the lane choice)
    measured: tuple[tuple[Any, ...], dict[str, Measure]] | None = None


class DocumentCache:
    """LRU of CachedDocument by query text; the sum of entry sizes stays within max_bytes. Thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, CachedDocument] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> CachedDocument | None:
        """The entry of a query text (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(text)
            if entry is not None:
                self._entries.move_to_end(text)
            return entry

    def put(self, text: str, document: DocumentNode) -> CachedDocument:
        """Store a parsed document (an entry larger than the whole budget is returned but not kept)."""
        entry = CachedDocument(document, size=sys.getsizeof(text) + tree_size(document))
        with self._lock:
            if entry.size > self.max_bytes:
                return entry
            self._drop(text)
            self._entries[text] = entry
            self.bytes += entry.size
            while self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return entry

    def validated(self, text: str, entry: CachedDocument, errors: list[GraphQLError]) -> None:
        """Remember the validation errors of an entry; their messages count towards its weight."""
        extra = sum(sys.getsizeof(e) + sys.getsizeof(e.message) for e in errors)
        with self._lock:
            entry.errors = errors
            if self._entries.get(text) is entry:
                entry.size += extra
                self.bytes += extra
                while self.bytes > self.max_bytes:
                    self._drop(next(iter(self._entries)))

    def __len__(self) -> int:
        """Number of cached documents."""
        return len(self._entries)

    def _drop(self, text: str) -> None:
        """Forget one entry (under the lock)."""
        old = self._entries.pop(text, None)
        if old is not None:
            self.bytes -= old.size


def tree_size(root: object) -> int:
    """Bytes held by a parsed document: every node, location, token and string reachable from it, once each.

    Walks only graphql-core's own objects (nodes, locations, tokens, sources), lists, tuples and strings,
    so it never wanders into classes or modules; iterative, so deep documents cannot overflow the stack.
    """
    seen: set[int] = set()
    stack: list[object] = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        attributes = getattr(obj, "__dict__", None)  # nodes and tokens keep their fields in a dict
        if attributes is not None:
            total += sys.getsizeof(attributes)
        if isinstance(obj, Node):
            stack.extend(vars(obj).values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, Location):
            stack.extend((obj.start_token, obj.end_token, obj.source))
        elif isinstance(obj, Token):
            stack.extend((obj.value, obj.prev, obj.next))
        elif isinstance(obj, Source):
            stack.append(obj.body)
    return total
