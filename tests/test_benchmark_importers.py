"""Smoke test of the importer rows (benchmarks/importers.py) at a tiny size: the import and the native load of
the records it converts to agree; times and memory are not asserted (they are measured, not tested)."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import importers


def test_bods_row_imports_what_the_native_loader_loads(tmp_path: Path) -> None:
    (row,) = importers.run(["bods"], 400, 7, tmp_path)
    native_lines = (tmp_path / "bods.native.jsonl").read_text(encoding="utf-8").splitlines()
    assert row["records"] == len(native_lines)  # the import loads exactly what `convert` writes
    assert row["placeholders"] > 0             # 1% of relationships name an owner published elsewhere
    assert row["peak_rss_mb"] > 0 and row["native_records_per_s"] > 0
    assert "| bods | 400 |" in importers.table([row])


# An LEI file defines every LEI it names (no placeholder); a relationship file names LEIs published elsewhere.
@pytest.mark.parametrize("name,open_references", [("ftm", None), ("gleif", False), ("gleif-rr", True)])
def test_ftm_and_gleif_rows_import_what_the_native_loader_loads(tmp_path: Path, name: str,
                                                               open_references: bool | None) -> None:
    (row,) = importers.run([name], 300, 7, tmp_path)
    native_lines = (tmp_path / f"{name}.native.jsonl").read_text(encoding="utf-8").splitlines()
    assert row["records"] == len(native_lines)  # the import loads exactly what `convert` writes
    if open_references is not None:
        assert (row["placeholders"] > 0) is open_references
    assert f"| {name} | 300 |" in importers.table([row])
