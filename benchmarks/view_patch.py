"""What patching one cached as-of view costs for a small write (graph.projection.view_delta.patched_view).

Not a test: a micro-benchmark. It builds the projection of a generated world's store (loaded once per workdir,
as benchmarks/workers.py does), today's view with its components and control (what a serving worker holds),
then applies the same kind of write a worker sees, several times from the same state: a new company held by
two existing holders and one existing stake written again at another share. It reports the median wall time of
`delta.apply_rows`, and the wall and thread CPU time of `patched_view` alone, and with --profile the top of a cProfile of `patched_view`.

    nice .venv/bin/python benchmarks/view_patch.py --companies 200000 --workdir /tmp/vp-200k --repeat 20
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpgraph.schema.kinds import RelationType  # noqa: E402

from corpgraph.graph.projection import delta, view_delta  # noqa: E402
from corpgraph.graph.projection.build import AsOfView, Projection, build_projection  # noqa: E402
from corpgraph.graph.projection.control import control, may_control  # noqa: E402
from corpgraph.graph.stores.base import EdgeRow  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402

from benchmarks.workers import prepared  # noqa: E402


def rows_of_a_write(proj: Projection, view: AsOfView, k: int) -> list[EdgeRow]:
    """A new company held 30% and 20% by two existing holders, and an existing stake written at another share."""
    holders = view.down.indptr[1:] - view.down.indptr[:-1]
    busy = np.flatnonzero(holders > 0)
    a, b = (proj.ids[int(i)] for i in busy[[k % busy.size, (7 * k + 3) % busy.size]])
    stake = int(view.down.edge[view.down.indptr[busy[(11 * k + 5) % busy.size]]])
    share = float(proj.share[stake])
    new = f"view-patch-{k}"
    return [
        EdgeRow(f"{new}-a", RelationType.OWNS, a, new, 0.3, None, None, None),
        EdgeRow(f"{new}-b", RelationType.OWNS, b, new, 0.2, None, None, None),
        EdgeRow(str(proj.relation_ids[stake]), RelationType.OWNS, proj.ids[int(proj.src[stake])],
                proj.ids[int(proj.dst[stake])], (share if share == share else 0.1) * 0.5, None, None, None),
    ]


def fifty_new(proj: Projection, view: AsOfView, k: int) -> list[EdgeRow]:
    """benchmarks/writes.py's mutation: 50 new companies, each given a 10% stake by an existing holder."""
    holders = np.flatnonzero(view.down.indptr[1:] - view.down.indptr[:-1] > 0)
    return [EdgeRow(f"view-patch-{k}-{i}-s", RelationType.OWNS, proj.ids[int(holders[(50 * k + i) % holders.size])],
                    f"view-patch-{k}-{i}", 0.1, None, None, None) for i in range(50)]


def main(argv: list[str] | None = None) -> int:
    """Build once, patch `repeat` times, print the medians (and a profile)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=30_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-bench-view-patch"))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of patched_view")
    parser.add_argument("--control", action="store_true", help="build the view's control relations first (as a "
                        "worker answering liability chains holds them): the patch then updates them too")
    parser.add_argument("--fifty", action="store_true", help="write benchmarks/writes.py's mutation instead")
    parser.add_argument("--chain", action="store_true", help="apply each write to the state the previous one made "
                        "(as a live graph does) rather than every write to the first state")
    args = parser.parse_args(argv)
    db, _ = prepared(args.companies, args.workdir)
    store = SqliteStore(db)
    proj = build_projection(store)
    view = proj.view(date.today())
    view.components  # what a serving worker's view holds after its first query
    if args.control:
        control(view), may_control(view)
    applied, patched, cpu = [], [], []
    profile = cProfile.Profile(time.thread_time)  # CPU of this thread: the machine is shared, wall time is not ours
    original = view_delta.patched_view
    for k in range(args.repeat):
        rows = (fifty_new if args.fifty else rows_of_a_write)(proj, view, k)
        spent = [0.0, 0.0]

        def timed(old: AsOfView, new: Projection, touched: np.ndarray, targets: np.ndarray, into: np.ndarray,
                  _spent: list[float] = spent) -> AsOfView:
            wall, used = time.perf_counter(), time.thread_time()
            if args.profile:
                out: AsOfView = profile.runcall(original, old, new, touched, targets, into)
            else:
                out = original(old, new, touched, targets, into)
            _spent[0] += time.perf_counter() - wall
            _spent[1] += time.thread_time() - used
            return out

        delta.patched_view = timed  # type: ignore[attr-defined,assignment]
        start = time.perf_counter()
        try:
            after = delta.apply_rows(proj, rows, proj.revision + 1)
            if args.chain:
                proj, view = after, after.view(date.today())
        finally:
            delta.patched_view = original  # type: ignore[attr-defined]
        applied.append(time.perf_counter() - start)
        patched.append(spent[0])
        cpu.append(spent[1])
    print(f"{args.companies} companies, {proj.type.size} edges, W {view.W.nnz} entries, {args.repeat} writes")
    print(f"apply_rows median {statistics.median(applied) * 1e3:.2f} ms, max {max(applied) * 1e3:.2f} ms")
    print(f"patched_view wall median {statistics.median(patched) * 1e3:.2f} ms, max {max(patched) * 1e3:.2f} ms; "
          f"CPU median {statistics.median(cpu) * 1e3:.2f} ms, max {max(cpu) * 1e3:.2f} ms")
    if args.profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(20)
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
