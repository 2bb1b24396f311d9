"""Storage, projection and analytics of the corpgraph knowledge graph."""
