"""Profile the latency rows in one process: exposure, liability chains and the GraphQL fields, on a loaded store.

Uses the store `run.py` leaves in its workdir and the same samples (the world is generated again from the seed,
in a second, for its ids). Prints the CPU-time percentiles of each call (`time.process_time`, so time lost to
other processes does not count) and, with --profile, cProfile's top functions over all calls:

    nice .venv/bin/python benchmarks/run.py --companies 200000 --no-ladybug --workdir /tmp/bench200k
    nice .venv/bin/python benchmarks/profile_queries.py /tmp/bench200k exposure liability --rounds 3
    nice .venv/bin/python benchmarks/profile_queries.py /tmp/bench200k graphql-liability --calls 100 --profile
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable without installing it
    sys.path.insert(0, str(ROOT))

from benchmarks import generate as gen  # noqa: E402
from benchmarks.ours import GraphQLServer, Ours  # noqa: E402
from benchmarks.run import Config, chain_samples, pick_samples  # noqa: E402
from corpgraph.api.context import make_context  # noqa: E402
from corpgraph.api.graphql_schema import make_schema  # noqa: E402
from corpgraph.api.settings import ApiSettings  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402

KINDS = ("exposure", "liability", "liability-paths", "graphql-liability", "graphql-exposure")


def calls_of(kind: str, ours: Ours, incidents: list[str], roots: list[str], as_of: Any) -> list[Callable[[], Any]]:
    """One call per sample, as the benchmark row of that kind makes them."""
    if kind == "exposure":
        return [partial(ours.exposure, r, as_of) for r in roots]
    if kind == "liability":
        return [partial(ours.liability, i, as_of) for i in incidents]
    if kind == "liability-paths":
        return [partial(ours.liability_paths, i, as_of) for i in incidents]
    schema, settings = make_schema(ApiSettings()), ApiSettings()
    loop = asyncio.new_event_loop()
    query = GraphQLServer.LIABILITY if kind == "graphql-liability" else GraphQLServer.EXPOSURE
    keys = incidents if kind == "graphql-liability" else roots

    def one(key: str) -> Any:
        context = make_context(ours.graph, settings)
        result = loop.run_until_complete(schema.execute(query, {"id": key, "asOf": as_of.isoformat()},
                                                        context_value=context))
        if result.errors:
            raise RuntimeError(str(result.errors))
        return result.data

    return [partial(one, k) for k in keys]


def main(argv: list[str] | None = None) -> int:
    """Command line: time (and with --profile, profile) each kind of call asked over the benchmark's samples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("workdir", type=Path, help="run.py's --workdir (its corpgraph.db is read)")
    parser.add_argument("kinds", choices=KINDS, nargs="+")
    parser.add_argument("--companies", type=int, default=200_000, help="the world's size, as run.py was given it")
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--calls", type=int, default=None, help="at most this many samples (default all)")
    parser.add_argument("--rounds", type=int, default=1, help="run the samples this many times")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed calls")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    world = gen.generate(args.workdir / "profile-world.jsonl", args.companies, args.seed)
    incidents, roots = pick_samples(world, Config.samples, args.seed)
    chains = chain_samples(world, incidents, Config.chain_samples, args.seed)
    ours = Ours(SqliteStore(args.workdir / "corpgraph.db"))
    ours.warm(world.as_of)
    for kind in args.kinds:
        calls = calls_of(kind, ours, chains if kind in ("liability", "liability-paths") else incidents, roots,
                         world.as_of)[:args.calls]
        _timed(kind, calls, args.rounds, args.profile, args.top)
    return 0


def _timed(kind: str, calls: list[Callable[[], Any]], rounds: int, profile: bool, top: int) -> None:
    """Run the calls `rounds` times after a warm-up; print CPU and wall percentiles (and cProfile's top lines)."""
    for call in calls[:5]:  # first-use caches of the process (imports, the schema) are not what is profiled
        call()
    profiler = cProfile.Profile() if profile else None
    cpu, wall = [], []
    for _ in range(rounds):
        for call in calls:
            started, started_cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            call()
            if profiler is not None:
                profiler.disable()
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
    for name, series in (("cpu", cpu), ("wall", wall)):
        ms = np.array(series) * 1e3
        print(f"{kind} {name} ms over {ms.size} calls: p50 {np.percentile(ms, 50):.3f} "
              f"p99 {np.percentile(ms, 99):.3f} p999 {np.percentile(ms, 99.9):.3f} max {ms.max():.3f}", flush=True)
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(top)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    raise SystemExit(main())
