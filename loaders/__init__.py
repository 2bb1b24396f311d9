"""Turn outside data (JSON Lines, CSV) into validated batches of schema records; store-agnostic."""
