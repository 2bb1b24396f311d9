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


# OFAC's example 3 (FAQ 401) for the sanctions view: SX listed, 50% of SA and 10% of SB; SA 40% of SB.
SANCTIONS_WORLD = [{"type": "Person", "id": "sx", "name": "Sanctioned X"}, {"type": "Company", "id": "sa", "name": "SA Holding"},
                   {"type": "Company", "id": "sb", "name": "SB Trading"},
                   {"type": "Sanction", "entity": "sx", "regime": "OFAC", "program": "SDGT",
                    "sources": [{"publisher": "OFAC", "title": "SDN List update"}]},
                   {"type": "OWNS", "source": "sx", "target": "sa", "share": 0.5,
                    "sources": [{"publisher": "Registry", "title": "SA shareholder list"}]},
                   {"type": "OWNS", "source": "sx", "target": "sb", "share": 0.1},
                   {"type": "OWNS", "source": "sa", "target": "sb", "share": 0.4}]


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
                                   for i in range(150)]
                                + [json.dumps(r) for r in SANCTIONS_WORLD]) + "\n", encoding="utf-8")
    subprocess.run([str(Path(sys.executable).parent / "corpgraph"), "load", str(holder)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "corpgraph"), "serve", "--seed", "--host", "127.0.0.1", "--port",
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
    result.get_by_text('"Lakala"').wait_for(timeout=30_000)
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
    assert page.page.evaluate("cy.nodes().length") == 101  # the holder and the first page of 100
    summary = page.page.locator("#summary").inner_text()
    assert "150 in all" in summary and "50 more" in summary
    # Shares are 0.2 + i/1000: the strongest is h149 (34.9%), and the first page ends at h050 (25%).
    assert page.page.evaluate("cy.getElementById('h149').length") == 1
    assert page.page.evaluate("cy.getElementById('h049').length") == 0
    page.page.click("#more-holdings")
    page.page.wait_for_function("cy.nodes().length === 151", timeout=30_000)
    assert page.page.locator("#summary .more").count() == 0  # all 150 loaded: no "more" notice left
    page.finish("explorer-holdings-paged")
