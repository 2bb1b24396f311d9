"""The matcher measured: precision and recall on a labelled set of pairs, and candidate generation's speed.

    python benchmarks/matching.py                         # labelled set + 100,000 companies and 10,000 victims
    python benchmarks/matching.py --companies 1000000     # the issue's scale (about 2 GB of records in memory)
    python benchmarks/matching.py --no-timing             # the labelled set only
    python benchmarks/matching.py --store-dir /tmp        # also through an embedded store, as `corpgraph resolve`

The labelled set is written by hand below: known entities (with the aliases a curated graph holds, as the
seed does) against names as incident sources give them, in mixed scripts and legal forms, with near-
homonyms that are different companies. A pair is *predicted the same* at threshold t when the matcher
lists it with score >= t and no conflict: exactly what `corpgraph resolve --accept-above t` would merge.
Each pair is scored on its own; the crowd run puts every entity of the set together and counts every
candidate the labels do not call the same as a false positive.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpgraph.graph.identity.resolve.candidates import find_candidates  # noqa: E402
from corpgraph.schema.declaration import parse_record  # noqa: E402
from corpgraph.schema.records import Entity  # noqa: E402

LAKALA = {"name": "Lakala", "aliases": ["拉卡拉", "라카라", "Lakala Payment Co., Ltd."], "country": "CN"}
KAOLA = {"name": "Kaola Credit", "aliases": ["考拉征信", "카오라정신", "카오라", "Kaola Zhengxin"], "country": "CN"}
DB_LEI = [{"scheme": "LEI", "id": "7LTWFZYICNSX8D621K86"}]
# (known entity, name as a source gives it, the same entity?, what the pair tests)
PAIRS: list[tuple[dict[str, Any], dict[str, Any], bool, str]] = [
    (LAKALA, {"name": "Lakala Payment Co., Ltd.", "country": "CN"}, True, "alias, legal form"),
    (LAKALA, {"name": "拉卡拉"}, True, "alias in Chinese, no country"),
    (LAKALA, {"name": "라카라"}, True, "alias in Korean"),
    (LAKALA, {"name": "拉卡拉支付股份有限公司", "country": "CN"}, True, "longer Chinese name (支付 = payment)"),
    (KAOLA, {"name": "考拉征信", "country": "CN"}, True, "alias in Chinese"),
    (KAOLA, {"name": "KAOLA CREDIT CO., LTD.", "country": "CN"}, True, "case and legal form"),
    ({"name": "Swisscom AG", "country": "CH"}, {"name": "Swisscom", "country": "CH"}, True, "legal form"),
    ({"name": "Volkswagen AG", "country": "DE"}, {"name": "VOLKSWAGEN AKTIENGESELLSCHAFT", "country": "DE"}, True,
     "legal form spelled out"),
    ({"name": "Nokia Oyj", "country": "FI"}, {"name": "NOKIA CORPORATION", "country": "FI"}, True, "two legal forms"),
    ({"name": "Total S.A.", "country": "FR"}, {"name": "TOTAL SE", "country": "FR"}, True, "legal form changed"),
    ({"name": "Alibaba Group Holding Limited", "country": "CN"}, {"name": "Alibaba Group", "country": "CN"}, True,
     "stacked legal forms"),
    ({"name": "Equifax Inc.", "country": "US"}, {"name": "Equifax", "country": "US"}, True, "legal form"),
    ({"name": "Marriott International, Inc.", "country": "US"}, {"name": "Marriott International", "country": "US"},
     True, "punctuation, legal form"),
    ({"name": "Target Corporation", "country": "US"}, {"name": "Target Corp", "country": "US"}, True, "abbreviation"),
    ({"name": "Gazprom PJSC", "country": "RU"}, {"name": "ПАО «Газпром»", "country": "RU"}, True,
     "Cyrillic, Russian legal form first"),
    ({"name": "Sberbank", "country": "RU"}, {"name": "Сбербанк", "country": "RU"}, True, "Cyrillic"),
    ({"name": "Lukoil", "country": "RU"}, {"name": "Лукойл", "country": "RU"}, True, "Cyrillic й (reads lukojl)"),
    ({"name": "Kakao Corp.", "country": "KR"}, {"name": "(주)카카오", "country": "KR"}, True, "Hangul, (주)"),
    ({"name": "Hanwha", "country": "KR"}, {"name": "한화", "country": "KR"}, True, "Hangul (reads hanhwa)"),
    ({"name": "Samsung Electronics Co., Ltd.", "country": "KR"}, {"name": "삼성전자 주식회사", "country": "KR"}, True,
     "Korean name is a translation"),
    ({"name": "Tencent Holdings Ltd.", "country": "CN"}, {"name": "腾讯控股有限公司", "country": "CN"}, True,
     "Chinese name is not a transliteration"),
    ({"name": "Deutsche Bank AG", "country": "DE", "identifiers": DB_LEI},
     {"name": "DB AG", "country": "DE", "identifiers": DB_LEI}, True, "shared LEI"),
    ({"name": "United Airlines", "country": "US"}, {"name": "United Airlines", "country": "US"}, True, "identical"),
    # Different entities.
    (KAOLA, {"name": "Kaola Pty Ltd", "country": "AU"}, False, "near-homonym: another Kaola"),
    (KAOLA, {"name": "Kaola Ltd", "country": "GB"}, False, "near-homonym reached through the Korean alias"),
    ({"name": "Kaola Travel", "country": "AU"}, {"name": "Kaola Travel", "country": "NZ"}, False,
     "same name, other country"),
    ({"name": "Kaola", "country": "AU"}, {"name": "考拉", "country": "CN"}, False, "same reading, other country"),
    ({"name": "Alpha Bank", "country": "GR"}, {"name": "Alpha Bank", "country": "RO"}, False,
     "subsidiary of the same name abroad"),
    ({"name": "Acme GmbH", "country": "DE", "identifiers": [{"scheme": "LEI", "id": "AAAAAAAAAAAAAAAAAA01"}]},
     {"name": "ACME AG", "country": "DE", "identifiers": [{"scheme": "LEI", "id": "AAAAAAAAAAAAAAAAAA02"}]}, False,
     "same stem, different LEIs"),
    ({"name": "ABC Holdings", "country": "US"}, {"name": "ABC Inc", "country": "US"}, False,
     "holding and operating company (Holdings is stripped as a legal form)"),
    ({"name": "Alipay", "country": "CN"}, {"name": "Alipay (UK) Limited", "country": "GB"}, False, "foreign subsidiary"),
    ({"name": "Alibaba Group", "country": "CN"}, {"name": "Alibaba Pictures Group", "country": "CN"}, False,
     "longer name"),
    ({"name": "Samsung Electronics", "country": "KR"}, {"name": "Samsung SDS", "country": "KR"}, False, "sister company"),
    ({"name": "Apple Inc.", "country": "US"}, {"name": "Apple Corps Ltd", "country": "GB"}, False, "homonym"),
    ({"name": "Delta Air Lines, Inc.", "country": "US"}, {"name": "Delta Electronics, Inc.", "country": "TW"}, False,
     "shared first word"),
    ({"name": "China Construction Bank", "country": "CN"}, {"name": "China Construction Bank (Asia)", "country": "HK"},
     False, "subsidiary"),
    ({"name": "Ping An Insurance", "country": "CN"}, {"name": "平安银行", "country": "CN"}, False,
     "sister company in Chinese"),
    ({"name": "Meta Platforms, Inc.", "country": "US"}, {"name": "Meta Materials Inc.", "country": "US"}, False,
     "shared first word"),
    ({"name": "Sberbank", "country": "RU"}, {"name": "Сбербанк Казахстан", "country": "KZ"}, False, "subsidiary abroad"),
    # Parties that are not known: same names, nothing else in common (never merged automatically; issue 20).
    ({"name": "unknown entity (interested-party-exempt-from-disclosure)",
      "unknown_reason": "interested-party-exempt-from-disclosure"},
     {"name": "unknown entity (interested-party-exempt-from-disclosure)",
      "unknown_reason": "interested-party-exempt-from-disclosure"}, False, "two exempt interested parties (BODS)"),
    ({"name": "unspecified interested party (unknown)", "unknown_reason": "unknown", "country": "DK"},
     {"name": "unspecified interested party (unknown)", "unknown_reason": "unknown", "country": "DK"}, False,
     "two unspecified parties of one register"),
    ({"name": "NATURAL_PERSONS", "unknown_reason": "NATURAL_PERSONS"},
     {"name": "NATURAL_PERSONS", "unknown_reason": "NATURAL_PERSONS"}, False, "two GLEIF reporting exceptions"),
    ({"name": "ftm-0c2f", "placeholder": True}, {"name": "ftm-0c2f", "placeholder": True}, False,
     "two placeholders named by the same source id"),
]
# Entities of the set that are one company although no pair above says so (the crowd run needs it).
SAME_ELSEWHERE = [("Samsung Electronics", "Samsung Electronics Co., Ltd."), ("Kaola", "Kaola Pty Ltd")]
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def labelled() -> tuple[list[tuple[Entity, Entity, bool, str]], list[Entity], set[frozenset[str]]]:
    """The pairs as entity records, every distinct entity of the set (one record for a repeated one),
    and the pairs of entity ids that are one company (labelled pairs and SAME_ELSEWHERE, closed)."""
    ids: dict[str, Entity] = {}
    def record(fields: dict[str, Any], twin: bool = False) -> Entity:
        key = repr(sorted(fields.items())) + ("twin" if twin else "")  # two records with identical content
        if key not in ids:
            ids[key] = _company(f"e{len(ids)}", fields)
        return ids[key]
    pairs = [(record(a), record(b, twin=a == b), same, why) for a, b, same, why in PAIRS]
    group = {e.id: {e.id} for e in ids.values()}
    by_name = {e.name: e.id for e in reversed(ids.values())}
    links = [(a.id, b.id) for a, b, same, _ in pairs if same] + [(by_name[x], by_name[y]) for x, y in SAME_ELSEWHERE]
    for x, y in links:
        joined = group[x] | group[y]
        for member in joined:
            group[member] = joined
    truth = {frozenset((x, y)) for members in group.values() for x in members for y in members if x < y}
    return pairs, list(ids.values()), truth


def evaluate() -> None:
    """Print each pair's score and precision/recall per threshold, alone and in the crowd."""
    pairs, everyone, truth = labelled()
    scored = []
    print(f"{'same':<6}{'score':>7}  pair (what it tests)")
    for a, b, same, why in pairs:
        found = find_candidates([a, b]).candidates
        c = found[0] if found else None
        scored.append((same, c.score if c else 0.0, bool(c and c.conflicts)))
        mark = f"{c.score:.3f}" + ("!" if c.conflicts else " ") if c else "  -   "
        print(f"{str(same):<6}{mark:>7}  {a.name} ~ {b.name} ({why})")
    print("\n(! = a conflict: never merged by --accept-above; - = not a candidate)\n")
    crowd = [(frozenset((c.a, c.b)) in truth, c.score, bool(c.conflicts)) for c in find_candidates(everyone).candidates]
    positives = sum(1 for _, _, same, _ in pairs if same)
    listed = sum(1 for same, score, _ in scored if same and score > 0)
    print(f"candidates: {listed} of {positives} true pairs listed at all (recall of candidate generation)")
    print(f"{len(everyone)} distinct entities; the crowd run lists {len(crowd)} candidate pairs")
    print(f"{'threshold':>9}  {'precision':>9}  {'recall':>6}  {'crowd precision':>15}  {'crowd recall':>12}")
    for t in THRESHOLDS:
        p, r = _precision_recall(scored, t, positives)
        cp = _precision_recall(crowd, t, len(truth))[0]
        print(f"{t:>9.2f}  {p:>9.3f}  {r:>6.3f}  {cp:>15.3f}  {_precision_recall(crowd, t, len(truth))[1]:>12.3f}")


