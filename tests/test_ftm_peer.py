"""A peer check of the FollowTheMoney importer: the followthemoney library (the model OpenSanctions publishes with)
reads each FtM sample, and corpgraph's coverage report must account for every entity it reads, kind by kind:
imported + not imported = what the peer read, with no kind the peer does not know.

The samples: every `*.ftm.jsonl` in the shared real-data folder beside the repository (../shared/realdata/ftm,
as laid for developers and CI) and the project's own fixture.
"""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from followthemoney import model

from corpgraph.loaders.coverage import PLACEHOLDERS, Coverage
from corpgraph.loaders.formats import get_format
from corpgraph.loaders.readers import CELL_TOO_LONG, MAX_CELL
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "realdata" / "ftm"
SAMPLES = sorted(SHARED.glob("*.ftm.jsonl")) + [REPO / "tests" / "fixtures" / "ftm" / "world.ftm.jsonl"]


def peer_counts(path: Path) -> Counter[str]:
    """Entities per schema as followthemoney reads them (each line made a proxy, which checks its schema)."""
    counts: Counter[str] = Counter()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                proxy = model.get_proxy(json.loads(line))
                counts[proxy.schema.name] += 1
    return counts


def test_the_shared_samples_are_there() -> None:
    assert len(SAMPLES) >= 3, f"no FtM samples in {SHARED}: the shared folder must lie beside the repository"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_the_coverage_accounts_for_every_entity_the_peer_reads(path: Path) -> None:
    coverage = Coverage()
    for item in get_format("ftm").read(path, coverage):
        assert isinstance(item, tuple), item  # every sample loads: no problem
    peer = peer_counts(path)
    ours = {kind: count for kind, count in coverage.kinds.items() if kind != PLACEHOLDERS}
    assert set(ours) == set(peer)
    for kind, count in ours.items():
        left_out = sum(count.not_imported.values())
        assert (count.read, count.imported + left_out, count.problems) == (peer[kind], peer[kind], 0), kind


def test_the_peer_raising_csvs_limit_does_not_lift_corpgraphs(tmp_path: Path) -> None:
    # followthemoney raises the process-wide csv field limit on import (to 30 MiB): corpgraph's 131,072-character
    # cell limit must hold in a process whose csv limit is higher, whoever raised it.
    before = csv.field_size_limit(30 * 1024 * 1024)
    try:
        path = tmp_path / "companies.csv"
        path.write_text("id,name,description\na,A,ok\nb,B," + "x" * (MAX_CELL + 1) + "\n")
        with pytest.raises(InvalidInput) as refused:
            load_file(path)
    finally:
        csv.field_size_limit(before)
    assert [str(p) for p in refused.value.problems] == [f"{path}:3: (row): {CELL_TOO_LONG}"]
