"""Smoke test of the benchmark on a small world: the answers must agree; times are not asserted."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import generate as gen
from benchmarks import peers
from benchmarks import run as bench
from benchmarks.ours import Ours
from corpgraph.graph.stores.sqlite import SqliteStore

N = 3_000


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> bench.Report:
    """One full benchmark run (every row, LadybugDB when installed, HTTP) over N companies."""
    work = tmp_path_factory.mktemp("bench")
    return bench.run(bench.Config(companies=N, workdir=work, samples=20, repeats=1, ladybug_pool_mb=256,
                                crowd_seconds=2.0))


@pytest.fixture(scope="module")
def acyclic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[gen.World, SqliteStore, peers.Rows]]:
    """A world without cross-holdings, loaded into an embedded store, and its rows for the peers."""
    work = tmp_path_factory.mktemp("acyclic")
    world = gen.generate(work / "world.jsonl", N, seed=11, cores=False)
    store = SqliteStore(work / "corpgraph.db")
    bench.load_jsonl(store, world.path, 5_000)
    yield world, store, peers.read_rows(store)
    store.close()


def test_generator_is_deterministic(tmp_path: Path) -> None:
    """The same seed writes the same bytes; another seed does not."""
    digests = [hashlib.sha256(gen.generate(tmp_path / f"{i}.jsonl", 500, seed).path.read_bytes()).hexdigest()
               for i, seed in enumerate((3, 3, 4))]
    assert digests[0] == digests[1] != digests[2]


def test_world_shape(tmp_path: Path) -> None:
    """~3 stakes per company, owners' shares <= 0.95 per company, ~5% incidents, a holder with many stakes."""
    world = gen.generate(tmp_path / "w.jsonl", N)
    held: dict[str, float] = {}
    stakes: dict[str, int] = {}
    for line in world.path.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "OWNS":
            held[record["target"]] = held.get(record["target"], 0.0) + (record["share"] or 0.0)
            stakes[record["source"]] = stakes.get(record["source"], 0) + 1
    assert 2.5 * N <= world.counts["OWNS"] <= 3.5 * N
    assert max(held.values()) <= 0.95 + 1e-9
    assert world.counts["Incident"] == round(0.05 * N)
    assert max(stakes.values()) == stakes[world.largest_holder] >= 50
    assert world.counts["DEPENDS_ON"] > 0 and world.counts["SUPPLIED_DATA_TO"] > 0


def test_exact_integrated_matches_brute_force_on_acyclic_world(acyclic: tuple[gen.World, SqliteStore, peers.Rows]) -> None:
    """Without cycles, ours equals the sum over every path (unbounded enumeration) for holders of all sizes."""
    world, store, rows = acyclic
    ours = Ours(store)
    brute = peers.NetworkxPeer(rows, world.as_of)
    _, roots = bench.pick_samples(world, 15, seed=1)
    for holder in roots:
        agreement = peers.compare(ours.integrated(holder, world.as_of), brute.integrated(holder, depth=None))
        assert agreement.identical, (holder, agreement)


def test_depth6_peers_are_truncations_of_exact(acyclic: tuple[gen.World, SqliteStore, peers.Rows]) -> None:
    """networkx depth-6 never exceeds exact and misses only what lies deeper; LadybugDB gives the same sums."""
    world, store, rows = acyclic
    exact = Ours(store).integrated(world.largest_holder, world.as_of)
    nx_sum = peers.NetworkxPeer(rows, world.as_of).integrated(world.largest_holder)
    assert peers.compare(exact, nx_sum).agrees
    pytest.importorskip("ladybug")
    lb = peers.LadybugPeer(Path(store.path).parent / "ladybug", rows, world.as_of, buffer_pool_mb=256)
    try:
        assert peers.compare(nx_sum, lb.integrated(world.largest_holder)).identical  # no cycles: walks = paths
    finally:
        lb.close()


