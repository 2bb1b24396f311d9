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
        # More legal forms, for matching names across registers (graph/resolve): Europe, Russia, Asia-Pacific.
        "s.p.a.", "s.r.l.", "srl", "s.a.r.l.", "sarl", "s.a.s.", "s.l.", "sp. z o.o.", "kgaa", "kg", "se",
        "oy", "oyj", "a/s", "aps", "ab", "asa", "pty ltd", "pty. ltd.", "pty", "llp", "pjsc", "ojsc", "cjsc", "jsc",
        "k.k.", "有限会社", "合同会社", "(유)", "aktiengesellschaft", "aktiebolag", "osakeyhtiö", "société anonyme",
        "sociedad anónima", "società per azioni", "public limited company", "limited liability company",
    ],
    key=len,
    reverse=True,
)
_PUNCT = re.compile(r"[\s\-_.,'\"()（）\[\]·・/&«»“”„]+")


def fold(text: str) -> str:
    """NFKC, case-folded, punctuation and spaces removed: the form keys are compared in."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text).casefold())


_LATIN = [x for x in LEGAL_SUFFIXES if x[0].isascii() and x[0].isalpha()]
_OTHER = [x for x in LEGAL_SUFFIXES if x not in _LATIN]
# Latin suffixes must stand as words ("Stag" keeps its "ag"); CJK ones attach without a space.
_SUFFIX = re.compile(
    r"(?:(?<=[\s,.])(?:" + "|".join(re.escape(x) for x in _LATIN) + ")|(?:"
    + "|".join(re.escape(x) for x in _OTHER) + r"))[\s,.\-]*$"
)
# Korean forms may lead the name; so do Russian ones (ООО «Ромашка», ПАО Газпром), then with a space.
_PREFIX = re.compile(r"^(?:\(주\)|㈜|주식회사|\(유\))\s*|^(?:ооо|оао|зао|пао|ао)\s+[«\"“]?")


def strip_suffixes(text: str) -> str:
    """Remove legal-form suffixes (repeatedly: "Holdings Co., Ltd." loses both) and Korean prefixes."""
    current = _PREFIX.sub("", unicodedata.normalize("NFKC", text).casefold().strip()) or text
    while True:
        match = _SUFFIX.search(current)
        if match is None or match.start() == 0:  # never strip a name down to nothing
            return current
        current = current[: match.start()].rstrip(" ,.-")


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
