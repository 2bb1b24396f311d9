"""How long the explorer takes to draw large graphs in a real browser (headless Debian Chromium).

Serves the seed with `corpgraph serve`, opens /explore, and times the explorer's own draw() (elements,
layout, filters and text view) on generated ownership trees of 1,000, 10,000 and 50,000 nodes, until the
next frame is painted: as the explorer shows them (fan-outs folded into "N more" nodes) and with every node
drawn. Past 1,000 nodes the explorer draws on its own canvas (explore-big.js) instead of Cytoscape; "own s"
is the time that view reports for itself (layout and first full drawing). Then, on every node, the
intervals between frames during 120 frames of dragging and scrolling (p50/p95), and the full redraw once the
gesture rests. The baseline in the same run is what a naive explorer would do: Cytoscape's force-directed
`cose` layout on the same graph.

    .venv/bin/python benchmarks/explorer_draw.py [--sizes 1000,10000,50000] [--repeat 3] [--no-naive]
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
# p95 of the intervals between frames while panning and zooming every node (issue 23: 50,000 "smoothly";
# 50 ms is 20 frames a second at the slowest twentieth)
FRAME_TARGETS = {50_000: 50.0}

# A tree like a large holder's holdings: node 0 owns 30 companies, each of those owns the next ones.
GENERATE_AND_DRAW = """async ([n, layout, fold]) => {
  const nodes = [], edges = [];
  for (let i = 0; i < n; i++) nodes.push(nodeData('n' + i, 'COMPANY', 'Company ' + i, { rank: i === 0 ? 10 : 1 }));
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


# Pan and zoom for 120 frames after a draw: the time between frames (what a user feels as smoothness). A big
# view is dragged and scrolled through its own event handlers (pointer and wheel events on its canvas);
# Cytoscape's viewport is moved directly. Then, for a big view, how long the full redraw takes once the gesture
# rests (the frames in between show the cached bitmap moved).
PAN_AND_ZOOM = """async () => {
  const canvas = document.getElementById('big');
  const box = canvas.getBoundingClientRect();
  const [x, y] = [box.left + box.width / 2, box.top + box.height / 2];
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  if (state.big) canvas.dispatchEvent(new PointerEvent('pointerdown', { clientX: x, clientY: y, button: 0, bubbles: true }));
  await frame();
  const times = [];
  let last = performance.now();
  for (let i = 0; i < 120; i++) {
    const zoom = i % 20 < 10 ? 1.03 : 0.97;
    if (state.big) {
      window.dispatchEvent(new PointerEvent('pointermove', { clientX: x + 4 * (i + 2), clientY: y + 2 * (i + 2), buttons: 1 }));
      canvas.dispatchEvent(new WheelEvent('wheel', { clientX: x, clientY: y, deltaY: -Math.log(zoom) / 0.0015, cancelable: true }));
    } else cy.viewport({ zoom: cy.zoom() * zoom, pan: { x: cy.pan().x + 4, y: cy.pan().y + 2 } });
    await frame();
    const now = performance.now();
    times.push(now - last);
    last = now;
  }
  let rest = null;
  if (state.big) {
    window.dispatchEvent(new PointerEvent('pointerup', { clientX: x + 250, clientY: y + 125, button: 0 }));
    const start = performance.now();
    big.render(); big.frame();
    await frame();
    rest = performance.now() - start;
  }
  times.sort((a, b) => a - b);
  return [times[Math.floor(times.length / 2)], times[Math.floor(times.length * 0.95)], rest];
}"""


def main() -> None:
    """Print the table of draw and frame times against the targets and the naive baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive cose baseline (minutes at 1,000 nodes)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp, _server(Path(tmp)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/explore", wait_until="networkidle")
        print(f"{'nodes':>7} {'folded s':>9} {'drawn':>6} {'every node s':>13} {'view':>9} {'own s':>6} {'target s':>9} "
              f"{'met':>4} {'frame ms p50/p95':>17} {'p95 target':>11} {'met':>4} {'rest ms':>8} {'naive cose s':>13}")
        for n in sizes:
            folded = statistics.median(page.evaluate(GENERATE_AND_DRAW, [n, "explorer", True]) for _ in range(args.repeat))
            drawn = page.evaluate("onScreen().nodes.length")
            every = statistics.median(page.evaluate(GENERATE_AND_DRAW, [n, "explorer", False]) for _ in range(args.repeat))
            view, own = page.evaluate("state.big ? ['canvas', big.drawSeconds] : ['cytoscape', null]")
            p50, p95, rest = page.evaluate(PAN_AND_ZOOM)
            # cose on 10,000 nodes runs for minutes: the baseline is measured where it finishes.
            naive = (f"{page.evaluate(GENERATE_AND_DRAW, [n, 'cose', False]):13.2f}" if n <= 2_000 and not args.no_naive
                     else f"{'(not run)':>13}")
            target, frame_target = TARGETS.get(n), FRAME_TARGETS.get(n)
            print(f"{n:>7} {folded:>9.2f} {drawn:>6} {every:>13.2f} {view:>9} {_or_dash(own, '.2f'):>6} {target or '':>9} "
                  f"{_met(every, target):>4} {p50:>8.0f}/{p95:<8.0f} {frame_target or '':>11} {_met(p95, frame_target):>4} "
                  f"{_or_dash(rest, '.0f'):>8} {naive}", flush=True)
        browser.close()


def _met(value: float, target: float | None) -> str:
    """'yes' or 'no' against a target, blank where the size has none."""
    return "" if target is None else ("yes" if value <= target else "no")


def _or_dash(value: float | None, spec: str) -> str:
    """A figure, or a dash where the view has none (Cytoscape reports no draw time of its own)."""
    return "-" if value is None else format(value, spec)


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
