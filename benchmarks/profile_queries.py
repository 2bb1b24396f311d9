"""Profile the latency rows in one process: exposure, liability chains and the GraphQL fields, on a loaded store.

Uses the store `run.py` leaves in its workdir and the same samples (the world is generated again from the seed,
in a second, for its ids). Prints the CPU-time percentiles of each call (`time.process_time`, so time lost to
other processes does not count) and, with --profile, cProfile's top functions over all calls:

    nice .venv/bin/python benchmarks/run.py --companies 200000 --no-ladybug --workdir /tmp/bench200k
    nice .venv/bin/python benchmarks/profile_queries.py /tmp/bench200k exposure liability --rounds 3
    nice .venv/bin/python benchmarks/profile_queries.py /tmp/bench200k graphql-liability --calls 100 --profile
    nice .venv/bin/python benchmarks/profile_queries.py /tmp/bench200k graphql-liability graphql-exposure --parts
    nice .venv/bin/python benchmarks/profile_queries.py /tmp/bench200k exposure liability --as-row --rounds 3

--parts splits each call's CPU time among the parts of a request (PARTS: the analytics, graphql-core's list completion,
the answer's entity reads, the damage check) and what is left (strawberry's execution and the rest of the resolvers),
in ms per call, each part timed around its outermost call only.

--as-row measures as run.py's rows do: each round in a forked child with its own store connection, which first answers
--served calls on keys outside the samples (run.py's other_samples), untimed, then each sample once; without it the
rounds repeat the samples in this process, so later rounds read records the first one cached.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import pstats
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial, wraps
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable without installing it
    sys.path.insert(0, str(ROOT))

from benchmarks import generate as gen  # noqa: E402
from benchmarks.ours import GraphQLServer, Ours  # noqa: E402
from benchmarks.run import Config, chain_samples, other_samples, pick_samples  # noqa: E402
from corpgraph.api import fast_lists, graphql_schema  # noqa: E402
from corpgraph.api.context import Context, make_context  # noqa: E402
from corpgraph.api.graphql_schema import make_schema  # noqa: E402
from corpgraph.api.settings import ApiSettings  # noqa: E402
from corpgraph.graph.service import CorpGraph  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402

# The parts of a request --parts times apart: (where the function lives, its name, the part it counts in).
PARTS: list[tuple[Any, str, str]] = [
    (CorpGraph, "liability_chain", "analytics"), (CorpGraph, "exposure", "analytics"),
    (fast_lists.FastListExecution, "complete_list_value", "list completion"),
    (graphql_schema, "_read_answer_entities", "entity reads"), (Context, "report_damage", "damage check"),
]
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
    parser.add_argument("--parts", action="store_true", help="split each call's CPU time among PARTS")
    parser.add_argument("--as-row", action="store_true", help="as run.py: forked, after --served other keys, each once")
    parser.add_argument("--served", type=int, default=Config.served_calls, help="with --as-row: other keys first")
    args = parser.parse_args(argv)
    world = gen.generate(args.workdir / "profile-world.jsonl", args.companies, args.seed)
    incidents, roots = pick_samples(world, Config.samples, args.seed)
    chains = chain_samples(world, incidents, Config.chain_samples, args.seed)
    ours = Ours(SqliteStore(args.workdir / "corpgraph.db"))
    ours.warm(world.as_of)
    others = other_samples(world, chains, roots, args.served, args.seed)
    for kind in args.kinds:
        chained = kind in ("liability", "liability-paths")
        calls = calls_of(kind, ours, chains if chained else incidents, roots, world.as_of)[:args.calls]
        if args.as_row:
            _as_row(kind, ours, calls_of(kind, ours, *others, world.as_of), calls, args.rounds)
        else:
            _timed(kind, calls, args.rounds, args.profile, args.top, args.parts)
    return 0


def _as_row(kind: str, ours: Ours, served: list[Callable[[], Any]], calls: list[Callable[[], Any]], rounds: int) -> None:
    """run.py's measurement of a per-key row, `rounds` times: a forked child with its own store connection answers
    `served` untimed, then each call once; prints the percentiles over every round's calls."""
    context = mp.get_context("fork")
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(rounds):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_row_child, args=(ours, served, calls, send), daemon=True)
        child.start()
        send.close()
        times = receive.recv()
        child.join()
        cpu += times[0]
        wall += times[1]
    _percentiles(kind, cpu, wall)


def _row_child(ours: Ours, served: list[Callable[[], Any]], calls: list[Callable[[], Any]], send: Any) -> None:
    """Body of _as_row's child: reopen the store, answer `served`, then send ([CPU s], [wall s]) of each call."""
    ours.reopen()
    for call in served:
        call()
    cpu, wall = [], []
    for call in calls:
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    send.send((cpu, wall))
    send.close()


def _timed(kind: str, calls: list[Callable[[], Any]], rounds: int, profile: bool, top: int, parts: bool) -> None:
    """Run the calls `rounds` times after a warm-up; print CPU and wall percentiles (and cProfile's top lines, and
    with `parts` the CPU ms a call of each part)."""
    for call in calls[:5]:  # first-use caches of the process (imports, the schema) are not what is profiled
        call()
    profiler = cProfile.Profile() if profile else None
    cpu, wall, spent = [], [], defaultdict[str, float](float)
    with timed_parts(spent) if parts else _nothing():
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
    if parts:
        spent["rest"] = sum(cpu) - sum(spent.values())
        print(f"{kind} cpu ms a call by part over {len(cpu)} calls: "
              + ", ".join(f"{name} {seconds * 1e3 / len(cpu):.3f}" for name, seconds in sorted(spent.items(), key=lambda x: -x[1])),
              flush=True)
    _percentiles(kind, cpu, wall)
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(top)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def _percentiles(kind: str, cpu: list[float], wall: list[float]) -> None:
    """Print the CPU and wall percentiles (ms) of a kind's calls."""
    for name, series in (("cpu", cpu), ("wall", wall)):
        ms = np.array(series) * 1e3
        print(f"{kind} {name} ms over {ms.size} calls: p50 {np.percentile(ms, 50):.3f} "
              f"p99 {np.percentile(ms, 99):.3f} p999 {np.percentile(ms, 99.9):.3f} max {ms.max():.3f}", flush=True)


@contextmanager
def timed_parts(spent: defaultdict[str, float]) -> Iterator[None]:
    """For the block, each function of PARTS adds the CPU seconds of its outermost calls to spent[its part]."""
    depth: Counter[str] = Counter()

    def timing(function: Callable[..., Any], part: str) -> Callable[..., Any]:
        @wraps(function)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            depth[part] += 1
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                depth[part] -= 1
                if not depth[part]:  # a list inside a list, an exposure inside a liability: counted once
                    spent[part] += time.process_time() - started
        return timed_call

    originals = [(owner, name, vars(owner)[name]) for owner, name, _ in PARTS]
    try:
        for owner, name, part in PARTS:
            setattr(owner, name, timing(getattr(owner, name), part))
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


@contextmanager
def _nothing() -> Iterator[None]:
    """A block with nothing around it."""
    yield


if __name__ == "__main__":
    raise SystemExit(main())
