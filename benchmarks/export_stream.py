"""The export of the largest holder's exposure (issue 22): streamed a page of items at a time, against the whole
answer built in memory, on one generated world, in one run.

    nice python benchmarks/export_stream.py [--companies 200000] [--workdir DIR] [--reuse] [--formats graphml,d3] [--page N]

Generates and loads a world as benchmarks/run.py does (benchmarks/generate.py, the product's load path), or
with --reuse takes the one a previous run left in --workdir. The largest holder is the world's, as for the row
"exposure, largest holder". Each export runs in a fresh child process that builds the projection, then
exports (`export_parts` + `iter_export`, what GET /export/{format} and `corpgraph export` run) to a file, in
a worker thread as in the server: seconds (wall, and CPU of that thread), the peak RSS above the warm
projection (VmHWM reset after warming), and the file's bytes. The baseline, in the same run, is the whole
answer in memory, as the export was before it streamed: `exposure(first=None)`'s subgraph, then `export()`.
`rows()` returns the rows as dicts {name, figure, unit, target, met} (benchmarks/run.py is edited elsewhere:
its --json can take them from here).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable without installing it
    sys.path.insert(0, str(ROOT))

from benchmarks import generate as gen  # noqa: E402
from benchmarks.importers import status_mb  # noqa: E402
from benchmarks.run import load_jsonl  # noqa: E402
from corpgraph.api import exporting  # noqa: E402
from corpgraph.api.exporting import ExportRequest, export_parts  # noqa: E402
from corpgraph.api.settings import get_api_settings  # noqa: E402
from corpgraph.graph.exports import export, iter_export  # noqa: E402
from corpgraph.graph.service import CorpGraph  # noqa: E402
from corpgraph.graph.settings import get_settings  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402

NAME = "export of the largest holder's exposure"
# Targets, judged against the whole answer measured in the same run: the point of streaming is memory.
MEMORY_SHARE = 0.5  # the streamed export's peak RSS growth <= half the whole answer's
# and it may take at most 1.5x the whole answer's CPU time (pages repeat the ranking and the path guide); CPU
# time of the exporting thread, not wall time: on this shared machine wall times of one export vary 2x by load.
TIME_FACTOR = 1.5


@dataclass(frozen=True)
class World:
    """A loaded world in a work directory: its store, largest holder and date."""

    db: Path
    holder: str
    as_of: date
    records: int


def prepare(companies: int, workdir: Path, seed: int, reuse: bool) -> World:
    """The world of --workdir (reuse) or a new one, generated and loaded as benchmarks/run.py does."""
    summary = workdir / "export-world.json"
    if reuse and summary.exists():
        data = json.loads(summary.read_text())
        return World(Path(data["db"]), data["holder"], date.fromisoformat(data["as_of"]), data["records"])
    workdir.mkdir(parents=True, exist_ok=True)
    world = gen.generate(workdir / "world.jsonl", companies, seed)
    store = SqliteStore(workdir / "corpgraph.db")
    try:
        loaded, seconds = load_jsonl(store, world.path, get_settings().batch_size)
    finally:
        store.close()
    print(f"generated and loaded {loaded:,} records ({seconds:.0f} s to load)", file=sys.stderr)
    out = World(workdir / "corpgraph.db", world.largest_holder, world.as_of, loaded)
    summary.write_text(json.dumps({"db": str(out.db), "holder": out.holder, "as_of": out.as_of.isoformat(),
                                   "records": out.records}))
    return out


def measure(world: World, format: str, streamed: bool, out: Path, page: int | None = None) -> dict[str, Any]:
    """One export in a fresh child process: {seconds, peak_mb (above the warm projection), bytes, warm_mb}."""
    ctx = mp.get_context("spawn")  # a clean process: nothing of this one's memory counts
    with ctx.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(_export_in_child, (world, format, streamed, out, page))
    return result


def _export_in_child(world: World, format: str, streamed: bool, out: Path, page: int | None) -> dict[str, Any]:
    """Warm the projection, reset the peak, export in a worker thread (as the server's heavy lane does: its
    SQLite connection has the 32 MiB page cache of a worker, not the opening thread's 256 MiB), and report."""
    store = SqliteStore(world.db)
    try:
        graph = CorpGraph(store)
        graph.exposure(world.holder, world.as_of, first=1, paths=False)  # builds the projection and its view
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS: the peak from here on is the export's
        warm = status_mb("VmRSS") or 0.0
        with ThreadPoolExecutor(1) as lane:
            seconds, cpu = lane.submit(_export, graph, world, format, streamed, out, page).result()
        return {"seconds": seconds, "cpu": cpu, "peak_mb": (status_mb("VmHWM") or 0.0) - warm, "warm_mb": warm,
                "bytes": out.stat().st_size}
    finally:
        store.close()


def _export(graph: CorpGraph, world: World, format: str, streamed: bool, out: Path,
            page: int | None) -> tuple[float, float]:
    """Export the holder's exposure to `out`, streamed or whole; (seconds, CPU seconds of this thread)."""
    request = ExportRequest("exposure", world.holder, world.as_of)
    started, cpu = time.perf_counter(), time.thread_time()
    if streamed:
        parts, _ = export_parts(graph, get_api_settings(), request, page)
        with out.open("w", encoding="utf-8") as file:
            for block in iter_export(parts, format):
                file.write(block)
    else:  # the whole answer in memory, as the export was before it streamed
        whole = graph.exposure(world.holder, world.as_of, bounds=False,
                               **get_api_settings().exposure_args(None, whole=True)).graph
        out.write_text(export(whole, format)[0], encoding="utf-8")
    return time.perf_counter() - started, time.thread_time() - cpu


def rows(world: World, formats: list[str], workdir: Path, page: int | None = None) -> list[dict[str, Any]]:
    """One row per format: the streamed export's seconds, with its peak RSS and bytes beside the whole answer's."""
    out = []
    for format in formats:
        whole = measure(world, format, False, workdir / f"whole.{format}")
        streamed = measure(world, format, True, workdir / f"streamed.{format}", page)
        met = (streamed["peak_mb"] <= MEMORY_SHARE * whole["peak_mb"]
               and streamed["cpu"] <= TIME_FACTOR * whole["cpu"])
        out.append({"name": f"{NAME} ({format})", "figure": round(streamed["seconds"], 2), "unit": "s",
                    "target": f"peak RSS <= {MEMORY_SHARE:g}x and CPU time <= {TIME_FACTOR:g}x the whole answer's",
                    "cpu_s": round(streamed["cpu"], 2),
                    "met": met, "peak_rss_mb": round(streamed["peak_mb"], 1), "bytes": streamed["bytes"],
                    "whole": {"seconds": round(whole["seconds"], 2), "cpu_s": round(whole["cpu"], 2), "peak_rss_mb": round(whole["peak_mb"], 1),
                              "bytes": whole["bytes"]},
                    "warm_rss_mb": round(streamed["warm_mb"], 1), "holder": world.holder,
                    "page": page or exporting.EXPOSURE_PAGE})
    return out


def _load() -> str:
    """The machine's load average, to print beside the figures (the machine is shared)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    """Parse arguments, prepare the world, print the table (and the rows as JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--companies", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-export-bench"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="take the world a previous run left in --workdir")
    parser.add_argument("--formats", default="graphml,d3")
    parser.add_argument("--page", type=int, default=None, help="items per page (default api.exporting.EXPOSURE_PAGE)")
    parser.add_argument("--prepare-only", action="store_true", help="generate and load the world, measure nothing")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    world = prepare(args.companies, args.workdir, args.seed, args.reuse)
    if args.prepare_only:
        return
    print(f"{world.records:,} records; largest holder {world.holder}; pages of {args.page or exporting.EXPOSURE_PAGE} items;"
          f" {_load()}")
    table = rows(world, [f.strip() for f in args.formats.split(",") if f.strip()], args.workdir, args.page)
    print(f"{'row':<48} {'streamed: wall, CPU, peak, size':>34} {'whole answer: wall, CPU, peak, size':>38}  target")
    for row in table:
        whole = row["whole"]
        print(f"{row['name']:<48} {row['figure']:>6.1f} s {row['cpu_s']:>5.1f} s {row['peak_rss_mb']:>4.0f} MB "
              f"{row['bytes'] / 1e6:>5.1f} MB {whole['seconds']:>10.1f} s {whole['cpu_s']:>5.1f} s "
              f"{whole['peak_rss_mb']:>4.0f} MB {whole['bytes'] / 1e6:>5.1f} MB  {row['target']}: "
              f"{'met' if row['met'] else 'missed'}")
    print(f"after: {_load()}")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
