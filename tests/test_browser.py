"""The two pages in a real browser: the GraphQL playground and the graph explorer, offline.

Headless Chromium (Debian's package, installed by `make test`) is driven by Playwright against a running
`corpgraph serve --seed` on 127.0.0.1; every request to another host is blocked and recorded, so a page
that still needs a CDN fails here. Screenshots land in tests/artifacts/ to be looked at.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
# Chromium's own background traffic is refused on this network; these flags keep it from trying.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists():  # `make test` installs it; a machine where apt could not gets this message
    pytest.skip("the browser tests need Debian's chromium package (/usr/bin/chromium); `make test` installs it "
                "with apt-get when it can", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="the dev extra installs playwright")


# GLEIF's ambiguous "1.00" kept as the range 1%..100%: the responsible company's owner weighs its midpoint,
# (0.01 + 1.0) / 2 = 0.505, as an estimate; it controls only at the maximum (100% > 50%), not at the minimum.
RANGE_WORLD = [
    {"type": "Company", "id": "rng-parent", "name": "Range Parent"},
    {"type": "Company", "id": "rng-child", "name": "Range Child"},
    {"type": "OWNS", "source": "rng-parent", "target": "rng-child", "share_min": 0.01, "share_max": 1.0},
    {"type": "Incident", "id": "rng-leak", "name": "Range leak", "category": "data_leak"},
    {"type": "RESPONSIBLE_FOR", "source": "rng-child", "target": "rng-leak"},
]
# A chain three owners deep: the responsible company held by 4 holdings, each held by 4 families (16), each
# of those holding 10% (so every owner is a party): 1 incident + 1 + 4 + 16 = 22 nodes in 4 layers.
CHAIN_WORLD = (
    [{"type": "Incident", "id": "ch-leak", "name": "Chain leak", "category": "data_leak"},
     {"type": "Company", "id": "ch-op", "name": "Chain Operator Holdings International Limited"},
     {"type": "RESPONSIBLE_FOR", "source": "ch-op", "target": "ch-leak"}]
    + [{"type": "Company", "id": f"ch-h{i}", "name": f"Holding number {i} of the operator group"} for i in range(4)]
    + [{"type": "OWNS", "source": f"ch-h{i}", "target": "ch-op", "share": 0.2} for i in range(4)]
    + [{"type": "Person", "id": f"ch-p{i}{j}", "name": f"Family {i}-{j}"} for i in range(4) for j in range(4)]
    + [{"type": "OWNS", "source": f"ch-p{i}{j}", "target": f"ch-h{i}", "share": 0.1} for i in range(4) for j in range(4)]
)
# OFAC's example 3 (FAQ 401) for the sanctions view: SX listed, 50% of SA and 10% of SB; SA 40% of SB.
SANCTIONS_WORLD = [{"type": "Person", "id": "sx", "name": "Sanctioned X"}, {"type": "Company", "id": "sa", "name": "SA Holding"},
                   {"type": "Company", "id": "sb", "name": "SB Trading"},
                   {"type": "Sanction", "entity": "sx", "regime": "OFAC", "program": "SDGT",
                    "sources": [{"publisher": "OFAC", "title": "SDN List update"}]},
                   {"type": "OWNS", "source": "sx", "target": "sa", "share": 0.5,
                    "sources": [{"publisher": "Registry", "title": "SA shareholder list"}]},
                   {"type": "OWNS", "source": "sx", "target": "sb", "share": 0.1},
                   {"type": "OWNS", "source": "sa", "target": "sb", "share": 0.4}]

# A perpetrator attributed to a state body: drawn beside it with its ATTRIBUTED_TO edge, never a liable party.
ATTRIBUTION_WORLD = [{"type": "Incident", "id": "att-leak", "name": "Attributed leak", "category": "intrusion"},
                     {"type": "Company", "id": "att-op", "name": "Operator Ltd"},
                     {"type": "Actor", "id": "att-gang", "name": "Gang G"},
                     {"type": "Organization", "id": "att-state", "name": "State Body S", "kind": "government"},
                     {"type": "RESPONSIBLE_FOR", "source": "att-op", "target": "att-leak"},
                     {"type": "PERPETRATED", "source": "att-gang", "target": "att-leak"},
                     {"type": "ATTRIBUTED_TO", "source": "att-gang", "target": "att-state"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`corpgraph serve --seed` on a free loopback port, stopped after the module."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("browser")
    env = {**os.environ, "CORPGRAPH_DB": str(folder / "corpgraph.db")}
    # Beside the seed, a holder of 150 companies: more than one page (100) of holdings.
    holder = folder / "holder.jsonl"
    holder.write_text("\n".join([json.dumps({"type": "Company", "id": "holder", "name": "Big Holder"})]
                                + [json.dumps({"type": "Company", "id": f"h{i:03}", "name": f"Held {i:03}"}) for i in range(150)]
                                + [json.dumps({"type": "OWNS", "source": "holder", "target": f"h{i:03}", "share": 0.2 + i / 1000})
                                   for i in range(150)]) + "\n", encoding="utf-8")
    extra = folder / "extra.jsonl"
    extra.write_text("\n".join(json.dumps(r) for r in RANGE_WORLD + CHAIN_WORLD + SANCTIONS_WORLD + ATTRIBUTION_WORLD) + "\n",
                     encoding="utf-8")
    subprocess.run([str(Path(sys.executable).parent / "corpgraph"), "load", str(holder), str(extra)], env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "corpgraph"), "serve", "--seed", "--examples", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded CI machine starts slowly
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class Page:
    """A browser page that records console errors and every request it tried to send off the machine."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.blocked: list[str] = []
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        """Loopback only: anything else is recorded and aborted, as on an offline machine."""
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def finish(self, name: str) -> None:
        """Save a screenshot as a test artefact, then require a clean console and no off-machine request."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
        assert self.blocked == [], f"the page asked other hosts: {self.blocked}"
        assert self.errors == [], f"console errors: {self.errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (no browser download)."""
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    """A fresh page at a desktop size."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield Page(context.new_page())
    context.close()


def test_playground_renders_offline_and_runs_the_readme_query(server: str, page: Page) -> None:
    page.page.goto(f"{server}/graphql", wait_until="networkidle")
    page.page.wait_for_selector(".graphiql-container .graphiql-editor", timeout=30_000)
    # The README's queries open as tabs; the first is the liability chain of the Kaola leak.
    tabs = page.page.locator(".graphiql-tab")
    assert tabs.count() >= 4
    page.page.click(".graphiql-execute-button")
    result = page.page.locator(".result-window")
    # exact: the id "lakala" may be in view too, and the default match ignores case.
    result.get_by_text('"Lakala"', exact=True).first.wait_for(timeout=30_000)
    # CodeMirror draws only the lines in view: read the whole answer from the editor itself.
    text = page.page.evaluate("document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()")
    lakala = re.search(r'"id": "lakala",.*?"role": "(\w+)",\s*"weight": ([0-9.]+)', text, re.S)
    assert lakala is not None and lakala.groups() == ("OWNER", "0.324"), text
    page.finish("playground")


def test_playground_runs_the_watch_subscription_over_a_websocket(server: str, page: Page) -> None:
    page.page.goto(f"{server}/graphql", wait_until="networkidle")
    page.page.wait_for_selector(".graphiql-container .graphiql-editor", timeout=30_000)
    page.page.locator(".graphiql-tab", has_text="Watch").click()
    # The editor shows the tab's query a moment after the click: run it only then.
    page.page.wait_for_function("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
                                ".getValue().includes('subscription Watch')", timeout=10_000)
    page.page.click(".graphiql-execute-button")
    # The first event per watched entity is its state now (seed: nobody is listed, so NOT_BLOCKED).
    page.page.locator(".result-window").get_by_text('"initial"').first.wait_for(timeout=30_000)
    text = page.page.evaluate("document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()")
    assert '"watch"' in text and '"NOT_BLOCKED"' in text, text
    page.page.click(".graphiql-execute-button")  # stops the subscription
    page.finish("playground-watch")


def test_the_sanctions_view_draws_contributors_by_status_and_explains_each_hop(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore?query=sanctions&id=sb&regime=OFAC", wait_until="networkidle")
    summary = page.page.locator("#summary")
    summary.get_by_text("BLOCKED BY OWNERSHIP").wait_for(timeout=30_000)
    # 10% from SX (listed) + 40% from SA (blocked by SX's 50%) = 50%: OFAC's "50 percent or more".
    assert "hold 50%" in summary.inner_text()
    rows = page.page.locator("table.contributors tr")
    assert sorted(rows.all_inner_texts()) == ["SA Holding\tBLOCKED_BY_OWNERSHIP\t40%", "Sanctioned X\tLISTED\t10%"]
    assert page.page.evaluate("cy.nodes().length") == 3 and page.page.evaluate("cy.edges().length") == 3
    page.page.get_by_role("link", name="SA Holding").click()
    details = page.page.locator("#details")
    details.get_by_text("SA shareholder list").wait_for(timeout=10_000)  # the hop SX -> SA, with its source
    assert "SDN List update" in details.inner_text()  # the path opens with the designation and its source
    page.finish("explorer-sanctions")


def test_explorer_draws_the_kaola_liability_chain_with_its_text_view(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore?query=liability&id=kaola-leak-2019", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length > 0", timeout=30_000)
    # The incident, the responsible company, its owner and the data recipient; OWNS, RESPONSIBLE_FOR, SUPPLIED_DATA_TO.
    assert page.page.evaluate("cy.nodes().length") == 4
    assert page.page.evaluate("cy.edges().length") == 3
    # Kaola (responsible), Lakala (owner), Heipachong (data recipient): three parties, three entities.
    assert "3 parties (3 distinct)" in page.page.locator("#summary").inner_text()
    page.page.click("#toggle-text")
    rows = {tuple(cell.strip() for cell in row.split("\t")) for row in
            page.page.locator("#nodes-table tr").all_inner_texts()}
    assert ("Kaola Credit", "Company", "kaola", "RESPONSIBLE", "1") in rows
    assert ("Lakala", "Company", "lakala", "OWNER", "0.324") in rows
    assert ("Heipachong", "Company", "heipachong", "DATA_RECIPIENT", "1") in rows
    edges = page.page.locator("#edges-table").inner_text()
    assert re.search(r"Lakala\s+OWNS\s+Kaola Credit\s+0\.324", edges)
    page.page.click("#toggle-text")
    page.finish("explorer-kaola-liability")


def test_clicking_a_node_explains_it_and_expands_its_neighbourhood(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore?query=liability&id=kaola-leak-2019", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length === 4", timeout=30_000)
    # A real click on Lakala's drawn position: the panel shows its weight and the path with its source.
    box = page.page.locator("#cy").bounding_box()
    pos = page.page.evaluate("cy.getElementById('lakala').renderedPosition()")
    page.page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    details = page.page.locator("#details")
    details.get_by_text("Expand neighbours").wait_for(timeout=30_000)
    text = details.inner_text()
    assert "OWNER" in text and "0.324" in text and "상하이방" in text
    assert "lakala —OWNS 32.4%→ kaola" in text  # the path that explains the weight, hop by hop
    # Expanding the incident draws who reported it (CCTV, the police, ZOL in the seed), not in the chain.
    pos = page.page.evaluate("cy.getElementById('kaola-leak-2019').renderedPosition()")
    page.page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    details.get_by_text("Liability chain").wait_for(timeout=30_000)
    details.get_by_text("Expand neighbours").click()
    page.page.wait_for_function("cy.nodes().length === 7", timeout=30_000)
    assert page.page.evaluate("cy.getElementById('cctv').length") == 1
    page.finish("explorer-expanded")


def test_search_in_three_scripts_finds_lakala_and_opens_its_exposure(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore", wait_until="networkidle")
    for text in ("拉卡拉", "라카라", "Lakala"):
        page.page.fill("#search", text)
        page.page.locator("#results li", has_text="lakala").first.wait_for(timeout=30_000)
    page.page.locator("#results li", has_text="lakala").first.get_by_text("exposure").click()
    page.page.wait_for_function("cy.nodes().length > 0", timeout=30_000)
    summary = page.page.locator("#summary").inner_text()
    assert "Exposure: Lakala" in summary and "OWNERSHIP" in summary and "0.324" in summary
    assert "exposure" in page.page.url and "id=lakala" in page.page.url  # the shareable link follows the view
    page.finish("explorer-lakala-exposure")


def test_a_shared_link_opens_the_same_view_at_its_date(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore?query=liability&id=kaola-leak-2019&asOf=2018-06-30", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length > 0", timeout=30_000)
    assert page.page.input_value("#asOf") == "2018-06-30"
    assert page.page.input_value("#id") == "kaola-leak-2019"
    # The answer was asked at that date: the server echoes it back.
    assert "as of 2018-06-30" in page.page.locator("#summary").inner_text()
    page.finish("explorer-shared-link")


def test_holdings_come_a_page_at_a_time_strongest_first(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore?query=holdings&id=holder", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length > 0", timeout=30_000)
    # The holder and the first page of 100: a fan-out of 100 leaves, drawn as the 11 strongest and "89 more".
    assert page.page.evaluate("cy.nodes().length") == 13
    assert page.page.evaluate("cy.getElementById('more|holder').data('label')") == "89 more"
    summary = page.page.locator("#summary").inner_text()
    assert "150 in all" in summary and "50 more" in summary
    # Shares are 0.2 + i/1000: the strongest is h149 (34.9%), the 11th h139; the first page ends at h050 (25%).
    assert page.page.evaluate("[cy.getElementById('h149').length, cy.getElementById('h139').length, "
                              "cy.getElementById('h138').length]") == [1, 1, 0]
    page.page.click("#more-holdings")
    page.page.wait_for_function("state.answer.page.length === 150", timeout=30_000)
    assert page.page.locator("#summary .more").count() == 0  # all 150 loaded: no "more" notice left
    # Clicking "139 more" draws them all.
    box = page.page.locator("#cy").bounding_box()
    pos = page.page.evaluate("cy.getElementById('more|holder').renderedPosition()")
    page.page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    page.page.wait_for_function("cy.nodes().length === 151", timeout=30_000)
    assert page.page.evaluate("cy.getElementById('h049').length") == 1
    page.finish("explorer-holdings-paged")


# In the page: node bodies that overlap, and shown labels (node names, edge labels) that sit on a node body.
OVERLAPS = """() => {
  const hit = (a, b) => a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;
  const bodies = cy.nodes(':visible').map((n) => [n.id(), n.boundingBox({ includeLabels: false, includeOverlays: false })]);
  const nodes = [];
  for (let i = 0; i < bodies.length; i++) for (let j = i + 1; j < bodies.length; j++) {
    if (hit(bodies[i][1], bodies[j][1])) nodes.push([bodies[i][0], bodies[j][0]]);
  }
  const labels = [];
  const shown = [];
  cy.elements(':visible').forEach((el) => {
    if (!el.style('label')) return;
    shown.push(el.id());
    const box = el.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true, includeOverlays: false });
    for (const [id, body] of bodies) if (id !== el.id() && hit(box, body)) labels.push([el.id(), id]);
  });
  return { nodes, labels, shown };
}"""


def test_a_liability_chain_is_drawn_in_layers_without_overlaps(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore?query=liability&id=ch-leak", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length === 22", timeout=30_000)
    y = page.page.evaluate("Object.fromEntries(cy.nodes().map((n) => [n.id(), n.position('y')]))")
    # Layers from the top: the incident, the responsible company, its 4 holdings, their 16 families.
    layers = [{"ch-leak"}, {"ch-op"}, {f"ch-h{i}" for i in range(4)}, {f"ch-p{i}{j}" for i in range(4) for j in range(4)}]
    heights = [{round(y[n]) for n in layer} for layer in layers]
    assert all(len(h) == 1 for h in heights), heights  # each layer on one line
    assert [h.pop() for h in heights] == sorted(round(y[next(iter(layer))]) for layer in layers)  # top to bottom
    found = page.page.evaluate(OVERLAPS)
    assert found["nodes"] == [] and found["labels"] == [], found
    # The strongest names stay: the incident, the responsible company and every holding (20%).
    assert {"ch-leak", "ch-op", "ch-h0", "ch-h1", "ch-h2", "ch-h3"} <= set(found["shown"])
    caption = page.page.evaluate("cy.getElementById('ch-op').data('caption')")
    assert caption.startswith("Chain Operator Holdings International Limited")  # whole, wrapped by the canvas
    page.finish("explorer-layered-chain")


def test_a_110_node_chain_has_no_overlaps(server: str, page: Page) -> None:
    """The holder's 150 holdings as one layered drawing (folded fan-outs opened): still nothing overlaps."""
    page.page.goto(f"{server}/explore?query=holdings&id=holder", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length === 13", timeout=30_000)
    page.page.evaluate("unfold('more|holder')")
    page.page.wait_for_function("cy.nodes().length === 101", timeout=30_000)
    found = page.page.evaluate(OVERLAPS)
    assert found["nodes"] == [] and found["labels"] == [], found
    page.finish("explorer-unfolded-holdings")


def test_a_range_is_drawn_dashed_with_its_label(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore?query=liability&id=rng-leak", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length === 3", timeout=30_000)
    edge = "cy.edges('[type = \"OWNS\"]')"
    assert page.page.evaluate(f"[{edge}.style('line-style'), {edge}.style('label')]") == ["dashed", "OWNS 1–100%"]
    # The owner's weight is the midpoint 50.5%, an estimate between the exact bounds; control only "may".
    caption = page.page.evaluate("cy.getElementById('rng-parent').style('label')")
    assert caption.split("\n") == ["Range Parent", "≈50.5% (1–100%)", "may control"]
    assert page.page.evaluate("cy.getElementById('rng-parent').style('border-style')") == "dashed"
    assert "OWNER · may control" in page.page.locator("#summary").inner_text()
    page.finish("explorer-range")


def test_an_attribution_is_drawn_beside_the_perpetrator_and_is_no_party(server: str, page: Page) -> None:
    page.page.goto(f"{server}/explore?query=liability&id=att-leak", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length === 4", timeout=30_000)
    edge = "cy.edges('[type = \"ATTRIBUTED_TO\"]')"
    assert page.page.evaluate(f"[{edge}.length, {edge}.data('source'), {edge}.data('target')]") == [
        1, "att-gang", "att-state"]
    summary = page.page.locator("#summary").inner_text()
    # Operator Ltd (responsible) and Gang G (perpetrator): two parties; the state body is named, not a party.
    assert "2 parties (2 distinct)" in summary and "PERPETRATOR · attributed to State Body S" in summary
    assert page.page.evaluate("cy.getElementById('att-state').data('role')") is None
    page.finish("explorer-attribution")


def test_server_down_is_said_so(server: str, page: Page) -> None:
    page.page.route("**/graphql", lambda route: route.abort())
    page.page.goto(f"{server}/explore?query=liability&id=kaola-leak-2019", wait_until="networkidle")
    status = page.page.locator("#status.error")
    status.wait_for(timeout=30_000)
    assert status.inner_text().startswith(f"server not reachable at {server}: is `corpgraph serve` still running?")
    # The browser reports the refused request itself; nothing else may be logged.
    assert all("net::ERR_FAILED" in e for e in page.errors), page.errors
    page.errors.clear()
    page.finish("explorer-server-down")


EXPORTS = [("cytoscape", "cyjs"), ("d3", "json"), ("gexf", "gexf"), ("graphml", "graphml"), ("png", "png"), ("svg", "svg")]


@pytest.mark.parametrize("view,id,nodes", [
    ("liability", "kaola-leak-2019", {"kaola-leak-2019", "kaola", "lakala", "heipachong"}),  # from /export
    ("owners", "kaola", {"kaola", "lakala"}),  # written in the page
])
def test_every_export_downloads_and_parses(server: str, page: Page, tmp_path: Path, view: str, id: str,
                                           nodes: set[str]) -> None:
    import xml.etree.ElementTree as ET
    from datetime import date

    import networkx as nx

    url = f"{server}/explore?query={view}&id={id}"
    page.page.goto(url, wait_until="networkidle")
    page.page.wait_for_function(f"cy.nodes().length === {len(nodes)}", timeout=30_000)
    for format, ext in EXPORTS:
        with page.page.expect_download(timeout=30_000) as info:
            page.page.select_option("#export", format)
        download = info.value
        assert download.suggested_filename == f"{view}-{id}-{date.today().isoformat()}.{ext}"
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        if format == "cytoscape":  # read back by Cytoscape.js itself
            text = path.read_text(encoding="utf-8")
            read = page.page.evaluate("(t) => cytoscape({ headless: true, elements: JSON.parse(t).elements }).nodes().map((n) => n.id())", text)
            assert set(read) == nodes
        elif format in ("d3", "gexf"):  # by the library a visualisation reads it with (d3-force, graphology), and networkx
            assert set(_read_with_node(format, path)) == nodes
            graph = (nx.read_gexf(path) if format == "gexf"
                     else nx.node_link_graph(json.loads(path.read_text(encoding="utf-8")), edges="links"))
            assert set(graph.nodes) == nodes
        elif format == "graphml":
            assert set(nx.read_graphml(path).nodes) == nodes
        elif format == "png":
            head = path.read_bytes()[:24]
            assert head[:8] == b"\x89PNG\r\n\x1a\n"
            width = int.from_bytes(head[16:20], "big")
            drawn = page.page.evaluate("cy.elements().boundingBox().w")
            assert width >= 2 * drawn - 2  # at twice the drawing's size, for print
        else:
            svg = ET.parse(path).getroot()
            ns = "{http://www.w3.org/2000/svg}"
            lines = svg.findall(f".//{ns}line")
            assert len(lines) == len(nodes) - 1 and all(l.get("marker-end") for l in lines)  # a tree: arrows on each
            text = " ".join(t.text or "" for t in svg.iter(f"{ns}tspan"))
            assert "Lakala" in text and "32.4%" in text  # names and weights, as on the canvas
            if view == "liability":
                assert len(svg.findall(f".//{ns}polygon")) == 1  # the incident is a diamond, not a circle
    assert page.page.url == url  # no export replaced the page
    page.finish(f"explorer-exports-{view}")


@pytest.mark.parametrize("size", [1_000, 10_000])
def test_big_views_draw_without_console_errors(server: str, page: Page, size: int) -> None:
    """The benchmark's ownership tree (node 0 owns 30 companies, each the next 30): drawn with its fan-outs
    folded, every node accounted for, the console clean; past BIG_LIMIT (1,000) nodes on the big view's canvas.
    The figures are measured by benchmarks/explorer_draw.py."""
    from benchmarks.explorer_draw import GENERATE_AND_DRAW

    page.page.goto(f"{server}/explore", wait_until="networkidle")
    seconds = page.page.evaluate(GENERATE_AND_DRAW, [size, "explorer", True])
    drawn, folded, shown, big = page.page.evaluate(
        "[onScreen().nodes.filter((n) => !n.more).length, foldedCount(), onScreen().nodes.length, state.big]")
    assert drawn + folded == size
    assert folded > 0  # leaves of 30 under one parent are more than FAN_LIMIT: folded
    # Node p owns 30p+1..30p+30, so nodes from 34 (1,000) or 334 (10,000) on are leaves. A hub keeps 11 leaves and
    # folds the rest into one "more" node: hub 1 (11) has 27 leaves (16 fold), hubs 2..32 (12..332) 30 each
    # (19 fold), the last hub only 9 (none). 1,000: 1000 - 16 - 31 * 19 + 32 = 427 on screen, in Cytoscape;
    # 10,000: 10000 - 16 - 321 * 19 + 322 = 4,207, past BIG_LIMIT: on the canvas.
    assert (shown, big) == ((427, False) if size == 1_000 else (4_207, True))
    if big:  # a click on a "more" node of the canvas opens it: its 19 leaves drawn in its place
        # n390 is hub 12's last holding (361..390; equal strengths keep the first 11): folded until then.
        assert page.page.evaluate("big.index.has('n390')") is False
        page.page.evaluate("big.on.select(big.nodes[big.index.get('more|n12')])")
        assert page.page.evaluate("[onScreen().nodes.length, foldedCount(), big.index.has('n390')]") == [
            4_207 - 1 + 19, size - drawn - 19, True]
    assert seconds < 120  # a regression guard on a loaded machine, not the target
    page.finish(f"explorer-{size}-nodes")


def test_a_10k_node_view_draws_under_its_time_and_a_click_selects(server: str, page: Page, tmp_path: Path) -> None:
    """Every node of the 10,000-node tree, unfolded: on the canvas, in layers by depth (the root alone on top,
    its 30 companies on the next line, then the rest), within the issue's 1 s as the view reports its own
    layout and first drawing (the first painted frame is measured by benchmarks/explorer_draw.py); a click
    on a node selects it and explains it in the panel, as in the small view; its exports hold every node."""
    from benchmarks.explorer_draw import GENERATE_AND_DRAW

    page.page.goto(f"{server}/explore", wait_until="networkidle")
    page.page.evaluate(GENERATE_AND_DRAW, [10_000, "explorer", False])
    assert page.page.evaluate("[state.big, big.nodes.length, big.edges.length, drawnGraph().nodes.length]") == [
        True, 10_000, 9_999, 10_000]
    assert page.page.evaluate("big.drawSeconds") <= 1.0
    ys = page.page.evaluate("Array.from(big.ys)")
    assert ys[0] < min(ys[1:31]) and max(ys[1:31]) == min(ys[1:31]) < min(ys[31:])  # root, its 30, the rest
    # The root is painted where the layout puts it: its pixel on the canvas is the company blue (#4c6ef5).
    x, y = page.page.evaluate("[big.xs[0] * big.zoom + big.pan.x, big.ys[0] * big.zoom + big.pan.y]")
    pixel = page.page.evaluate("([x, y]) => Array.from(document.getElementById('big').getContext('2d')"
                               ".getImageData(Math.round(x), Math.round(y), 1, 1).data)", [x, y])
    assert pixel[:3] == [0x4C, 0x6E, 0xF5], pixel
    box = page.page.locator("#big").bounding_box()
    assert box is not None
    page.page.mouse.click(box["x"] + x, box["y"] + y)
    page.page.locator("#details").get_by_text("id n0").wait_for(timeout=10_000)
    assert page.page.evaluate("big.selected") == 0
    # Exported from the canvas's own data: GraphML read by networkx, SVG with a circle and an arrowed line each.
    import xml.etree.ElementTree as ET

    import networkx as nx
    for format in ("graphml", "svg"):
        with page.page.expect_download(timeout=60_000) as info:
            page.page.select_option("#export", format)
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        if format == "graphml":
            graph = nx.read_graphml(path)
            assert (graph.number_of_nodes(), graph.number_of_edges()) == (10_000, 9_999)
        else:
            ns = "{http://www.w3.org/2000/svg}"
            svg = ET.parse(path).getroot()
            lines = svg.findall(f".//{ns}line")
            assert len(svg.findall(f".//{ns}circle")) == 10_000
            assert len(lines) == 9_999 and all(line.get("marker-end") for line in lines)
    page.finish("explorer-10000-nodes-every-node")


def _read_with_node(format: str, path: Path) -> list[str]:
    """Node ids of an export as tools/read_export.mjs reads it (d3-force for D3 JSON, graphology-gexf for GEXF)."""
    done = subprocess.run(["node", str(Path(__file__).resolve().parents[1] / "tools" / "read_export.mjs"), format,
                           str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ids: list[str] = json.loads(done.stdout)
    return ids


def test_the_as_of_date_changes_the_shipped_example(server: str, page: Page) -> None:
    """BODS 0.3's CHRINON (shipped, `--examples`): Taggart 100% until the update of 2018-01-05, then 50%."""
    chrinon = "bods:1dc0e987-5c57-4a1c-b3ad-61353b66a9b7"
    page.page.goto(f"{server}/explore?query=owners&id={chrinon}&asOf=2017-12-01", wait_until="networkidle")
    page.page.wait_for_function("cy.nodes().length === 2", timeout=30_000)
    assert "direct 100%" in page.page.evaluate("cy.edges()[0].data('label')")
    page.page.fill("#asOf", "2018-06-01")
    page.page.dispatch_event("#asOf", "change")
    page.page.wait_for_function("cy.nodes().length === 3", timeout=30_000)  # + the interested party who said nothing
    labels = page.page.evaluate("cy.edges().map((e) => e.data('label'))")
    assert any("direct 50%" in label for label in labels), labels
    page.finish("explorer-as-of-example")
