"""benchmarks/load_trace.py loads a file as `corpgraph load` does and reports per batch (agreement only, no times)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.load_trace import trace
from tests.factory import company, owns


def test_trace_loads_every_record_and_prints_a_line_per_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_BATCH_SIZE", "2")
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (company("a"), company("b"), company("c"),
                                                             owns("a", "b", 0.5))))
    got = trace(path, None, tmp_path / "trace.db", every=1)
    # 3 companies + 1 stake = 4 records. Batches of 2 lines: lines 1-2, lines 3-4, then the reader's closing
    # batch (empty: loaders.validate always yields one at the end of the file) = 3 batches, a line each.
    assert got["records"] == 4
    assert len([line for line in capsys.readouterr().out.splitlines() if " records " in line]) == 3
    assert got["peak_rss_mb"] > 0 and got["cpu_read_validate_s"] >= 0 and got["cpu_write_s"] >= 0