def timing(companies: int, victims: int, seed: int, store_dir: Path | None) -> None:
    """Time candidate generation over a synthetic register plus imported victims: in memory, and (with a
    store directory) what `corpgraph resolve` does: read every entity from an embedded store, then match."""
    rng = random.Random(seed)
    start = time.perf_counter()
    entities = list(_world(rng, companies, victims))
    built = time.perf_counter() - start
    start = time.perf_counter()
    found = find_candidates(entities)
    took = time.perf_counter() - start
    print(f"\n{companies:,} companies + {victims:,} victims: records built in {built:.1f} s; candidates in "
          f"{took:.1f} s (in memory): {len(found.candidates):,} candidate pairs, {len(found.skipped_blocks)} "
          f"key(s) skipped as too common")
    if store_dir is not None:
        _timing_store(entities, store_dir)


def _timing_store(entities: list[Entity], store_dir: Path) -> None:
    """Write the entities into a fresh embedded store and time `corpgraph resolve`'s listing over it."""
    from corpgraph.graph.write.ingest import ingest
    from corpgraph.graph.service import CorpGraph
    from corpgraph.graph.stores.sqlite import SqliteStore
    from corpgraph.schema.batch import Batch, Origin

    path = store_dir / "matching-bench.db"
    path.unlink(missing_ok=True)
    store = SqliteStore(path)
    start = time.perf_counter()
    for at in range(0, len(entities), 100_000):
        ingest(store, Batch("bench", [(e, Origin("bench", i)) for i, e in enumerate(entities[at:at + 100_000])]))
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    found = CorpGraph(store).candidates()
    took = time.perf_counter() - start
    store.close()
    path.unlink()
    print(f"embedded store: loaded in {loaded:.1f} s; `corpgraph resolve` (read every entity, match) in "
          f"{took:.1f} s: {len(found.candidates):,} candidate pairs")


