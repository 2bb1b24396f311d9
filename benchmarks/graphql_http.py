"""The GraphQL rows of run.py alone (liabilityChain and exposure over HTTP), with the server's CPU per request.

    nice .venv/bin/python benchmarks/graphql_http.py --companies 200000 --workdir /tmp/gql200k --rounds 3

The store is loaded once per workdir (workers.prepared) and reused; the server is `uvicorn --factory
corpgraph.api.cli:serving_app` (`corpgraph serve`'s app) on 127.0.0.1, as run.py's rows start it (benchmarks/ours.py
GraphQLServer), asked by one client the same queries over the same samples (run.py's pick_samples); unlike the rows,
10 calls of each kind come first and the rounds repeat the keys (round 1 is the row's cold case, later rounds read
the records the first kept in the server's record cache). Per query kind and round it prints the
p50/p99 wall ms a call (exposure follows the cursor when a holder has more than one page, as the row does) and the
server's CPU ms a call (its threads' run time, /proc/PID/task/*/schedstat): the second does not move with the
machine's other load, the first does. `--spy SECONDS` also samples the server with py-spy while the client loops
(a flame graph SVG beside the store, and the top functions printed), when py-spy is installed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.ours import GraphQLServer  # noqa: E402
from benchmarks.run import Config, pick_samples  # noqa: E402
from benchmarks.workers import prepared  # noqa: E402

KINDS = ("liability", "exposure")


def timed(call: Callable[[str, date], Any], keys: list[str], as_of: date, pid: int) -> tuple[np.ndarray, float]:
    """(wall ms of each call, server CPU ms per call) over the keys, one call after the other."""
    wall = []
    cpu = cpu_seconds(pid)
    for key in keys:
        started = time.perf_counter()
        call(key, as_of)
        wall.append(time.perf_counter() - started)
    return np.array(wall) * 1e3, (cpu_seconds(pid) - cpu) * 1e3 / len(keys)


def cpu_seconds(pid: int) -> float:
    """CPU seconds of every live thread of the process (/proc/PID/task/*/schedstat, in ns: /proc/PID/stat counts
    in ticks of 10 ms, too coarse for 100 calls of a few ms). The server's threads (event loop, lanes) live on."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
    return total / 1e9


def spied(server: GraphQLServer, call: Callable[[str, date], Any], keys: list[str], as_of: date, seconds: float,
          out: Path) -> None:
    """Loop the calls while py-spy samples the server for `seconds`; write its flame graph and print the top lines."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = out.with_suffix(".txt")
    record = subprocess.Popen([spy, "record", "--pid", str(server.process.pid), "--duration", str(int(seconds)),
                               "--rate", "500", "--gil", "--format", "raw", "--output", str(raw), "--nonblocking"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while record.poll() is None:
        for key in keys:
            call(key, as_of)
            if record.poll() is not None:
                break
    print(f"py-spy samples: {raw}")


def main(argv: list[str] | None = None) -> int:
    """Prepare the store, start the server, time each kind for `--rounds` rounds; print one line per kind and round."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--companies", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-bench-graphql"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", choices=KINDS, nargs="+", default=list(KINDS))
    parser.add_argument("--spy", type=float, default=0.0, help="seconds of py-spy sampling per kind (0: none)")
    args = parser.parse_args(argv)
    db, world = prepared(args.companies, args.workdir)
    incidents, roots = pick_samples(world, Config.samples, Config.seed)
    with GraphQLServer(db, (incidents[0], world.as_of)) as server:
        calls = {"liability": (server.liability, incidents), "exposure": (server.exposure, roots)}
        for kind in args.kinds:
            call, keys = calls[kind]
            for key in keys[:10]:  # first-use costs of the process (views, caches) are not what is timed
                call(key, world.as_of)
            for round_ in range(args.rounds):
                wall, cpu = timed(call, keys, world.as_of, server.process.pid)
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"{kind} round {round_ + 1}: p50 {np.percentile(wall, 50):.3f} ms, p99 "
                      f"{np.percentile(wall, 99):.3f} ms over {wall.size} calls; server CPU {cpu:.3f} ms a call; "
                      f"load average {load}", flush=True)
            if args.spy:
                spied(server, call, keys, world.as_of, args.spy, args.workdir / f"spy-{kind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
