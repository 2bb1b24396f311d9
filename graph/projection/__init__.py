"""The projection wing: the in-memory arrays analytics run on (build, as-of view, ids, columns, deltas, snapshots, live state)."""
