"""A deterministic synthetic ownership world in the native JSON Lines format, written as a stream.

Shape (all from one seed): companies `c<i>` in an index order that every ordinary stake follows
(owner index < company index, so the world is acyclic except for the planted cores):
- institutional holders `c0..c<H-1>` with power-law (Zipf) counts of small stakes all over the market,
  a third of them in group apexes (the listed parents), so the largest reach most of the world;
- groups of Zipf-distributed size, each a pyramid (random recursive tree, majority parent stakes)
  with sibling cross-stakes, an apex held by a family (`p<g>`, a Person);
- stakes between groups, held by apexes (conglomerates, weighted by group size), so an ordinary
  company reaches only its own pyramid below it while a big apex reaches far;
- small cross-holding cores (a subsidiary holding a little of its parent);
- owners' shares of every company summing to <= 0.95; validity dates, a few expired or future stakes,
  a few unknown (null) shares;
- ~5% of companies RESPONSIBLE_FOR an incident; DEPENDS_ON popular providers; SUPPLIED_DATA_TO edges.

`python benchmarks/generate.py OUT.jsonl --companies N [--seed S]` writes a world; 1M companies take ~10 s.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

import numpy as np

AS_OF = date(2025, 6, 30)  # the date every benchmark query asks about; some stakes start or end around it
_EPOCH = date(1990, 1, 1)
_LAST_START = (date(2024, 12, 31) - _EPOCH).days
_FUTURE = ((date(2025, 7, 1) - _EPOCH).days, (date(2026, 12, 31) - _EPOCH).days)
_DAYS = (date(2036, 1, 1) - _EPOCH).days
# JSON text of every day in range, and "null" in the last slot, so a date column becomes list lookups.
_DATE_JSON = [f'"{(_EPOCH + timedelta(days=d)).isoformat()}"' for d in range(_DAYS)] + ["null"]
_NULL = len(_DATE_JSON) - 1
_COUNTRIES = ["CN", "US", "GB", "DE", "JP", "KR", "FR", "IN", "SG", "HK", "NL", "LU", "KY", "VG", "CH"]
_CATEGORIES = ["outage", "intrusion", "data_leak", "data_sale", "fraud", "other"]
_SERVICES = ["payments", "hosting", "cloud", "telecom", "logistics", "identity"]


@dataclass
class World:
    """What was written: the file, record counts per type, and ids the benchmark starts from."""

    path: Path
    companies: int
    seed: int
    as_of: date = AS_OF
    counts: dict[str, int] = field(default_factory=dict)
    largest_holder: str = ""
    holders: list[str] = field(default_factory=list)  # companies holding stakes, sorted (exposure roots)
    largest_holders: list[str] = field(default_factory=list)  # the 100 with the most stakes, most first
    incidents: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records(self) -> int:
        """Number of records (lines) in the file."""
        return sum(self.counts.values())


def generate(path: str | Path, companies: int, seed: int = 7, cores: bool = True) -> World:
    """Write a world of `companies` companies to `path` (JSON Lines, entities first); same seed, same bytes.

    cores=False leaves out the cross-holdings, so the world is acyclic (tests compare with brute force there).
    """
    if companies < 100:
        raise ValueError("the generator needs at least 100 companies to shape groups and holders")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    world = World(Path(path), companies, seed)
    n, hubs = companies, max(10, companies // 500)
    start, groups = _groups(rng, n, hubs)
    owns = _ownership(rng, n, hubs, start, groups, cores)
    incidents = _incidents(rng, n)
    with world.path.open("w", encoding="utf-8") as out:
        counts = world.counts
        counts["Person"] = _write(out, _persons(groups))
        counts["Company"] = _write(out, _companies(rng, n))
        counts["Actor"] = _write(out, (f'{{"type": "Actor", "id": "a{k}", "name": "Actor {k}", "known": false}}\n'
                                       for k in range(_ACTORS)))
        counts["Incident"] = _write(out, _incident_lines(rng, incidents["category"]))
        counts["OWNS"] = _write(out, _owns_lines(n, owns))
        counts["RESPONSIBLE_FOR"] = _write(out, _responsible_lines(n, incidents))
        counts["PERPETRATED"] = _write(out, _perpetrated_lines(rng, len(incidents["category"])))
        counts["DEPENDS_ON"] = _write(out, _depends_lines(rng, n, incidents["providers"]))
        counts["SUPPLIED_DATA_TO"] = _write(out, _supplied_lines(rng, n, incidents["responsible"]))
    company_owners = owns["owner"][owns["owner"] < n]
    stakes = np.bincount(company_owners, minlength=n)
    world.largest_holder = f"c{int(stakes.argmax())}"
    world.largest_holders = [f"c{i}" for i in np.argsort(-stakes, kind="stable")[:LARGEST].tolist() if stakes[i]]
    world.holders = [f"c{i}" for i in np.unique(company_owners).tolist()]
    world.incidents = [f"i{k}" for k in range(len(incidents["category"]))]
    world.seconds = time.perf_counter() - started
    return world


_ACTORS = 20
LARGEST = 100  # World.largest_holders: the exposure rows' large holders


def _groups(rng: np.random.Generator, n: int, hubs: int) -> tuple[np.ndarray, int]:
    """First index of the group of every company (hubs are their own group), and the number of groups."""
    size = n - hubs
    sizes = np.minimum(rng.zipf(1.7, size=size), max(2, size // 100))  # the largest group: 1% of the world
    ends = np.cumsum(sizes)
    last = int(np.searchsorted(ends, size))
    sizes = sizes[: last + 1].copy()
    sizes[-1] -= int(ends[last]) - size
    firsts = hubs + np.concatenate(([0], np.cumsum(sizes)[:-1]))
    start = np.concatenate((np.arange(hubs), np.repeat(firsts, sizes)))
    return start, len(sizes)


def _ownership(rng: np.random.Generator, n: int, hubs: int, start: np.ndarray, groups: int,
               cores: bool) -> dict[str, np.ndarray]:
    """OWNS columns (owner index; >= n means person n+g), shares, dates; owners' shares sum to <= 0.95."""
    idx = np.arange(n)
    member = idx[idx > start]  # companies with a parent inside their group
    parent = start[member] + np.floor(rng.random(len(member)) ** 1.5 * (member - start[member])).astype(np.int64)
    apexes = np.unique(start[hubs:])
    parts = [
        (parent, member, rng.uniform(2.0, 6.0, len(member))),  # pyramid parents: majority stakes
        (n + np.arange(groups), apexes, rng.uniform(1.0, 4.0, groups)),  # families at the apex
        _hub_stakes(rng, n, hubs, int(0.3 * n), apexes),
        _uniform_earlier(rng, rng.choice(member, int(0.8 * n)), start, 0.2, 1.5),  # sibling cross-stakes
        _between_groups(rng, n, hubs, start, int(0.9 * n)),
    ]
    owner, target, weight = (np.concatenate(col) for col in zip(*parts))
    _, first = np.unique(owner * (n + 1) + target, return_index=True)  # one stake per pair, the first drawn
    keep = np.sort(first)
    owner, target, weight = owner[keep], target[keep], weight[keep]
    total = rng.uniform(0.5, 0.9, n)[target]
    share = np.maximum(np.floor(1e4 * total * weight / np.bincount(target, weight, n)[target]) / 1e4, 1e-4)
    core = rng.choice(len(member), max(1, n // 1000) if cores else 0, replace=False)  # 1-5% of its parent
    core_owner, core_target = np.unique(np.stack((member[core], parent[core])), axis=1)
    owner = np.concatenate((owner, core_owner))
    target = np.concatenate((target, core_target))
    share = np.concatenate((share, np.round(rng.uniform(0.01, 0.05, len(core_owner)), 4)))
    share[rng.random(len(share)) < 0.005] = np.nan  # unknown shares (null)
    return {"owner": owner, "target": target, "share": share, **_validity(rng, len(owner))}


def _hub_stakes(rng: np.random.Generator, n: int, hubs: int, count: int,
                apexes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Small stakes of institutional holders, Zipf-weighted (the first few hold thousands each)."""
    weights = np.arange(1, hubs + 1, dtype=float) ** -0.8
    owners = rng.choice(hubs, count, p=weights / weights.sum())
    targets = rng.integers(hubs, n, count)
    listed = rng.random(count) < 1 / 3
    targets[listed] = rng.choice(apexes, int(listed.sum()))
    return owners, targets, rng.uniform(0.1, 1.0, count)


def _between_groups(rng: np.random.Generator, n: int, hubs: int, start: np.ndarray,
                    count: int) -> tuple[np.ndarray, ...]:
    """Stakes held by the apex of an earlier company's group (big groups hold more of them)."""
    owners, targets, weights = _uniform_earlier(rng, rng.integers(hubs + 1, n, count), np.full(n, hubs), 0.05, 0.5)
    return start[owners], targets, weights


def _uniform_earlier(rng: np.random.Generator, targets: np.ndarray, floor: np.ndarray, low: float,
                     high: float) -> tuple[np.ndarray, ...]:
    """A stake in each target from a company drawn uniformly in [floor[target], target)."""
    lo = floor[targets]
    owners = lo + np.floor(rng.random(len(targets)) * (targets - lo)).astype(np.int64)
    return owners, targets, rng.uniform(low, high, len(targets))


def _validity(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    """valid_from (10% unknown, 2% after AS_OF) and valid_to (5%, some before AS_OF), as day numbers."""
    valid_from = rng.integers(0, _LAST_START, count)
    future = rng.random(count) < 0.02
    valid_from[future] = rng.integers(*_FUTURE, int(future.sum()))
    ends = rng.random(count) < 0.05
    valid_to = np.full(count, _NULL)
    valid_to[ends] = np.minimum(valid_from[ends] + rng.integers(30, 6000, int(ends.sum())), _DAYS - 1)
    valid_from[rng.random(count) < 0.10] = _NULL
    return {"valid_from": valid_from, "valid_to": valid_to}


def _incidents(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Incidents of ~5% of companies; a third of the popular providers among the responsible."""
    count = max(1, round(0.05 * n))
    responsible = rng.choice(n, count, replace=False)
    providers = rng.choice(n, max(5, n // 1000), replace=False)
    planted = len(providers) // 3
    responsible[:planted] = providers[:planted]
    return {"responsible": responsible, "providers": providers,
            "category": rng.integers(0, len(_CATEGORIES), count)}


def _write(out: TextIO, lines: Iterable[str]) -> int:
    """Write lines to the open file; returns how many."""
    count = 0
    for count, line in enumerate(lines, start=1):
        out.write(line)
    return count


def _persons(groups: int) -> Iterator[str]:
    """The family holding each group's apex."""
    return (f'{{"type": "Person", "id": "p{g}", "name": "Family {g}"}}\n' for g in range(groups))


def _companies(rng: np.random.Generator, n: int) -> Iterator[str]:
    """Company lines; one in ten with an alias, every one with a country."""
    countries = rng.integers(0, len(_COUNTRIES), n).tolist()
    for i, c in enumerate(countries):
        alias = f', "aliases": ["C{i} Holdings"]' if i % 10 == 0 else ""
        yield f'{{"type": "Company", "id": "c{i}", "name": "Company {i}", "country": "{_COUNTRIES[c]}"{alias}}}\n'


def _incident_lines(rng: np.random.Generator, category: np.ndarray) -> Iterator[str]:
    """Incident lines with the impact figures their category carries."""
    count = len(category)
    occurred = rng.integers((date(2010, 1, 1) - _EPOCH).days, (date(2025, 6, 1) - _EPOCH).days, count).tolist()
    records = np.exp(rng.uniform(6, 20, count)).astype(np.int64).tolist()
    hours = np.round(rng.uniform(0.5, 72, count), 1).tolist()
    for k, cat in enumerate(category.tolist()):
        name = _CATEGORIES[cat]
        extra = (f', "records_affected": {records[k]}' if name in ("data_leak", "data_sale", "intrusion") else
                 f', "duration_hours": {hours[k]}' if name == "outage" else
                 f', "amounts": [{{"value": {records[k]}, "currency": "USD", "label": "loss"}}]' if name == "fraud" else "")
        yield (f'{{"type": "Incident", "id": "i{k}", "name": "Incident {k}", "category": "{name}", '
               f'"occurred_on": {_DATE_JSON[occurred[k]]}{extra}}}\n')


def _owns_lines(n: int, owns: dict[str, np.ndarray]) -> Iterator[str]:
    """OWNS lines; owner indices >= n are persons."""
    shares = ["null" if s != s else f"{s:.4f}" for s in owns["share"].tolist()]  # s != s: NaN, unknown
    columns = zip(owns["owner"].tolist(), owns["target"].tolist(), shares,
                  owns["valid_from"].tolist(), owns["valid_to"].tolist())
    for o, t, s, vf, vt in columns:
        owner = f"c{o}" if o < n else f"p{o - n}"
        yield (f'{{"type": "OWNS", "source": "{owner}", "target": "c{t}", "share": {s}, '
               f'"valid_from": {_DATE_JSON[vf]}, "valid_to": {_DATE_JSON[vt]}}}\n')


def _responsible_lines(n: int, incidents: dict[str, np.ndarray]) -> Iterator[str]:
    """Every incident's operator; one in ten also has a data controller (the next company by index)."""
    for k, c in enumerate(incidents["responsible"].tolist()):
        yield f'{{"type": "RESPONSIBLE_FOR", "source": "c{c}", "target": "i{k}", "role": "operator"}}\n'
        if k % 10 == 5:
            other = (c + 1) % n
            yield f'{{"type": "RESPONSIBLE_FOR", "source": "c{other}", "target": "i{k}", "role": "data_controller"}}\n'


def _perpetrated_lines(rng: np.random.Generator, count: int) -> Iterator[str]:
    """An actor for one incident in ten."""
    actors = rng.integers(0, _ACTORS, count).tolist()
    return (f'{{"type": "PERPETRATED", "source": "a{actors[k]}", "target": "i{k}"}}\n' for k in range(0, count, 10))


def _depends_lines(rng: np.random.Generator, n: int, providers: np.ndarray) -> Iterator[str]:
    """DEPENDS_ON edges from 20% of companies to Zipf-popular providers."""
    count = n // 5
    weights = np.arange(1, len(providers) + 1, dtype=float) ** -1.0
    target = providers[rng.choice(len(providers), count, p=weights / weights.sum())]
    source = rng.integers(0, n, count)
    keep = _distinct_pairs(source, target, n)
    services = rng.integers(0, len(_SERVICES), count)[keep].tolist()
    for s, t, v in zip(source[keep].tolist(), target[keep].tolist(), services):
        yield f'{{"type": "DEPENDS_ON", "source": "c{s}", "target": "c{t}", "service": "{_SERVICES[v]}"}}\n'


def _supplied_lines(rng: np.random.Generator, n: int, responsible: np.ndarray) -> Iterator[str]:
    """SUPPLIED_DATA_TO from responsible companies; half tied to their incident, half to none."""
    count = max(1, n // 100)
    incident = rng.integers(0, len(responsible), count)
    source, target = responsible[incident], rng.integers(0, n, count)
    keep = _distinct_pairs(source, target, n)
    records = rng.integers(1_000, 10_000_000, count)[keep].tolist()
    for j, (s, t, k, r) in enumerate(zip(source[keep].tolist(), target[keep].tolist(), incident[keep].tolist(), records)):
        tied = f'"i{k}"' if j % 2 == 0 else "null"
        yield (f'{{"type": "SUPPLIED_DATA_TO", "source": "c{s}", "target": "c{t}", "incident": {tied}, '
               f'"records": {r}, "data": ["name", "phone"]}}\n')


def _distinct_pairs(source: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    """Positions of the first occurrence of each (source, target) pair, no self-loops, in drawing order."""
    _, first = np.unique(source * n + target, return_index=True)
    first = np.sort(first)
    kept: np.ndarray = first[source[first] != target[first]]
    return kept


def main() -> None:
    """Command line: write a world and print its counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--companies", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    world = generate(args.out, args.companies, args.seed)
    print(f"{world.records:,} records in {world.seconds:.1f} s -> {world.path}; largest holder {world.largest_holder}")
    for name, count in world.counts.items():
        print(f"  {name:<18}{count:>12,}")


if __name__ == "__main__":
    main()
