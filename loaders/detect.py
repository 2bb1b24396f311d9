"""Tell a file's format from its content (the first bytes), trying every known format in turn."""
from __future__ import annotations

from pathlib import Path

from schema.errors import InvalidInput, Problem

from loaders.formats import HEAD_BYTES, Format, available, get_format


def detect(path: Path) -> Format:
    """The first format (in detection order) that recognises the file; InvalidInput naming those tried."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
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
        return get_format(name)
    except ValueError as exc:
        raise InvalidInput([Problem(str(path), 0, "(file)", str(exc))]) from None
