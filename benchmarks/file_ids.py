"""What an embedded load's file-so-far ids (graph.stores.sqlite_ids) cost as the file grows: FileIds and Written fed
batch by batch as `corpgraph load` feeds them, timed apart from making and hashing the ids.

    python benchmarks/file_ids.py --ids 10000000 [--batch 10000]

Per batch of `--batch` new companies: FileIds.put of their ids (real records), one lookup of as many ids of the
file so far (a batch's endpoints), Written.unwritten of as many new relation hashes. Prints the CPU seconds spent in
those calls every tenth of the way (a cost that grows with what is held shows as later tenths taking longer), the
total, and peak RSS. Run it with PYTHONPATH set to another tree's copy to compare two versions.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(ids: int, batch: int) -> dict[str, object]:
    """Feed `ids` ids in batches; seconds in the calls per tenth, in all, and peak RSS."""
    from corpgraph.graph.stores.id_hashes import check_hashes, hashes
    from corpgraph.graph.stores.sqlite_ids import FileIds, Written
    from corpgraph.schema.kinds import EntityType

    held, written = FileIds("bench"), Written()
    rng = np.random.default_rng(7)
    tenths: list[float] = []
    spent = spent_tenth = 0.0
    for start in range(0, ids, batch):
        names = [f"c{n}" for n in range(start, min(start + batch, ids))]
        picked = [f"c{n}" for n in rng.integers(0, start + len(names), len(names)).tolist()]
        first, second = hashes(picked), check_hashes(picked)
        relations = hashes([f"r{n}" for n in range(start, start + len(names))])
        began = time.process_time()
        held.put(names, [EntityType.COMPANY] * len(names), placeholder=False)
        held.lookup(first, second)
        written.unwritten(relations)
        took = time.process_time() - began
        spent, spent_tenth = spent + took, spent_tenth + took
        if (start + batch) * 10 // ids > len(tenths) or start + batch >= ids:
            tenths.append(round(spent_tenth, 2))
            spent_tenth = 0.0
    return {"ids": ids, "batch": batch, "seconds": round(spent, 2), "seconds_per_tenth": tenths,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def main() -> None:
    """Parse the arguments, run, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(run(args.ids, args.batch)))


if __name__ == "__main__":
    main()
