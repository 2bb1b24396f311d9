"""The product packages type-check: `mypy --strict schema loaders graph api` (configuration in pyproject.toml)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["schema", "loaders", "graph", "api"]


def test_mypy_strict_is_clean() -> None:
    """mypy (from the dev extra) reports no error; its own report is the failure message."""
    run = subprocess.run([sys.executable, "-m", "mypy", *PACKAGES], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, f"mypy --strict {' '.join(PACKAGES)} failed:\n{run.stdout}{run.stderr}"
