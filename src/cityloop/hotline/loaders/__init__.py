"""Loaders: demo data, replayed 311 history and synthetic history (the documented bulk-write exception)."""
