"""The identity wing: identifiers and names as keys, clusters of ids that are one entity, merges, conflicts, resolved reads, matching."""
