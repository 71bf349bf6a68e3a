"""Shared by the benchmarks that can run on PostgreSQL (imported as a sibling: `python bench/x.py`)."""

from __future__ import annotations

import sys


def fresh_postgres(url: str) -> None:
    """Drop and create the database named in ``url`` (a bench's own, never a user's)."""
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        sys.exit(f"--database-url: database name {name!r} must be letters, digits and underscores")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
