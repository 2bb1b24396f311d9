"""Every Cypher statement the Neo4j store can send passes Neo4j's own front end (npm @neo4j-cypher/language-support).

The linter runs in node (tools/cypher_lint.mjs); install it with `tools/setup-node` (npm ci on the lockfile).
The schema handed to the linter declares our labels, relationship types, property keys and parameters, and
only the few functions the store allows itself, so any diagnostic at all is a finding.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from corpgraph.schema.declaration import ANALYTIC_FIELDS
from corpgraph.schema.kinds import EntityType, RelationType

from corpgraph.graph.stores import cypher, cypher_loads

ROOT = Path(__file__).resolve().parent.parent
LINTER = ROOT / "tools" / "cypher_lint.mjs"
PACKAGE = ROOT / "node_modules" / "@neo4j-cypher" / "language-support"
# The functions the store may use (keeping its Cypher simple); any other is a finding.
ALLOWED_FUNCTIONS = ["coalesce", "collect", "count", "size", "timestamp", "type"]
PROPERTY_KEYS = ["id", "type", "name", "keys", "search", "doc", *ANALYTIC_FIELDS, "value", "idkeys", "idsearch",
                 "topics", "pair", "a", "b", "verdict", "by", "at", "revision", "relations", "entities",
                 # a batched load's tag on its records, and its state on the revision node (cypher_loads)
                 "load", "loading", "loads", "load_label", "load_state", "load_started", "heartbeat", "locks"]
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
ERROR, WARNING = 1, 2


def lint(statements: list[str], parameters: list[str] | None = None) -> list[list[dict[str, Any]]]:
    """Diagnostics per statement from Neo4j's Cypher front end, with our schema declared.

    Parameters: the given names, or else every `$name` the statements use.
    """
    node = shutil.which("node")
    if node is None or not PACKAGE.is_dir():
        pytest.fail("the Cypher linter needs node and its npm package: run tools/setup-node (npm ci)")
    if parameters is None:
        parameters = [name for statement in statements for name in _PARAM.findall(statement)]
    schema = {
        "labels": [cypher.ENTITY_LABEL, cypher.META_LABEL, cypher.JUDGEMENT_LABEL, cypher.CHANGE_LABEL, *(kind.value for kind in EntityType)],
        "relationshipTypes": [kind.value for kind in RelationType],
        "propertyKeys": PROPERTY_KEYS,
        "parameters": {name: "" for name in parameters},
    }
    payload = json.dumps({"statements": statements, "schema": schema, "functions": ALLOWED_FUNCTIONS})
    done = subprocess.run([node, str(LINTER)], input=payload, capture_output=True, text=True, cwd=ROOT,
                          timeout=600, check=False)  # a hang guard: 198 s measured on a busy machine
    assert done.returncode == 0, f"linter crashed: {done.stderr[-2000:]}"
    return [result["diagnostics"] for result in json.loads(done.stdout)]


def test_every_store_statement_is_clean() -> None:
    """No syntax error, no semantic error, no warning, for each statement the store can send."""
    statements = cypher.all_statements() + cypher_loads.all_statements()
    assert len(statements) == len(set(statements)) > 40  # builders cover every label and type combination
    findings = [(statement, d["message"]) for statement, diagnostics in zip(statements, lint(statements))
                for d in diagnostics]
    assert findings == []


# Deliberately broken statements: id -> (statement, expected severity, expected message fragment).
BROKEN = {
    "misspelt-keyword": ("MATCH (n:`Entity`) WHERE n.id = $id RETRUN n.doc", ERROR, "Invalid input 'RETRUN'"),
    "undefined-variable": ("MATCH (n:`Entity`) RETURN m.doc AS doc", ERROR, "Variable `m` not defined"),
    "function-not-allowed": ("MATCH (n:`Entity`) RETURN elementId(n) AS id", ERROR,
                                "Function elementId is not present"),
    "undeclared-parameter": ("MATCH (n:`Entity`) WHERE n.id = $undeclared RETURN n", ERROR,
                             "Parameter $undeclared is not defined"),
    "misspelt-label": ("MATCH (n:`Compnay`) RETURN n.doc AS doc", WARNING, "Compnay` is not present"),
}


@pytest.fixture(scope="module")
def broken_diagnostics() -> dict[str, list[dict[str, Any]]]:
    """Diagnostics of every broken statement, from one linter run (node start-up is the slow part)."""
    ids = list(BROKEN)
    return dict(zip(ids, lint([BROKEN[i][0] for i in ids], parameters=["id"])))


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_statement_is_caught(case: str, broken_diagnostics: dict[str, list[dict[str, Any]]]) -> None:
    """The linter is really looking: a deliberately broken statement yields the expected diagnostic."""
    _, severity, message = BROKEN[case]
    diagnostics = broken_diagnostics[case]
    assert any(d["severity"] == severity and message in d["message"] for d in diagnostics), diagnostics
