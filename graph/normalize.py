"""Search keys: names and aliases in any script, NFKC, case-folded, with and without legal suffixes."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Longest first, so that "股份有限公司" is stripped before "有限公司".
LEGAL_SUFFIXES = sorted(
    [
        "股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司", "株式会社",
        "주식회사", "(주)", "㈜", "유한회사",
        "co., ltd.", "co.,ltd.", "co. ltd.", "co ltd", "co., ltd", "company limited", "limited", "ltd.", "ltd",
        "incorporated", "inc.", "inc", "corporation", "corp.", "corp", "co.", "plc", "llc", "l.l.c.",
        "gmbh", "ag", "s.a.", "sa", "n.v.", "nv", "b.v.", "bv", "group", "holdings", "holding",
    ],
    key=len,
    reverse=True,
)
_PUNCT = re.compile(r"[\s\-_.,'\"()（）\[\]·・/&]+")


def fold(text: str) -> str:
    """NFKC, case-folded, punctuation and spaces removed: the form keys are compared in."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text).casefold())


def strip_suffixes(text: str) -> str:
    """Remove trailing legal-form suffixes (repeatedly: "Holdings Co., Ltd." loses both)."""
    current = unicodedata.normalize("NFKC", text).casefold().strip()
    changed = True
    while changed:
        changed = False
        for suffix in LEGAL_SUFFIXES:
            if current.endswith(suffix) and len(current) > len(suffix):
                current = current[: -len(suffix)].rstrip(" ,.-")
                changed = True
                break
        if current.startswith("(주)") or current.startswith("㈜") or current.startswith("주식회사"):
            current = current.removeprefix("(주)").removeprefix("㈜").removeprefix("주식회사").strip()
            changed = True
    return current


def search_keys(names: Iterable[str]) -> list[str]:
    """Every key an entity is found by: each name folded, with and without legal suffixes."""
    keys: set[str] = set()
    for name in names:
        for variant in (name, strip_suffixes(name)):
            key = fold(variant)
            if key:
                keys.add(key)
    return sorted(keys)


def query_key(text: str) -> str:
    """The key a search text is matched with (suffixes stripped, so "Lakala Co., Ltd." finds Lakala)."""
    return fold(strip_suffixes(text)) or fold(text)
