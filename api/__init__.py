"""The ways in: command line, GraphQL over HTTP, graph exports. Nothing imports this package."""