def test_benchmark_answers_agree(report: bench.Report) -> None:
    """networkx answers are truncations of ours; no peer finds what ours does not; HTTP equals in-process."""
    agreements = report.agreements
    for name in ("integrated/networkx", "exposure/networkx"):
        assert peers.Agreement(**agreements[name]).agrees, name
    assert all(a["extra"] == 0 for a in agreements.values()), agreements
    if peers.ladybug_available():
        assert {"integrated/ladybug", "liability/ladybug", "exposure/ladybug"} <= agreements.keys()
    for name in ("http/liability", "http/exposure"):
        assert peers.Agreement(**agreements[name]).identical, name


def test_report_has_every_row_and_writes_json(report: bench.Report, tmp_path: Path) -> None:
    """Every measured row has a figure for ours, the table renders, and the report survives JSON."""
    names = [row.row for row in report.rows]
    for expected in ("integrated, largest holder", "liability chain p99", "exposure p50", "load (validated records/s)",
                     "GraphQL liabilityChain p50", "projection size", "peak RSS, ours",
                     f"GraphQL liabilityChain p50, {bench.CLIENTS} clients", f"GraphQL exposure p50, {bench.CLIENTS} clients",
                     "GraphQL server peak RSS", "liability chain p999", "holdings() with control flags, largest holder",
                     "holdings first page, largest holder", "write visible after",
                     f"{bench.CLIENTS} clients, 1 worker", f"{bench.CLIENTS} clients, 2 workers",
                     "extra worker's own memory (USS)", "write visible through a worker (median of 5)",
                     "export of the largest holder's exposure (graphml)"):
        assert expected in names
    crowd = next(row for row in report.rows if row.row == f"GraphQL liabilityChain p50, {bench.CLIENTS} clients")
    assert crowd.extra["requests"] > 0 and crowd.extra["requests_per_second"] > 0
    assert all(row.ours is not None and row.ours > 0 for row in report.rows)
    assert report.world["counts"]["Company"] == N
    assert "| integrated, largest holder |" in bench.table(report)
    path = tmp_path / "bench.json"
    bench.write_json(report, path)
    rows = json.loads(path.read_text())["rows"]
    assert rows[0]["row"] == "integrated, largest holder"
    assert [row["row"] for row in rows] == names  # every row, the provided ones too (write visible after)
    assert all(row["status"] == ("no target" if not row["target"] else row["status"]) for row in rows)
    assert {row["status"] for row in rows if row["target"]} <= {"met", "missed", "not judged"}


def test_row_status() -> None:
    """A row's status: from its target and verdict; a target whose other side did not run is not judged."""
    assert bench.Row("r", "ms", 5.0, target="<= 10 ms", met=True).status() == "met"
    assert bench.Row("r", "ms", 12.0, target="<= 10 ms", met=False).status() == "missed"
    assert bench.Row("r", "ms", 5.0, target="<= 10 ms, >= 3x ladybug", met=None).status() == "not judged"
    assert bench.Row("r", "ms", 5.0).status() == "no target"


def test_series_first_answer_other_keys(tmp_path: Path) -> None:
    """A per-key series' process first answers keys outside the samples (other_samples), after its own store
    connection (Before.served): drawn from the seed, as many as asked, none of them a sampled key."""
    world = gen.generate(tmp_path / "world.jsonl", 2_000, seed=7)
    incidents, roots = bench.pick_samples(world, 10, 7)
    chains = bench.chain_samples(world, incidents, 20, 7)
    asked, held = bench.other_samples(world, chains, roots, 15, 7)
    assert (len(asked), len(held)) == (15, 15) and len(set(asked)) == 15 and len(set(held)) == 15
    assert not set(asked) & set(chains) and not set(held) & set(roots)
    assert set(asked) <= set(world.incidents) and set(held) <= set(world.holders)
    assert (asked, held) == bench.other_samples(world, chains, roots, 15, 7)

    done: list[tuple[str, object]] = []

    class Fake:
        def reopen(self) -> None:
            done.append(("reopen", None))

    before = bench.Before(asked[:2], held[:2], world.as_of)
    start = before.served(Fake(), lambda key, day: done.append((key, day)), before.roots)  # type: ignore[arg-type]
    assert done == []  # nothing runs until the child starts
    start()
    assert done == [("reopen", None), (held[0], world.as_of), (held[1], world.as_of)]
