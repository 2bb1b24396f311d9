"""`corpgraph export` and `corpgraph serve --seed` (the README's first command) against a temporary database."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import networkx as nx
import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary embedded database named by CORPGRAPH_DB, with the seed loaded."""
    path = tmp_path / "cli.db"
    monkeypatch.setenv("CORPGRAPH_DB", str(path))
    monkeypatch.setenv("CORPGRAPH_STORE", "embedded")
    assert CliRunner().invoke(app, ["load", "--seed"]).exit_code == 0
    return path


def test_export_neighborhood_to_stdout(db: Path) -> None:
    result = CliRunner().invoke(app, ["export", "d3", "--query", "neighborhood", "--id", "kaola",
                                      "--relation-types", "OWNS,SUPPLIED_DATA_TO"])
    assert result.exit_code == 0, result.output
    graph = nx.node_link_graph(json.loads(result.stdout), edges="links")
    assert set(graph.nodes) == {"kaola", "lakala", "heipachong"}


def test_export_liability_to_a_file(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "leak.graphml"
    result = CliRunner().invoke(app, ["export", "graphml", "--query", "liability", "--id", "kaola-leak-2019",
                                      "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert {"kaola", "lakala", "heipachong", "kaola-leak-2019"} <= set(nx.read_graphml(target).nodes)


@pytest.mark.parametrize("args,message", [
    (["export", "dot", "--id", "kaola"], "unknown export format 'dot'"),
    (["export", "d3", "--id", "nope"], "no entity with id 'nope'"),
    (["export", "d3", "--id", "kaola", "--depth", "40"], "depth must be between 1 and 6, got 40"),
])
def test_export_errors_exit_cleanly(db: Path, args: list[str], message: str) -> None:
    """Each is a problem of the input: exit 1 (2 is for the store and the settings, as the README says)."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_serve_with_seed_answers_over_http(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "CORPGRAPH_DB": str(tmp_path / "serve.db"), "CORPGRAPH_STORE": "embedded"}
    command = [sys.executable, "-c", "from corpgraph.api.cli import app; app()", "serve", "--seed", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = httpx.Client(trust_env=False, timeout=5)
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        answer = client.post(f"http://127.0.0.1:{port}/graphql", json={"query": '{ search(text: "拉卡拉") { id } }'})
        assert answer.json()["data"]["search"][0] == {"id": "lakala"}
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)
