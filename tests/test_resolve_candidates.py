"""Candidate pairs and their scores, worked by hand from graph/identity/resolve/candidates.py's evidence strengths.

Strengths: identifier 0.9, identical name 0.85, same name 0.8, alias 0.75, transliteration 0.65,
country 0.3; score = 1 - prod(1 - p); conflicts multiply it: identifiers of a scheme that differ x0.2,
countries that differ x0.5.
"""
from __future__ import annotations

from typing import Any

import pytest

from corpgraph.graph.identity.normalize import strip_suffixes
from corpgraph.graph.identity.resolve.candidates import find_candidates
from corpgraph.graph.identity.resolve.translit import latin
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from corpgraph.schema.records import Entity
from tests.factory import company, parsed


def _entities(*raw: dict[str, Any]) -> list[Entity]:
    return [parsed(Entity, r) for r in raw]


def _scores(entities: list[Entity], **kw: Any) -> dict[tuple[str, str], float]:
    return {(c.a, c.b): c.score for c in find_candidates(entities, **kw).candidates}


SEED = [e for e, _ in load_file(seed_path()).entities]


def test_imported_victims_pair_with_the_known_company() -> None:
    found = find_candidates(SEED + _entities(
        company("v:lakala", "Lakala Payment Co., Ltd.", country="CN"), company("s:lakala", "拉卡拉"),
        company("v:kaola", "考拉征信", country="CN")))
    got = {(c.a, c.b): c for c in found.candidates}
    assert got[("lakala", "v:lakala")].score == 0.825  # alias 0.75, same country 0.3: 1 - 0.25 x 0.7
    assert got[("lakala", "v:lakala")].reasons == [
        'known alias: "Lakala Payment Co., Ltd." is an alias of lakala, matching "Lakala Payment Co., Ltd."',
        "same country CN"]
    assert got[("lakala", "s:lakala")].score == 0.75  # alias only: the STIX identity has no country
    assert got[("kaola", "v:kaola")].score == 0.825
    assert all(not c.conflicts for c in found.candidates)


def test_names_legal_forms_and_scripts() -> None:
    scores = _scores(_entities(
        company("a", "Swisscom AG", country="CH"), company("b", "Swisscom AG", country="CH"),  # identical: 0.85, CH
        company("c", "Volvo AB"), company("d", "VOLVO"),  # same name without the legal form: 0.8
        company("e", "ПАО Газпром"), company("f", "Gazprom PJSC"),  # transliteration: 0.65
        company("g", "拉卡拉支付股份有限公司"), company("h", "Lakala Zhifu Co., Ltd."),  # pinyin of the stem: 0.65
    ))
    assert scores == {("a", "b"): 0.895, ("c", "d"): 0.8, ("e", "f"): 0.65, ("g", "h"): 0.65}  # 0.895 = 1 - 0.15 x 0.7


def test_conflicts_lower_the_score_and_are_named() -> None:
    found = find_candidates(_entities(
        company("de1", "Acme GmbH", country="DE", identifiers={"LEI": "AAA"}),
        company("de2", "ACME AG", country="DE", identifiers={"LEI": "BBB"}),
        company("kaola-au", "Kaola Pty Ltd", country="AU"), company("kaola-cn", "카오라", country="CN"),
    ))
    got = {(c.a, c.b): c for c in found.candidates}
    # same name 0.8, country 0.3: 0.86; x0.2 for the two LEIs
    assert got[("de1", "de2")].score == pytest.approx(0.172)
    assert got[("de1", "de2")].conflicts == ["different identifiers of scheme LEI: AAA vs BBB"]
    # two different "Kaola" companies: the Korean name reads "kaola" (0.65), countries differ: x0.5
    assert got[("kaola-au", "kaola-cn")].score == 0.325
    assert got[("kaola-au", "kaola-cn")].conflicts == ["different countries: AU vs CN"]


def test_a_shared_identifier_alone_is_a_candidate() -> None:
    scores = _scores(_entities(company("x", "Alpha", identifiers={"LEI": "L1"}),
                               company("y", "Beta", identifiers=[{"scheme": "lei", "id": "L1"}])))
    assert scores == {("x", "y"): 0.9}


def test_blocking_never_compares_unrelated_names_and_skips_huge_blocks() -> None:
    many = _entities(*(company(f"c{i}", "Acme Ltd") for i in range(3)), company("z", "Zeta"))
    found = find_candidates(many, max_block=2)
    assert found.candidates == [] and found.skipped_blocks == [("acme", 3)]
    assert _scores(_entities(company("p", "Alpha"), company("q", "Beta"))) == {}


def test_only_entities_of_one_type_are_compared() -> None:
    raw = [company("c", "Lakala"), {"type": "Organization", "id": "o", "name": "Lakala"},
           {"type": "Person", "id": "p", "name": "Lakala"}, {"type": "Person", "id": "q", "name": "LAKALA"}]
    assert set(_scores(_entities(*raw))) == {("p", "q")}


def test_merged_and_split_pairs_are_not_candidates() -> None:
    ents = _entities(company("a", "Acme"), company("b", "Acme"), company("c", "Acme"))
    # a and b are one entity (canonical a): one candidate between the clusters {a, b} and {c}
    merged = find_candidates(ents, canonical=lambda x: "a" if x in "ab" else x).candidates
    assert [(c.a, c.b) for c in merged] == [("a", "c")]
    split = find_candidates(ents, different=lambda x, y: {x, y} == {"a", "c"}).candidates
    assert [(c.a, c.b) for c in split] == [("a", "b"), ("b", "c")]


def test_transliteration_and_legal_forms_in_many_languages() -> None:
    assert (latin("拉卡拉"), latin("重庆银行"), latin("Газпром"), latin("Lakala")) == (
        "lakala", "chongqingyinhang", "Gazprom", None)  # 重庆: the phrase reading chong, not zhong
    assert [strip_suffixes(n) for n in ("Gazprom PJSC", "ПАО Газпром", "Volvo AB", "Punjab", "Siemens SE",
                                        "(유)한국", "Fiat S.p.A.", "Nokia Oyj")] == [
        "gazprom", "газпром", "volvo", "punjab", "siemens", "한국", "fiat", "nokia"]
