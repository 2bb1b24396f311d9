"""Storage, projection and analytics of the corpgraph knowledge graph, in wings (low to high).

- shared rooms: `settings`, `budget`, `cursors`, `precision`, `gc_policy`, `damage` (unreadable records noted, not fatal)
- `write/`: a validated batch into a store; `rules.py` holds the checks every store runs in its write transaction
- `stores/`: the `GraphStore` protocol (`base.py`), the embedded SQLite store (+ `sqlite_stream.py`), Neo4j
- `identity/`: identifier and name keys, clusters, merge, conflicts, resolved reads; `resolve/` (matching)
- `projection/`: build, as-of view, ids, columns, shares, linear algebra and control of a view, deltas,
  snapshots, the live state
- `subgraph`, then `analytics/`: ownership, liability, exposure, neighbourhoods (pure functions of a view)
- `browse`, `exports`, and `service.py`: the one facade (`CorpGraph`) api/ goes through
- clients of the facade: `screening` (a portfolio), `watch` (subscriptions), `ftm_export`

Imports point down this list; tests/test_house.py fails on an upward one (a leaf module, importing nothing of
graph/, may be used from anywhere).
"""
