"""Time only the largest holder's rows of benchmarks/run.py on a store a run left behind (issue 22): its integrated
ownership, `holdings()` with control flags and, with --export, the streamed GraphML export against the whole answer.

    nice .venv/bin/python benchmarks/largest_holder.py /tmp/bench200k c3773 [--repeats 5] [--export] [--profile]

The calls are run.py's (benchmarks.ours), in one process after the projection and its view are warm: each row
prints its first call and the min and median of the repeats, in seconds (wall, and CPU of the process). --profile
prints cProfile's top lines of each row's repeats. The export is benchmarks/export_stream.py's, in fresh children.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable without installing it
    sys.path.insert(0, str(ROOT))

from benchmarks import export_stream  # noqa: E402
from benchmarks.ours import Ours  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402


def timed_rows(ours: Ours, holder: str, as_of: date, repeats: int, profile: bool, top: int) -> None:
    """Print the first call and the repeats' min and median of each row (and cProfile's lines with `profile`)."""
    rows: dict[str, Callable[[], Any]] = {
        "integrated": lambda: ours.integrated_arrays(holder, as_of),
        "holdings": lambda: ours.holdings(holder, as_of),
    }
    for name, call in rows.items():
        first, _ = _once(call)
        profiler = cProfile.Profile() if profile else None
        walls, cpus = [], []
        for _ in range(repeats):
            if profiler is not None:
                profiler.enable()
            (wall, cpu) = _once(call)[0]
            if profiler is not None:
                profiler.disable()
            walls.append(wall)
            cpus.append(cpu)
        print(f"{name}: first {first[0]:.3f} s; wall min {min(walls):.3f} median {sorted(walls)[len(walls) // 2]:.3f} s;"
              f" CPU min {min(cpus):.3f} median {sorted(cpus)[len(cpus) // 2]:.3f} s ({repeats} repeats)", flush=True)
        if profiler is not None:
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def _once(call: Callable[[], Any]) -> tuple[tuple[float, float], Any]:
    """((wall, CPU seconds), answer) of one call, with the young collections its objects cause next (a paused
    collector leaves them to the allocations after the call: counted here, as the call's)."""
    started, cpu = time.perf_counter(), time.process_time()
    answer = call()
    gc.collect(1)
    return (time.perf_counter() - started, time.process_time() - cpu), answer


def _load() -> str:
    """The machine's load average (the machine is shared)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    """Command line: warm the store's projection, time the rows asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("workdir", type=Path, help="run.py's --workdir (its corpgraph.db is read)")
    parser.add_argument("holder", help="the world's largest holder (run.py's JSON: world.largest_holder)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--export", action="store_true", help="also the streamed GraphML export against the whole")
    parser.add_argument("--no-rows", action="store_true", help="only the export")
    args = parser.parse_args()
    print(f"before: {_load()}", flush=True)
    if not args.no_rows:
        ours = Ours(SqliteStore(args.workdir / "corpgraph.db"))
        ours.warm(args.as_of)
        print(f"projection built in {ours.build_seconds:.1f} s", flush=True)
        timed_rows(ours, args.holder, args.as_of, args.repeats, args.profile, args.top)
    if args.export:
        world = export_stream.World(args.workdir / "corpgraph.db", args.holder, args.as_of, 0)
        for row in export_stream.rows(world, ["graphml"], args.workdir):
            whole = row["whole"]
            print(f"export: streamed CPU {row['cpu_s']:.2f} s (wall {row['figure']:.2f} s), whole CPU {whole['cpu_s']:.2f} s"
                  f" (wall {whole['seconds']:.2f} s): {row['cpu_s'] / whole['cpu_s']:.3f}x; peak {row['peak_rss_mb']:.0f}"
                  f" against {whole['peak_rss_mb']:.0f} MB", flush=True)
    print(f"after: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
