"""Tell a file's format from its content (the first bytes), trying every known format in turn."""
from __future__ import annotations

from pathlib import Path

from corpgraph.schema.errors import InvalidInput, Problem

from corpgraph.loaders.formats import HEAD_BYTES, Format, available, get_format


def detect(path: Path) -> Format:
    """The first format (in detection order) that recognises the file; InvalidInput naming those tried."""
    head = _head(path)
    formats = available()
    for fmt in formats.values():
        if fmt.sniff(head, path):
            return fmt
    tried = ", ".join(formats)
    raise InvalidInput([Problem(str(path), 0, "(file)", f"cannot tell the format of this file from its content "
                                                        f"(tried {tried}); name it with --format")])


def choose(path: Path, name: str | None) -> Format:
    """The named format, or the detected one; InvalidInput for an unknown name or an undetectable file."""
    if name is None:
        return detect(path)
    try:
        fmt = get_format(name)
    except ValueError as exc:
        raise InvalidInput([Problem(str(path), 0, "(file)", str(exc))]) from None
    head = _head(path)
    if not fmt.sniff(head, path):
        # A file of another known format would otherwise fail record by record; say what it is instead.
        other = next((f for f in available().values() if f.name != name and f.sniff(head, path)), None)
        if other is not None:
            raise InvalidInput([Problem(str(path), 0, "(file)", f"not {name}: the content is {other.name}; load "
                                                                f"it with --format {other.name}, or without --format")])
    return fmt


def _head(path: Path) -> bytes:
    """The first bytes of a file, as `sniff` sees them."""
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)
