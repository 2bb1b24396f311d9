"""The code type-checks: `tools/typecheck` (mypy --strict over corpgraph.schema, .loaders, .graph, .api, tests, benchmarks)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_strict_is_clean() -> None:
    """mypy (from the dev extra) reports no error; its own report is the failure message."""
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "typecheck")], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, f"tools/typecheck failed:\n{run.stdout}{run.stderr}"
