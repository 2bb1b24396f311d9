"""Importer rows: generate a file of a format's real shape, load it through `corpgraph load`'s own path in a
fresh process, and report statements/s, native records/s, peak RSS, and the native loader on the same
records (the file `corpgraph convert` writes) for comparison.

    python benchmarks/importers.py --statements 100000              # every importer with a generator
    python benchmarks/importers.py --formats bods --statements 2000   # a quick look

Each load runs in its own Python process, so its peak RSS (VmHWM) is the load's alone. Add a format by
adding its generator to GENERATORS: a function (path, n, seed) -> None writing n source records.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.generate_ftm import generate_ftm  # noqa: E402 (after the path insert, as a script too)
from benchmarks.generate_gleif import generate_gleif_lei, generate_gleif_rr  # noqa: E402

Generator = Callable[[Path, int, int], None]
# UK PSC bands, as BODS publishers give them (0.2/0.3: exclusiveMinimum defaults false, exclusiveMaximum true).
_BANDS = [(25, 50, True, False), (50, 75, True, False), (75, 100, True, False)]


def generate_bods(path: Path, statements: int, seed: int) -> None:
    """A BODS 0.2 register export of the real shape, as JSON Lines (the Open Ownership register's form).

    Per 10 statements about 4 entity, 2 person and 4 relationship statements; a relationship carries a
    shareholding and a voting-rights interest, exact (40%) or a PSC band (60%); 5% of relationships are
    updates replacing an earlier one (a changed share), 1% have an unspecified party, 1% name an owner
    published elsewhere (a placeholder).
    """
    rng = random.Random(seed)
    entities: list[str] = []
    persons: list[str] = []
    relations: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        for n in range(statements):
            roll = rng.random()
            if roll < 0.4 or len(entities) < 2:
                entities.append(f"e{n}")
                _write(out, _entity(f"e{n}", n))
            elif roll < 0.6:
                persons.append(f"p{n}")
                _write(out, _person(f"p{n}", n))
            else:
                _write(out, _relationship(rng, f"r{n}", entities, persons, relations))
                relations.append(f"r{n}")


def _write(out: TextIO, statement: dict[str, Any]) -> None:
    """One statement per line."""
    out.write(json.dumps(statement, separators=(",", ":")) + "\n")


def _common(sid: str, kind: str, day: int) -> dict[str, Any]:
    """Fields every statement of the generated register carries."""
    return {"statementID": sid, "statementType": kind, "statementDate": f"20{10 + day % 13:02d}-0{1 + day % 9}-15",
            "isComponent": False,
            "publicationDetails": {"publicationDate": "2023-04-30", "bodsVersion": "0.2",
                                   "publisher": {"name": "Generated Register", "url": "https://register.example"}},
            "source": {"type": ["officialRegister"], "description": "Generated Companies Register",
                       "url": "https://register.example/psc"}}


def _entity(sid: str, n: int) -> dict[str, Any]:
    """A registered company with a register number."""
    return {**_common(sid, "entityStatement", n), "entityType": "registeredEntity", "name": f"COMPANY {n} LIMITED",
            "incorporatedInJurisdiction": {"name": "United Kingdom", "code": "GB"},
            "identifiers": [{"scheme": "GB-COH", "id": f"{n:08d}"}],
            "addresses": [{"type": "registered", "address": f"{n} High Street, London", "country": "GB"}]}


def _person(sid: str, n: int) -> dict[str, Any]:
    """A known person with a nationality."""
    return {**_common(sid, "personStatement", n), "personType": "knownPerson",
            "names": [{"type": "individual", "fullName": f"Person {n}", "givenName": "Person", "familyName": str(n)}],
            "nationalities": [{"code": "GB"}], "birthDate": f"19{50 + n % 40}-0{1 + n % 9}"}


def _relationship(rng: random.Random, sid: str, entities: list[str], persons: list[str],
                  relations: list[str]) -> dict[str, Any]:
    """An ownership-or-control statement (sometimes an update, an unspecified party, or an open reference)."""
    statement = {**_common(sid, "ownershipOrControlStatement", int(sid[1:])),
                 "subject": {"describedByEntityStatement": rng.choice(entities)}}
    roll = rng.random()
    if roll < 0.01:
        statement["interestedParty"] = {"unspecified": {"reason": "interestedPartyHasNotProvidedInformation"}}
    elif roll < 0.02:
        statement["interestedParty"] = {"describedByPersonStatement": f"elsewhere-{sid}"}
    elif persons and roll < 0.7:
        statement["interestedParty"] = {"describedByPersonStatement": rng.choice(persons)}
    else:
        statement["interestedParty"] = {"describedByEntityStatement": rng.choice(entities)}
    if statement["interestedParty"].get("describedByEntityStatement") == statement["subject"]["describedByEntityStatement"]:
        statement["interestedParty"] = {"describedByPersonStatement": f"elsewhere-{sid}"}
    if relations and rng.random() < 0.05:
        statement["replacesStatements"] = [rng.choice(relations)]
    share = {"exact": rng.choice([10, 20, 25.5, 33.3, 50, 100])} if rng.random() < 0.4 else \
        dict(zip(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"), rng.choice(_BANDS)))
    start = f"20{10 + rng.randrange(8):02d}-04-06"
    statement["interests"] = [{"type": kind, "directOrIndirect": "direct", "beneficialOwnershipOrControl": True,
                               "startDate": start, "share": share} for kind in ("shareholding", "voting-rights")]
    return statement


GENERATORS: dict[str, Generator] = {"bods": generate_bods, "ftm": generate_ftm, "gleif": generate_gleif_lei,
                                    "gleif-rr": generate_gleif_rr}
# A row whose name is not its importer's: the format it is loaded as.
FORMAT_OF: dict[str, str] = {"gleif-rr": "gleif"}


def load_in_child(path: Path, format: str, db: Path) -> dict[str, Any]:
    """Load a file into a fresh embedded store in a new Python process; its figures."""
    done = subprocess.run([sys.executable, __file__, "--child", format, str(path), str(db)],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"loading {path} as {format} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _child(format: str, path: Path, db: Path) -> None:
    """The measured load (the CLI's path: iter_batches, then ingest_stream, batches of CORPGRAPH_BATCH_SIZE);
    prints one JSON line. The cyclic collector is paused as `corpgraph load` pauses it (graph.gc_policy)."""
    from corpgraph.graph.gc_policy import paused
    from corpgraph.graph.write.ingest import ingest_stream
    from corpgraph.graph.settings import get_settings
    from corpgraph.graph.stores.sqlite import SqliteStore
    from corpgraph.loaders import readahead
    from corpgraph.loaders.validate import iter_batches

    if os.environ.get("BENCH_READER") in ("child", "inline"):  # --reader: decided here, not by the machine's load
        setattr(readahead, "spare_core", lambda: os.environ["BENCH_READER"] == "child")

    store = SqliteStore(db)
    started = time.perf_counter()
    records = 0

    def count(batch: Any) -> None:
        nonlocal records
        records += len(batch)

    with paused():
        _, batches = iter_batches(path, get_settings().batch_size, format=format)
        summary = ingest_stream(store, str(path), batches, on_batch=count)
    seconds = time.perf_counter() - started
    store.close()
    # A reading child (loaders.readahead) has its own peak; both count against the memory bound.
    print(json.dumps({"records": records, "seconds": seconds, "placeholders": summary.placeholders,
                      "cpu_seconds": _cpu(resource.RUSAGE_SELF), "reader_cpu_seconds": _cpu(resource.RUSAGE_CHILDREN),
                      "peak_rss_mb": peak_rss_mb(),
                      "reader_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def _cpu(who: int) -> float:
    """User and system CPU seconds of this process or of its finished children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM on Linux. Not ru_maxrss: subprocess starts a child by vfork + exec,
    and Linux carries the parent's high-water mark (this script's, after generating and converting the
    file) over the exec into the child's ru_maxrss."""
    peak = status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if peak is None else peak


def status_mb(field: str) -> float | None:
    """A memory figure of /proc/self/status (VmRSS, VmHWM) in MB, or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def convert(path: Path, format: str, target: Path) -> None:
    """The native JSON Lines an import of the file would load (as `corpgraph convert`)."""
    from corpgraph.loaders.formats import get_format

    with target.open("w", encoding="utf-8") as out:
        for item in get_format(format).read(path):
            if isinstance(item, tuple):
                out.write(json.dumps(item[1], ensure_ascii=False) + "\n")


def run(formats: list[str], statements: int, seed: int, workdir: Path) -> list[dict[str, Any]]:
    """One row per format: the import and the native load of the same records."""
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in formats:
        source, native = workdir / f"{name}.data", workdir / f"{name}.native.jsonl"
        GENERATORS[name](source, statements, seed)
        convert(source, FORMAT_OF.get(name, name), native)
        for db in workdir.glob(f"{name}*.db*"):
            db.unlink()
        ours = load_in_child(source, FORMAT_OF.get(name, name), workdir / f"{name}.db")
        base = load_in_child(native, "native", workdir / f"{name}-native.db")
        rows.append({"format": name, "statements": statements, "file_mb": source.stat().st_size / 2**20,
                     "records": ours["records"], "seconds": ours["seconds"], "placeholders": ours["placeholders"],
                     "statements_per_s": statements / ours["seconds"], "records_per_s": ours["records"] / ours["seconds"],
                     "peak_rss_mb": ours["peak_rss_mb"], "reader_peak_rss_mb": ours["reader_peak_rss_mb"],
                     "cpu_seconds": ours["cpu_seconds"], "reader_cpu_seconds": ours["reader_cpu_seconds"],
                     "native_records_per_s": base["records"] / base["seconds"],
                     "native_cpu_seconds": base["cpu_seconds"], "native_peak_rss_mb": base["peak_rss_mb"]})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = ("| importer | statements | file | records | load | statements/s | records/s | native records/s "
            "| peak RSS | native peak RSS |\n|---|---|---|---|---|---|---|---|---|---|\n")
    return head + "\n".join(
        f"| {r['format']} | {r['statements']:,} | {r['file_mb']:.0f} MB | {r['records']:,} | {r['seconds']:.1f} s "
        f"| {r['statements_per_s']:,.0f} | {r['records_per_s']:,.0f} | {r['native_records_per_s']:,.0f} "
        f"| {r['peak_rss_mb']:,.0f} MB{_reader(r)} | {r['native_peak_rss_mb']:,.0f} MB |" for r in rows)


def _reader(row: dict[str, Any]) -> str:
    """The reading child's own peak RSS, when the load had one (loaders.readahead)."""
    return f" + reader {row['reader_peak_rss_mb']:,.0f} MB" if row["reader_peak_rss_mb"] else ""


def main(argv: list[str] | None = None) -> int:
    """Command line: generate, load in children, print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description="corpgraph importer rows")
    parser.add_argument("--formats", default=",".join(GENERATORS), help="comma-separated importer names")
    parser.add_argument("--statements", type=int, default=1_000_000, help="source records per file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpgraph-bench-importers"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--reader", choices=("auto", "child", "inline"), default="auto",
                        help="read imported files in a child process (loaders.readahead): when a core is idle "
                             "(auto, as corpgraph load), always, or never")
    parser.add_argument("--child", nargs=3, metavar=("FORMAT", "FILE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    os.environ["BENCH_READER"] = args.reader  # the children read it
    rows = run([f for f in args.formats.split(",") if f], args.statements, args.seed, args.workdir)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
