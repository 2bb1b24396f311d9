"""The write wing: a validated batch into a store, with the checks every store runs inside its write transaction."""
