"""Domain model of corpgraph: types declared once, records validated once. Imports nothing of the project."""
