"""corpgraph as the benchmark reaches it: in-process through the facade, and over HTTP through its server.

The one place that knows the product's API; answers are turned into the plain dicts the peers give
(integrated -> {company: share}, liability -> {(entity, role): weight}, exposure -> {(incident, channel): weight}).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, cast

from benchmarks.footprint import projection_bytes
from benchmarks.peers import Key
from corpgraph.api.settings import EXPOSURE_FIRST, ApiSettings
from corpgraph.graph.analytics.ownership import Shares, row
from corpgraph.graph.analytics.results import Exposure, Holding, HoldingPage, LiabilityChain
from corpgraph.graph.gc_policy import FrozenProjections
from corpgraph.graph.projection.ready import ready_view
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent


class Ours:
    """The product over an embedded store, its projection built up front (the build is reported apart)."""

    def __init__(self, store: SqliteStore) -> None:
        started = time.perf_counter()
        self.path = store.path
        self.graph = CorpGraph(store, FrozenProjections())  # a long-lived process, as the server
        self.projection = self.graph.projection()
        self.build_seconds = time.perf_counter() - started
        self.holdings_first = ApiSettings().holdings_first  # read once: reading settings costs 10 ms, not timed

    def reopen(self) -> None:
        """Give a forked child its own store connection (SQLite connections must not cross a fork)."""
        self.graph.store = SqliteStore(self.path)

    def integrated_arrays(self, holder: str, as_of: date) -> Shares:
        """Exact integrated share of holder in everything it reaches, as the product computes it (arrays)."""
        projection = self.graph.projection()
        return row(projection.view(as_of), projection.index[holder], bounds=False)

    def shares(self, answer: Shares) -> dict[str, float]:
        """integrated_arrays' answer by company id (the holder itself left out)."""
        ids = self.projection.ids
        pairs = zip(answer.nodes.tolist(), answer.integrated.tolist())
        return {ids[n]: v for n, v in pairs if n != answer.anchor}

    def integrated(self, holder: str, as_of: date) -> dict[str, float]:
        """Exact integrated share of holder in every company it reaches, by id."""
        return self.shares(self.integrated_arrays(holder, as_of))

    def holdings(self, holder: str, as_of: date) -> list[Holding]:
        """The full `holdings` answer: direct, integrated and control flag per company."""
        return self.graph.holdings(holder, as_of, bounds=False)

    def holdings_page(self, holder: str, as_of: date) -> HoldingPage:
        """The first page of `holdings` as the GraphQL field answers it by default (ApiSettings.holdings_first),
        with the count of all of them."""
        return self.graph.holdings_page(holder, as_of, first=self.holdings_first, bounds=False)

    def liability(self, incident: str, as_of: date) -> LiabilityChain:
        """The product's liability chain as the peer answers it: every party and its exact weight (all owners),
        no explaining paths (computed only when asked for, as GraphQL does when `paths`/`graph` are not selected)."""
        return self.graph.liability_chain(incident, as_of, bounds=False, paths=False)

    def liability_paths(self, incident: str, as_of: date) -> LiabilityChain:
        """The full liability chain: all owners, top 3 paths each (depth 6) and the subgraph."""
        return self.graph.liability_chain(incident, as_of, bounds=False)

    def exposure(self, entity: str, as_of: date) -> Exposure:
        """The product's exposure (all channels, paths to depth 6, subgraph)."""
        return self.graph.exposure(entity, as_of, bounds=False)

    def exposure_page(self, entity: str, as_of: date, paths: bool = False) -> Exposure:
        """The first page of a holder's exposure as the GraphQL field answers it by default: all channels, 20 items
        ranked by weight x impact, totals and count over every item; paths and subgraph of the page when asked."""
        return self.graph.exposure(entity, as_of, bounds=False, paths=paths, first=EXPOSURE_FIRST)

    @staticmethod
    def page(exposure: Exposure) -> dict[str, Any]:
        """What a page answer is checked by: its count, items and totals."""
        return {"count": exposure.count, "items": len(exposure.items), "totals": exposure.totals}

    @staticmethod
    def parties(chain: LiabilityChain) -> dict[Key, float]:
        """A liability chain as {(entity, role): weight}; the largest weight when a party appears twice."""
        out: dict[Key, float] = {}
        for party in chain.parties:
            key = (party.entity, party.role.value)
            out[key] = max(out.get(key, 0.0), party.weight or 0.0)
        return out

    @staticmethod
    def items(exposure: Exposure) -> dict[Key, float]:
        """An exposure as {(incident, channel): weight}; the largest weight over several routes."""
        out: dict[Key, float] = {}
        for item in exposure.items:
            key = (item.incident, item.channel.value)
            out[key] = max(out.get(key, 0.0), item.weight)
        return out

    def warm(self, as_of: date) -> float:
        """Build the projection's view at as_of once, here, as queries take it (graph.projection.ready: with its
        control relation and components), so no timed call (nor forked child) pays for it."""
        started = time.perf_counter()
        ready_view(self.projection, as_of)
        return time.perf_counter() - started

    def projection_bytes(self) -> dict[str, int]:
        """Bytes the projection holds with its cached date views, by part (benchmarks.footprint counts everything)."""
        return projection_bytes(self.projection)


