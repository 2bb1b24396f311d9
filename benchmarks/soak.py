"""Soak: the server under mixed load for a while, on loopback: queries, mutations and attacks at once.

    python benchmarks/soak.py --companies 30000 --seconds 300      # the long run (~6 min with the load)
    python benchmarks/soak.py --companies 2000 --seconds 40        # what tests/test_soak.py runs in `make test`

The server runs in its own process under `ulimit -n 256` (as `tests/live_server.server_process` starts it) over a
generated world. For `--seconds`: 4 clients send mixed queries (entity, search, owners, holdings, exposure,
liability chains, neighbourhoods), 1 client sends mutations (a new company holding a new company: no other
company's owners grow), 2 attackers send what the server must refuse (too deep, too many aliases, too costly,
a 2 MB body of nested lists, a batch, the wrong content type, a wrong token, broken JSON), and a probe reads
/healthz every 50 ms. Reported: /healthz p50/p99/max, each kind's count, the unexpected answers (a 5xx that is
not a TIMEOUT, an error code a kind must not get, an attack that was not refused), and the server's open files
and RSS at the end of the warm-up and at the end (flat: no leak).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import generate as gen  # noqa: E402
from benchmarks.run import load_jsonl  # noqa: E402
from corpgraph.graph.stores.sqlite import SqliteStore  # noqa: E402
from tests.live_server import open_files, rss_mib, server_process  # noqa: E402

TOKEN = "soak-token"
SAMPLE_EVERY = 5.0  # seconds between samples of the server's open files and RSS
UPSERT = "mutation($r: [JSON!]!) { upsertRecords(records: $r) { entities relations } }"
QUERY_CODES = {"TIMEOUT"}  # what a mixed query may answer besides data: its time budget ran out
ATTACKS: list[tuple[str, dict[str, Any]]] = [  # (name, what httpx.post gets besides the URL)
    ("too deep", {"json": {"query": "{ entity(id: \"c1\") { id " + "... on Company { id " * 12 + "}" * 13}}),
    ("aliases", {"json": {"query": "{ " + " ".join(f"a{k}: entity(id: \"c1\") {{ id }}" for k in range(40)) + " }"}}),
    ("cost", {"json": {"query": "{ holdings(companyId: \"c1\", first: 1000) { company { id name } owner { id "
                                "name } direct integrated } }"}}),
    ("nested lists", {"content": b'{"query": "{ __typename }", "variables": {"x": ['
                      + b",".join([b"[]"] * 690_000) + b"]}}", "headers": {"content-type": "application/json"}}),
    ("batch", {"json": [{"query": "{ __typename }"}]}),
    ("content type", {"content": b"{ __typename }", "headers": {"content-type": "text/plain"}}),
    ("wrong token", {"json": {"query": UPSERT, "variables": {"r": [{"type": "Company", "id": "evil", "name": "E"}]}},
                     "headers": {"authorization": "Bearer wrong"}}),
    ("broken JSON", {"content": b'{"query": ', "headers": {"content-type": "application/json"}}),
]


@dataclass
class Report:
    """What a soak measured."""

    seconds: float = 0.0
    healthz: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    files: list[int] = field(default_factory=list)  # the server's open files, every SAMPLE_EVERY seconds
    rss_mib: list[float] = field(default_factory=list)  # and its RSS
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: str, problem: str | None = None) -> None:
        """One answer of a kind, and what was unexpected about it (None: nothing)."""
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if problem is not None:
                self.unexpected.append(f"{kind}: {problem}")

    def summary(self) -> dict[str, Any]:
        """The figures, as printed by the command."""
        ordered = sorted(self.healthz)
        p99 = ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")
        return {"seconds": round(self.seconds, 1), "healthz_n": len(ordered),
                "healthz_p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
                "healthz_p99_ms": round(p99 * 1000, 1), "healthz_max_ms": round(max(ordered, default=0) * 1000, 1),
                "counts": self.counts, "unexpected": len(self.unexpected), "first_unexpected": self.unexpected[:5],
                "open_files": self.files, "rss_mib": [round(r, 1) for r in self.rss_mib]}


def prepare(folder: Path, companies: int, seed: int = 18) -> tuple[gen.World, Path]:
    """A generated world loaded into an embedded store file in the folder."""
    world = gen.generate(folder / "world.jsonl", companies, seed=seed)
    db = folder / "corpgraph.db"
    store = SqliteStore(db)
    load_jsonl(store, world.path, 5_000)
    store.close()
    return world, db


def soak(world: gen.World, db: Path, seconds: float, warmup: float = 5.0) -> Report:
    """Run the mixed load against a server over the store for `seconds` after a warm-up; the Report."""
    report = Report()
    with server_process(db, nofile=256, token=TOKEN, time_budget="2") as (url, process):
        stop = threading.Event()
        workers = [threading.Thread(target=_queries, args=(url, world, report, stop, k)) for k in range(4)]
        workers += [threading.Thread(target=_mutations, args=(url, report, stop)),
                    *(threading.Thread(target=_attacks, args=(url, report, stop, k)) for k in range(2)),
                    threading.Thread(target=_probe, args=(url, report, stop))]
        for worker in workers:
            worker.start()
        time.sleep(warmup)  # the projection is built and every lane has its threads: the baseline
        report.healthz.clear()  # /healthz measured over the soak itself
        started = time.perf_counter()
        while True:
            report.files.append(open_files(process.pid))
            report.rss_mib.append(rss_mib(process.pid))
            left = seconds - (time.perf_counter() - started)
            if left <= 0:
                break
            time.sleep(min(SAMPLE_EVERY, left))
        stop.set()
        for worker in workers:
            worker.join(timeout=120)
        report.seconds = time.perf_counter() - started
    return report


def _client() -> httpx.Client:
    """A loopback client that waits long enough for any answer the server gives."""
    return httpx.Client(trust_env=False, timeout=60)


def _queries(url: str, world: gen.World, report: Report, stop: threading.Event, k: int) -> None:
    """Mixed read queries until stopped; any error code but TIMEOUT is unexpected."""
    rng = random.Random(k)
    with _client() as client:
        while not stop.is_set():
            kind, query, variables = _mixed_query(rng, world)
            response = client.post(f"{url}/graphql", json={"query": query, "variables": variables})
            report.count(kind, _unexpected(response, QUERY_CODES))


# One document per kind, the ids in variables (as clients send them: the server's document cache holds 7 entries)
QUERIES = {
    "entity": "query($id: ID!) { entity(id: $id) { id name } }",
    "search": "query($text: String!) { search(text: $text, first: 5) { id } }",
    "owners": "query($id: ID!) { owners(companyId: $id) { direct integrated owner { id } } }",
    "holdings": "query($id: ID!) { holdings(companyId: $id, first: 50) { direct integrated company { id } } }",
    "exposure": "query($id: ID!) { exposure(entityId: $id) { items { channel weight } } }",
    "liability": "query($id: ID!) { liabilityChain(incidentId: $id) { parties { role weight } } }",
    "neighborhood": "query($id: ID!) { neighborhood(id: $id, depth: 2) { nodes { id } } }",
}


def _mixed_query(rng: random.Random, world: gen.World) -> tuple[str, str, dict[str, str]]:
    """One query of a random kind about a random company, holder or incident: kind, document, variables."""
    kind = rng.choice(sorted(QUERIES))
    company = f"c{rng.randrange(len(world.holders))}"
    about = {"holdings": rng.choice(world.holders), "exposure": rng.choice(world.holders),
             "liability": rng.choice(world.incidents)}.get(kind, company)
    return kind, QUERIES[kind], {"text": company[:3]} if kind == "search" else {"id": about}


def _mutations(url: str, report: Report, stop: threading.Event) -> None:
    """Mutations until stopped, one at a time (a new company holding a new company); every one must succeed."""
    with _client() as client:
        i = 0
        while not stop.is_set():
            records = [{"type": "Company", "id": f"soak-x{i}", "name": f"Soak X{i}"},
                       {"type": "Company", "id": f"soak-y{i}", "name": f"Soak Y{i}"},
                       {"type": "OWNS", "source": f"soak-x{i}", "target": f"soak-y{i}", "share": 0.5}]
            response = client.post(f"{url}/graphql", json={"query": UPSERT, "variables": {"r": records}},
                                   headers={"authorization": f"Bearer {TOKEN}"})
            report.count("mutation", _unexpected(response, set()))
            i += 1


def _attacks(url: str, report: Report, stop: threading.Event, k: int) -> None:
    """Attacks until stopped; each must be refused (a 4xx in the JSON shape, or a GraphQL error with a code)."""
    with _client() as client:
        at = k
        while not stop.is_set():
            name, request = ATTACKS[at % len(ATTACKS)]
            response = client.post(f"{url}/graphql", **request)
            report.count(f"attack: {name}", _not_refused(response))
            at += 1


def _probe(url: str, report: Report, stop: threading.Event) -> None:
    """/healthz every 50 ms until stopped; its latency, and anything but an "ok" 200 is unexpected."""
    with _client() as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = client.get(f"{url}/healthz")
            report.healthz.append(time.perf_counter() - started)
            ok = response.status_code == 200 and response.json().get("status") == "ok"
            report.count("healthz", None if ok else f"{response.status_code} {response.text[:200]}")
            stop.wait(0.05)


def _unexpected(response: httpx.Response, allowed: set[str]) -> str | None:
    """What is wrong with an answer that should carry data: a status other than 200, or an error code not allowed."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    errors = response.json().get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    return None if codes <= allowed else f"codes {sorted(map(str, codes))}: {errors[0].get('message', '')[:200]}"


def _not_refused(response: httpx.Response) -> str | None:
    """What is wrong with the answer to an attack: not refused, refused with a 5xx, or not in the JSON shape."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    try:
        body = response.json()
    except json.JSONDecodeError:
        return f"HTTP {response.status_code} not JSON: {response.text[:200]}"
    if 400 <= response.status_code < 500:
        return None if isinstance(body, dict) and body.get("code") or body.get("errors") else f"no code: {body}"
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
    # GraphQL's own validation errors (depth, aliases) carry no code; a refused document has no data
    return None if body.get("errors") and (body.get("data") is None or codes) else f"not refused: {str(body)[:200]}"


def main(argv: list[str] | None = None) -> None:
    """Run a soak and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=30_000)
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="corpgraph-soak-") as folder:
        world, db = prepare(Path(folder), args.companies)
        print(json.dumps(soak(world, db, args.seconds).summary(), indent=1))


if __name__ == "__main__":
    main()
