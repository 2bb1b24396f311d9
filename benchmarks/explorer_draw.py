"""How long the explorer takes to draw large graphs in a real browser (headless Debian Chromium).

Serves the seed with `corpgraph serve`, opens /explore, and times the explorer's own draw() (elements,
layout, filters and text view) on generated ownership trees of 1,000 and 10,000 nodes, until the next
frame is painted: as the explorer shows them (fan-outs folded into "N more" nodes) and with every node
drawn; then the frame times of 60 frames of panning and zooming. The baseline in the same run is what a naive explorer would do: Cytoscape's
force-directed `cose` layout on the same graph (the explorer switches to a concentric layout past 300
nodes because of it).

    .venv/bin/python benchmarks/explorer_draw.py [--sizes 1000,10000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TARGETS = {1_000: 1.0, 10_000: 1.0}  # seconds until every node is on screen (issue 23: 10,000 in <= 1 s)

# A tree like a large holder's holdings: node 0 owns 30 companies, each of those owns the next ones.
GENERATE_AND_DRAW = """async ([n, layout, fold]) => {
  const nodes = [], edges = [];
  for (let i = 0; i < n; i++) nodes.push(nodeData('n' + i, 'Company', 'Company ' + i, { rank: i === 0 ? 10 : 1 }));
  for (let i = 1; i < n; i++) {
    const parent = Math.floor((i - 1) / 30);
    edges.push(edgeData({ id: 'e' + i, source: 'n' + parent, target: 'n' + i, type: 'OWNS', properties: { share: 0.5 } }));
  }
  state.drawLimit = n;
  state.foldLimit = fold ? undefined : Infinity;  // undefined: the explorer's own limit (FAN_LIMIT)
  const start = performance.now();
  if (layout === 'explorer') draw(nodes, edges);
  else { cy.elements().remove(); cy.add(nodes.map((data) => ({ group: 'nodes', data })));
         cy.add(edges.map((data) => ({ group: 'edges', data }))); cy.layout({ name: 'cose', animate: false }).run(); cy.fit(); }
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  return (performance.now() - start) / 1000;
}"""


# Pan and zoom for 60 frames after a draw: the time between frames (what a user feels as smoothness).
PAN_AND_ZOOM = """async () => {
  const times = [];
  let last = performance.now();
  for (let i = 0; i < 60; i++) {
    cy.viewport({ zoom: cy.zoom() * (i % 20 < 10 ? 1.03 : 0.97), pan: { x: cy.pan().x + 4, y: cy.pan().y + 2 } });
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    times.push(now - last);
    last = now;
  }
  times.sort((a, b) => a - b);
  return [times[30], times[56]];
}"""


def main() -> None:
    """Print the table of draw times against the targets and the naive baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp, _server(Path(tmp)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/explore", wait_until="networkidle")
        print(f"{'nodes':>7} {'folded s':>9} {'drawn':>6} {'every node s':>13} {'target s':>9} {'met':>4} "
              f"{'frame ms p50/p95':>17} {'naive cose s':>13}")
        for n in sizes:
            folded = statistics.median(page.evaluate(GENERATE_AND_DRAW, [n, "explorer", True]) for _ in range(args.repeat))
            drawn = page.evaluate("cy.nodes().length")
            every = statistics.median(page.evaluate(GENERATE_AND_DRAW, [n, "explorer", False]) for _ in range(args.repeat))
            frames = page.evaluate(PAN_AND_ZOOM)
            # cose on 10,000 nodes runs for minutes: the baseline is measured where it finishes.
            naive = f"{page.evaluate(GENERATE_AND_DRAW, [n, 'cose', False]):13.2f}" if n <= 2_000 else f"{'(not run)':>13}"
            target = TARGETS.get(n)
            met = "" if target is None else ("yes" if every <= target else "no")
            print(f"{n:>7} {folded:>9.2f} {drawn:>6} {every:>13.2f} {target or '':>9} {met:>4} "
                  f"{frames[0]:>8.0f}/{frames[1]:<8.0f} {naive}", flush=True)
        browser.close()


class _server:
    """`corpgraph serve --seed` on a free loopback port for the run."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "CORPGRAPH_DB": str(self.tmp / "bench.db")}
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "corpgraph"), "serve", "--seed", "--host",
                                      "127.0.0.1", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


if __name__ == "__main__":
    main()
