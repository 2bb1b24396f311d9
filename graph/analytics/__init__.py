"""Ownership, liability and exposure analytics on the in-memory projection."""
