"""Search keys: script-neutral folding and legal-suffix stripping."""
from __future__ import annotations

import pytest

from corpgraph.graph.identity.normalize import fold, query_key, search_keys, strip_suffixes


@pytest.mark.parametrize(("name", "stripped"), [
    ("拉卡拉支付股份有限公司", "拉卡拉支付"),
    ("Lakala Payment Co., Ltd.", "lakala payment"),
    ("ABC Holdings Co., Ltd.", "abc"),
    ("(주)카카오", "카카오"),
    ("Stag", "stag"),             # "ag" inside a word is not a legal form
    ("Stag AG", "stag"),
    ("Group", "group"),           # never stripped down to nothing
])
def test_strip_suffixes(name: str, stripped: str) -> None:
    assert strip_suffixes(name) == stripped


def test_fold_is_width_case_and_punctuation_neutral() -> None:
    assert fold("Ｌａｋａｌａ") == fold("LAKALA") == fold("la-kala") == "lakala"


def test_keys_hold_name_with_and_without_suffix() -> None:
    assert search_keys(["Kaola Credit Co., Ltd."]) == ["kaolacredit", "kaolacreditcoltd"]
    assert query_key("Kaola Credit Co., Ltd.") == "kaolacredit"
