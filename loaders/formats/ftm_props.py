"""Reading FtM property values (every value a list of strings), shared by the FtM reader's modules."""
from __future__ import annotations


def first(props: dict[str, list[str]], name: str) -> str | None:
    """The first non-blank value of a property, or None."""
    for value in props.get(name, []):
        if value.strip():
            return value.strip()
    return None
