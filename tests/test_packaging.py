"""The wheel installs one `corpgraph` namespace: beside PyPI's own `schema` package, both import.

Builds the wheel from this checkout, installs it and PyPI's `schema` (no dependencies: the test venv has them)
into an empty folder, and imports both from there in a child process whose working directory is not the
checkout, so neither the top-level folders nor the editable install can stand in for the wheel.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys
import corpgraph.graph.service, corpgraph.api.cli, corpgraph.loaders.seed, corpgraph.schema.records
import schema
print(json.dumps({"service": corpgraph.graph.service.__file__, "schema": schema.__file__,
                  "pypi_schema": hasattr(schema, "Schema") and hasattr(schema, "SchemaError"),
                  "seed": str(corpgraph.loaders.seed.seed_path())}))
"""


def _pip(*args: str, cwd: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_wheel_installs_one_namespace_beside_pypi_schema(tmp_path: Path) -> None:
    _pip("wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT), cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("corpgraph-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"corpgraph"}  # nothing else in site-packages
    site = tmp_path / "site"
    _pip("install", "-q", "--no-deps", "--target", str(site), str(wheel), "schema", cwd=tmp_path)
    probe = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path[:0] = [{str(site)!r}]\n{PROBE}"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["service"].startswith(str(site)) and found["schema"].startswith(str(site))
    assert found["pypi_schema"]  # PyPI's schema, not ours
    assert Path(found["seed"]).is_file()  # package data came along
