"""The project's licence, and every dependency's licence listed (docs/licenses.md, generated) and compatible with it."""
from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    """tools/licenses.py (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("corpgraph_licenses_tool", ROOT / "tools" / "licenses.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


licenses = _tool()


def test_the_project_states_its_licence() -> None:
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert (project["license"], project["license-files"]) == ("MIT", ["LICENSE"])


def test_the_generated_list_is_current() -> None:
    assert (ROOT / "docs" / "licenses.md").read_text(encoding="utf-8") == licenses.render(), \
        "docs/licenses.md is stale: run .venv/bin/python tools/licenses.py"


def test_every_shipped_dependency_is_compatible() -> None:
    """What the wheel runs on and what the pages vendor; test and benchmark tools are listed, never shipped (the
    dev extra's followthemoney brings python-stdnum, LGPL, as the test server is GPL Neo4j)."""
    found = {f"npm {n}": lic for n, lic in licenses.npm_licenses().items()}
    found.update({f"python {n}": lic for n, lic in licenses.python_licenses(None).items()})
    assert len(found) > 100  # the lists are read, not empty (web/package-lock.json alone has over 100 packages)
    refused = {name: lic for name, lic in found.items() if not licenses.compatible(lic)}
    assert refused == {}


@pytest.mark.parametrize("expression,ok", [
    ("MIT", True), ("GPL-3.0", False), ("GPL-3.0-or-later", False), ("unknown", False),
    ("Apache-2.0 OR GPL-2.0", True),  # a choice: we take Apache-2.0
    ("MIT AND GPL-3.0", False),  # both apply: GPL is not compatible
    ("(MIT OR GPL-3.0) AND BSD-3-Clause", True), ("(GPL-2.0 OR LGPL-3.0) AND MIT", False),
    ("BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0", True), ("(MIT", False),
])
def test_spdx_expressions(expression: str, ok: bool) -> None:
    assert licenses.compatible(expression) is ok


def test_the_rejected_packages_would_fail() -> None:
    """The README's rejected ones (Unidecode GPL-2.0+, korean-romanizer GPL-3.0, cytoscape-svg GPL-3.0) are refused."""
    for expression in ("GPL-2.0-or-later", "GPL-3.0", "GPL-3.0-only"):
        assert not licenses.compatible(expression)
