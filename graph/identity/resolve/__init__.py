"""Matching entities that may be the same (imported victims and known companies): keys, candidates, decisions."""
