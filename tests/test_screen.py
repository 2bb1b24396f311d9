"""Screening a portfolio (issue 21 item 4): `corpgraph screen FILE`, matching through the resolver's scoring,
listings, statuses per regime, incident exposure, CSV and JSON output, the exit code, and bad input."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.screening import match
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.counterparty import Counterparty
from tests.factory import batch, company, entity, owns, rel

# OFAC example 3 with names: X listed; X 50% of Alpha and 10% of Beta; Alpha 40% of Beta; Beta answers for a leak
# of 1000 records; Clean Corp is nobody's.
WORLD = [
    entity("Person", "x", "Xavier Blocked", country="RU"),
    company("a", "Alpha Holding AG", country="DE", identifiers=[{"scheme": "LEI", "id": "ALPHA0000000000000001"}]),
    company("b", "Beta Trading GmbH", country="DE"), company("c", "Clean Corp", country="FR"),
    entity("Incident", "leak", "Beta leak", category="data_leak", records_affected=1000),
    rel("RESPONSIBLE_FOR", "b", "leak"),
    {"type": "Sanction", "entity": "x", "authority": "Office of Foreign Assets Control", "program": "RUSSIA-EO14024"},
    owns("x", "a", 0.5), owns("x", "b", 0.1), owns("a", "b", 0.4),
]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The world in an embedded store that the CLI opens (CORPGRAPH_DB)."""
    path = tmp_path / "corpgraph.db"
    store = SqliteStore(path)
    ingest(store, batch(*WORLD))
    store.close()
    monkeypatch.setenv("CORPGRAPH_DB", str(path))
    return path


def test_matching_scores_names_and_identifiers_as_the_resolver_does(db: Path) -> None:
    graph = CorpGraph(SqliteStore(db))
    # "Beta Trading" (DE) vs "Beta Trading GmbH" (DE): same name after normalisation 0.8, same country 0.3:
    # 1 - 0.2 x 0.7 = 0.86.
    beta = match(graph, Counterparty(name="Beta Trading", country="DE"))
    assert beta is not None and (beta.entity, beta.score) == ("b", 0.86)
    # A shared LEI alone: 0.9.
    row = Counterparty.model_validate({"name": "Some Alpha", "identifiers": "LEI:ALPHA0000000000000001"})
    alpha = match(graph, row)
    assert alpha is not None and (alpha.entity, alpha.score) == ("a", 0.9)
    assert match(graph, Counterparty(name="Nobody Known")) is None
    assert match(graph, Counterparty(name="whatever", id="c")) is not None  # the row's own id: score 1


def test_screen_csv_reports_each_row_and_exits_3_on_a_hit(db: Path, tmp_path: Path) -> None:
    portfolio = tmp_path / "portfolio.csv"
    portfolio.write_text("name,country,identifiers,id\nBeta Trading,DE,,\nClean Corp,FR,,\nNobody Known,,,\n"
                         "Xavier Blocked,RU,,\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["screen", str(portfolio)])
    assert result.exit_code == 3, result.output
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    beta = rows["Beta Trading"]
    # Beta: 10% from X + 40% from Alpha (blocked) = 50%: OFAC blocks it, the EU and UK (more than 50%) do not.
    assert (beta["matched_id"], beta["OFAC_status"], beta["OFAC_aggregate"]) == ("b", "BLOCKED_BY_OWNERSHIP", "0.5")
    assert (beta["EU_status"], beta["UK_status"], beta["hit"]) == ("NOT_BLOCKED", "NOT_BLOCKED", "yes")
    assert (beta["incidents"], json.loads(beta["exposure"])) == ("1", {"records_affected": 1000.0})
    assert (rows["Clean Corp"]["OFAC_status"], rows["Clean Corp"]["hit"]) == ("NOT_BLOCKED", "no")
    assert (rows["Nobody Known"]["matched_id"], rows["Nobody Known"]["hit"]) == ("", "no")
    assert (rows["Xavier Blocked"]["listed"], rows["Xavier Blocked"]["OFAC_status"]) == ("OFAC", "LISTED")


def test_screen_json_and_a_clean_portfolio_exits_0(db: Path, tmp_path: Path) -> None:
    portfolio = tmp_path / "portfolio.jsonl"
    portfolio.write_text('{"name": "Clean Corp", "country": "FR"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["screen", str(portfolio), "--format", "json", "--regimes", "OFAC"])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["match"]["entity"] == "c" and row["statuses"] == {"OFAC": {
        "status": "NOT_BLOCKED", "aggregateShare": 0.0, "aggregateShareMin": 0.0, "aggregateShareMax": 0.0}}
    assert row["hit"] is False


def test_a_bad_portfolio_names_file_line_and_field_and_screens_nothing(db: Path, tmp_path: Path) -> None:
    portfolio = tmp_path / "bad.csv"
    portfolio.write_text("name,country,identifiers\nAcme,XX,\nBeta,,LEI\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["screen", str(portfolio)])
    assert result.exit_code == 1
    assert f"{portfolio}:2: country:" in result.output and f"{portfolio}:3: identifiers:" in result.output
    header = tmp_path / "header.csv"
    header.write_text("naam,land\nAcme,DE\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["screen", str(header)])
    assert result.exit_code == 1 and f"{header}:1: (header): expected the columns" in result.output


def test_the_sanctions_and_sanctioned_commands(db: Path) -> None:
    result = CliRunner().invoke(app, ["sanctions", "b", "--regime", "OFAC", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["status"], answer["aggregate_share"]) == ("BLOCKED_BY_OWNERSHIP", 0.5)
    assert {c["entity"]: c["share"] for c in answer["contributors"]} == {"x": 0.1, "a": 0.4}
    text = CliRunner().invoke(app, ["sanctions", "b", "--regime", "EU"])
    assert text.exit_code == 0 and "b under EU" in text.stdout and ": NOT_BLOCKED" in text.stdout
    listing = CliRunner().invoke(app, ["sanctioned", "--regime", "OFAC"])
    assert listing.stdout.splitlines() == ["a\tBLOCKED_BY_OWNERSHIP\t0.5", "b\tBLOCKED_BY_OWNERSHIP\t0.5", "2 entities"]
    unknown = CliRunner().invoke(app, ["sanctions", "b", "--regime", "UN"])
    assert unknown.exit_code == 2 and "no ownership rule for regime 'UN'" in unknown.output
