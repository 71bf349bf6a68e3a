"""A cursor for the hot write paths' own statements (the group-commit intake, the audit trail)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection


@contextmanager
def bound_cursor() -> Iterator[Any]:
    """A cursor whose values travel apart from the statement text, on PostgreSQL; elsewhere Django's.

    Django's PostgreSQL backend binds on the client: psycopg writes every value into the SQL text in
    Python (its ``PostgresClientQuery.convert``/``dump`` were a tenth of an intake worker's GIL time in
    a py-spy profile of ``bench_intake.py --database-url``), and the server parses and plans each
    statement anew. This cursor sends the values apart, in binary, and psycopg prepares a statement it
    has run five times. Use it for statements with ``%s`` placeholders whose values are Django's
    ``get_db_prep_save`` of the model's own fields (a bare Python ``dict`` would not adapt; Django's
    JSON values already come wrapped). Errors come out as Django's exceptions, as from
    ``connection.cursor()``.

    Behind pgbouncer (``CITYLOOP_DATABASE_PGBOUNCER=1``) it is Django's cursor: a prepared statement
    lives on one server connection, and transaction pooling hands each transaction any of them.
    """
    if connection.vendor != "postgresql" or connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor
