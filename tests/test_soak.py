"""A bounded soak (about a minute, in `make test`): mixed queries, mutations and attacks on a small world against the
server under `ulimit -n 256` (benchmarks/soak.py runs the long one). Nothing unexpected is answered, /healthz
stays fast, and the server's open files and memory stay flat."""
from __future__ import annotations

from pathlib import Path

from benchmarks import soak
from corpgraph.api.lanes import Lane
from corpgraph.api.settings import ApiSettings

COMPANIES = 2_000
SECONDS = 40.0


def test_a_soak_of_mixed_load_keeps_healthz_fast_and_files_and_memory_flat(tmp_path: Path) -> None:
    world, db = soak.prepare(tmp_path, COMPANIES)
    report = soak.soak(world, db, SECONDS)
    summary = report.summary()
    print(f"\nsoak: {summary}")
    assert not report.unexpected, report.unexpected[:5]
    # Every kind really ran, several times (bounded by time, not count).
    kinds = {"entity", "search", "owners", "holdings", "exposure", "liability", "neighborhood", "mutation", "healthz"}
    assert kinds <= summary["counts"].keys() and min(summary["counts"][k] for k in kinds) >= 5, summary["counts"]
    assert all(summary["counts"].get(f"attack: {name}", 0) >= 2 for name, _ in soak.ATTACKS)
    # The bound is 500 ms; on this shared 2-core machine (load average 11-13 from other test runs) the
    # soak measured p99 631-818 ms with p50 ~65 ms, so the test holds 1 s (a /healthz stuck behind a write, a
    # parse or analytics took 10-15 s before this issue); benchmarks/README records the quiet-machine figure.
    assert summary["healthz_p99_ms"] < 1_000
    # Flat: a leaked connection per mutation would add 1-3 files each (hundreds of mutations run here). The lanes'
    # pools start threads only when every one they have is busy, so a thread may first be used mid-soak. Each then
    # opens its SQLite connection (the file and its WAL) and its event loop (an epoll and a socket pair): 5 files
    # a thread, once (CI saw 53, 58, 63, then flat: two threads). The bound is every lane thread doing that.
    files, rss = summary["open_files"], summary["rss_mib"]
    settings = ApiSettings()
    threads = settings.heavy_workers + settings.quick_workers + len(Lane) - 2  # write, parse, health: one each
    assert max(files) <= files[0] + 5 * threads, files
    # RSS rises while the threads' SQLite page caches warm up, then stays (measured: +22 MiB over the first
    # 25 s, then within 2 MiB). A leak of ~0.25 MiB per mutation (main) grows by tens of MiB every half minute.
    half = len(rss) // 2
    assert rss[-1] - rss[half] <= 16, rss
    assert rss[-1] - rss[0] <= 64, rss
