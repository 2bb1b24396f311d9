"""Store backends behind one interface (graph.stores.base.GraphStore)."""
