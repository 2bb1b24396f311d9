"""Match keys of an entity: each name and alias folded without its legal form, as written and transliterated.

The folding and the legal forms are graph.identity.normalize's (the search keys'); this module only adds the
transliterated variants and remembers, for each key, which name gave it and how, so a candidate can
say why it was proposed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from corpgraph.schema.records import Entity

from corpgraph.graph.identity.normalize import fold, strip_suffixes
from corpgraph.graph.identity.resolve.translit import latin


_WORD_ONLY = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class NameKey:
    """One match key and where it came from: the name or alias as written, and whether it was transliterated."""

    key: str
    name: str
    alias: bool
    transliterated: bool


def name_keys(entity: Entity) -> list[NameKey]:
    """Every match key of an entity (its name first, then its aliases), without repeats."""
    out: dict[str, NameKey] = {}
    for position, name in enumerate([entity.name, *entity.aliases]):
        for key in _keys(name):
            out.setdefault(key.key, NameKey(key.key, name, position > 0, key.transliterated))
    return list(out.values())


def exact_key(name: str) -> str:
    """The name folded with its legal form kept: equal keys mean identical names, not just the same stem."""
    return fold(name)


def _keys(name: str) -> list[NameKey]:
    """The folded stem of a name and, for other scripts, of its Latin transliteration."""
    stem = fold(strip_suffixes(name))
    keys = [NameKey(stem, name, False, False)] if stem else []
    # Legal forms in CJK and Hangul are stripped before transliterating (有限公司 is not part of the name),
    # Latin ones after it (the transliteration of "ООО Ромашка" may end in one).
    roman = latin(strip_suffixes(name))
    if roman:
        key = _WORD_ONLY.sub("", fold(strip_suffixes(roman)))  # anyascii spells « as <<: no key of its own
        if key and key != stem:
            keys.append(NameKey(key, name, False, True))
    return keys