class GraphQLServer:
    """The product's ASGI app under uvicorn on 127.0.0.1 (a subprocess over the same store file), made as
    `corpgraph serve` makes it (api.cli.serving_app: projections frozen, built apart)."""

    LIABILITY = ("query($id: ID!, $asOf: Date) { liabilityChain(incidentId: $id, asOf: $asOf) "
                 "{ parties { entity { id } role weight } } }")
    # Pages of the largest size: a random holder's items fit one page (exposure() follows the cursor when not)
    EXPOSURE = ("query($id: ID!, $asOf: Date, $after: String) { exposure(entityId: $id, asOf: $asOf, first: 100, "
                "after: $after) { count items { incident { id } channel weight cursor } } }")

    def __init__(self, db: Path, warm_up: tuple[str, date], ready_seconds: float = 60, warm_seconds: float = 600,
                 timeout: float = 120) -> None:
        self.db, self.warm_up, self.timeout = db, warm_up, timeout
        self.ready_seconds, self.warm_seconds = ready_seconds, warm_seconds

    def __enter__(self) -> "GraphQLServer":
        import httpx  # a dev dependency (bench extra), like the peers

        port = _free_port()
        env = {**os.environ, "CORPGRAPH_DB": str(self.db), "CORPGRAPH_STORE": "embedded"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "corpgraph.api.cli:serving_app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=self.timeout)
        try:
            self._wait_ready(httpx.TransportError)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self, not_yet: type[Exception]) -> None:
        """Poll /healthz, then one liabilityChain (incident, as_of) so the server builds its projection and
        the view of that date before timing starts."""
        deadline = time.monotonic() + self.ready_seconds
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the GraphQL server exited with status {self.process.returncode}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    break
            except not_yet:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        warm = time.monotonic() + self.warm_seconds
        while True:  # the first build outlasts the server's time budget per request (TIMEOUT): ask again
            try:
                self._post(self.LIABILITY, *self.warm_up, timeout=self.warm_seconds)
                return
            except RuntimeError as exc:
                if "TIMEOUT" not in str(exc) or time.monotonic() > warm:
                    raise

    def liability(self, incident: str, as_of: date) -> dict[Key, float]:
        """One liabilityChain request, answered as {(entity, role): weight}."""
        out: dict[Key, float] = {}
        for party in self._post(self.LIABILITY, incident, as_of)["liabilityChain"]["parties"]:
            key = (party["entity"]["id"], party["role"])
            out[key] = max(out.get(key, 0.0), party["weight"] or 0.0)
        return out

    def exposure(self, entity: str, as_of: date) -> dict[Key, float]:
        """One exposure request, answered as {(incident, channel): weight}."""
        out: dict[Key, float] = {}
        seen, after = 0, None
        while True:
            page = self._post(self.EXPOSURE, entity, as_of, after=after)["exposure"]
            for item in page["items"]:
                key = (item["incident"]["id"], item["channel"])
                out[key] = max(out.get(key, 0.0), item["weight"])
            seen += len(page["items"])
            if not page["items"] or seen >= page["count"]:
                return out
            after = page["items"][-1]["cursor"]

    def concurrently(self, kind: str, keys: list[str], as_of: date, clients: int, budget: float
                     ) -> tuple[list[float], float, int]:
        """`clients` threads, each on its own connection, send every key once (each starting at another key);
        (seconds of each answered request, wall seconds, requests left unsent at the budget)."""
        import httpx
        from concurrent.futures import ThreadPoolExecutor

        query = self.LIABILITY if kind == "liability" else self.EXPOSURE
        deadline = time.monotonic() + budget

        def one_client(offset: int) -> tuple[list[float], int]:
            times: list[float] = []
            order = keys[offset % len(keys):] + keys[:offset % len(keys)]
            with httpx.Client(base_url=self.client.base_url, timeout=self.timeout) as client:
                for at, key in enumerate(order):
                    if time.monotonic() > deadline:
                        return times, len(order) - at
                    started = time.perf_counter()
                    self._post(query, key, as_of, client=client)
                    times.append(time.perf_counter() - started)
            return times, 0

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            done = list(pool.map(one_client, [k * len(keys) // clients for k in range(clients)]))
        return [t for times, _ in done for t in times], time.perf_counter() - started, sum(left for _, left in done)

    def peak_rss(self) -> int:
        """The server process's peak resident set size, in bytes (VmHWM)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM"))

    def _post(self, query: str, id: str, as_of: date, timeout: float | None = None, client: Any = None,
              after: str | None = None) -> dict[str, Any]:
        """One GraphQL request (on `client`, default the server's own); errors in the answer are raised, never
        timed as answers."""
        import httpx

        variables = {"id": id, "asOf": as_of.isoformat(), **({"after": after} if after else {})}
        payload = {"query": query, "variables": variables}
        try:
            response = (client or self.client).post("/graphql", json=payload, timeout=timeout or self.timeout)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"no answer for {id} within {timeout or self.timeout} s") from exc
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors for {id}: {body['errors']}")
        return cast(dict[str, Any], body["data"])

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