def _precision_recall(scored: list[tuple[bool, float, bool]], threshold: float, positives: int) -> tuple[float, float]:
    """Precision and recall of 'score >= threshold and no conflict'."""
    predicted = [same for same, score, conflict in scored if score >= threshold and not conflict]
    hits = sum(predicted)
    return (hits / len(predicted) if predicted else 1.0), hits / positives


_SYLLABLES = "ka ko la ra mi no su ta te ri an on el ber gen tor vin dal mar sel tra cor pul zen fa lo".split()
_FORMS = ["Ltd", "Co., Ltd.", "GmbH", "AG", "S.A.", "Inc.", "PLC", "S.p.A.", "Oy", "AB", "LLC", "Pty Ltd", ""]
_COUNTRIES = ["CN", "DE", "GB", "US", "FR", "KR", "JP", "RU", "CH", "AU"]
_HAN = "拉卡考征信支付银行华为腾讯平安中国建设电子科技网络数据安全"


def _world(rng: random.Random, companies: int, victims: int) -> Any:
    """A register of companies with made-up names, then victims: half renamed variants of registered
    companies (other legal form, other case), a quarter fresh Latin names, a quarter Chinese names."""
    names = []
    for i in range(companies):
        stem = " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).title()
                        for _ in range(rng.randint(2, 3)))
        names.append(stem)
        yield _company(f"c{i}", {"name": f"{stem} {rng.choice(_FORMS)}".strip(), "country": rng.choice(_COUNTRIES)})
    for j in range(victims):
        kind = j % 4
        if kind < 2:
            name = f"{rng.choice(names).upper()} {rng.choice(_FORMS)}".strip()
        elif kind == 2:
            name = " ".join("".join(rng.choice(_SYLLABLES) for _ in range(3)).title() for _ in range(2))
        else:
            name = "".join(rng.choice(_HAN) for _ in range(rng.randint(2, 5))) + "有限公司"
        yield _company(f"v{j}", {"name": name})


def _company(id: str, fields: dict[str, Any]) -> Entity:
    record = parse_record({"type": "Company", "id": id, **fields})
    assert isinstance(record, Entity)
    return record


def main() -> None:
    """Parse the options, print the labelled evaluation and the timing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--victims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--store-dir", type=Path, help="also time `corpgraph resolve` over an embedded store there")
    args = parser.parse_args()
    evaluate()
    if not args.no_timing:
        timing(args.companies, args.victims, args.seed, args.store_dir)


if __name__ == "__main__":
    main()
