"""Shared fixtures: the local stack of real platforms, and databases for the store."""
