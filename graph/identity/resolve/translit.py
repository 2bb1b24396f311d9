"""Latin forms of names in other scripts, so "拉卡拉", "라카라" and "Лакала" meet "Lakala".

Chinese goes through pypinyin (MIT): its phrase dictionary picks the reading of characters with several
(重庆 is chongqing, not zhongqing), which per-character tables get wrong. Everything else (Korean
Hangul syllable by syllable in Revised Romanisation's letters, Cyrillic, Greek, Japanese kana, ...)
goes through anyascii (ISC), one maintained table for every script. Both are pure Python wheels.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache


def latin(name: str) -> str | None:
    """The name in Latin letters, or None when it has nothing to transliterate (already ASCII)."""
    text = unicodedata.normalize("NFKC", name)
    if text.isascii():
        return None
    return _anyascii()("".join(_pinyin()(text)))


@lru_cache(maxsize=1)
def _pinyin() -> Callable[[str], list[str]]:
    """pypinyin's lazy_pinyin (imported on first use: it loads its dictionaries, about half a second)."""
    from pypinyin import lazy_pinyin

    return lazy_pinyin


@lru_cache(maxsize=1)
def _anyascii() -> Callable[[str], str]:
    """anyascii's transliteration function."""
    from anyascii import anyascii

    return anyascii
