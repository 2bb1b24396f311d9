"""`corpgraph export --format ftm` (issue 21 item 6): the entities the rules block, with sanction.control and the
percentages, as FollowTheMoney; loaded back by corpgraph's own FtM importer, they give the same statuses."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.graph.analytics.results import SanctionsStatus
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.validate import load_file
from tests.factory import batch, company, entity, owns

# OFAC example 3 (X listed; X 50% of A and 10% of B; A 40% of B), and C held 30-60% by X: undetermined.
WORLD = [entity("Person", "x", "Xavier", country="RU"), company("a", country="DE"), company("b"), company("c"),
         company("d"),
         {"type": "Sanction", "entity": "x", "authority": "Office of Foreign Assets Control", "program": "SDGT",
          "valid_from": "2020-01-01"},
         owns("x", "a", 0.5), owns("x", "b", 0.1), owns("a", "b", 0.4), owns("x", "c", None, share_min=0.3,
                                                                              share_max=0.6), owns("d", "b", 0.2)]


def test_export_ftm_writes_the_derived_entities_and_loads_back_to_the_same_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "corpgraph.db"
    store = SqliteStore(db)
    ingest(store, batch(*WORLD))
    store.close()
    monkeypatch.setenv("CORPGRAPH_DB", str(db))
    out = tmp_path / "control.ftm.jsonl"
    result = CliRunner().invoke(app, ["export", "--format", "ftm", "--regimes", "OFAC", "-o", str(out)])
    assert result.exit_code == 0, result.output
    entities = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_id = {e["id"]: e for e in entities if e["schema"] not in ("Ownership", "Sanction")}
    # A and B blocked (50% each), C undetermined (30%..60%), all with sanction.control; X listed: sanction.
    assert {i: e["properties"]["topics"] for i, e in by_id.items()} == {
        "a": ["sanction.control"], "b": ["sanction.control"], "c": ["sanction.control"], "x": ["sanction"]}
    assert "OFAC: BLOCKED_BY_OWNERSHIP" in by_id["b"]["properties"]["notes"][0]
    assert "hold 50%" in by_id["b"]["properties"]["notes"][0]
    c_note = by_id["c"]["properties"]["notes"][0]
    assert "UNDETERMINED" in c_note and "between 30% and 60%" in c_note
    stakes = {(e["properties"]["owner"][0], e["properties"]["asset"][0]): e["properties"]["percentage"][0]
              for e in entities if e["schema"] == "Ownership"}
    # Only listed or blocked holders' stakes: D's 20% of B is not evidence and is left out.
    assert stakes == {("x", "a"): "50", ("x", "b"): "10", ("a", "b"): "40", ("x", "c"): "30-60"}
    (sanction,) = [e for e in entities if e["schema"] == "Sanction"]
    assert sanction["properties"]["entity"] == ["x"] and sanction["properties"]["startDate"] == ["2020-01-01"]
    # Round trip: corpgraph's FtM importer reads it back, and the rule gives the same answers.
    back = SqliteStore(tmp_path / "back.db")
    ingest(back, load_file(out))
    graph = CorpGraph(back)
    assert graph.sanctions_status("ftm:b", "OFAC").status == SanctionsStatus.BLOCKED_BY_OWNERSHIP
    assert graph.sanctions_status("ftm:c", "OFAC").status == SanctionsStatus.UNDETERMINED
    assert graph.sanctions_status("ftm:x", "OFAC").status == SanctionsStatus.LISTED
    back.close()
