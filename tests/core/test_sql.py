"""core.sql.bound_cursor: server-side binding for the hot write paths, with Django's errors."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from cityloop.core.models import AuditHead
from cityloop.core.sql import bound_cursor

pytestmark = pytest.mark.django_db


def _table() -> str:
    return connection.ops.quote_name(AuditHead._meta.db_table)


def test_values_travel_apart_from_the_statement_on_postgresql_and_inline_elsewhere():
    with bound_cursor() as cursor:
        cursor.execute(f"INSERT INTO {_table()} (id, seq, digest) VALUES (%s, %s, %s)", [7, 3, "x'; --"])  # noqa: S608
        cursor.execute(f"SELECT seq, digest FROM {_table()} WHERE id = %s", [7])  # noqa: S608
        assert tuple(cursor.fetchone()) == (3, "x'; --")
        if connection.vendor == "postgresql":
            import psycopg

            assert not isinstance(cursor, psycopg.ClientCursor)


def test_a_broken_rule_comes_out_as_djangos_integrity_error_and_the_transaction_rolls_back():
    with bound_cursor() as cursor:
        cursor.execute(f"INSERT INTO {_table()} (id, seq, digest) VALUES (%s, %s, %s)", [8, 1, "a"])  # noqa: S608
    with pytest.raises(IntegrityError), transaction.atomic(), bound_cursor() as cursor:
        cursor.execute(f"INSERT INTO {_table()} (id, seq, digest) VALUES (%s, %s, %s)", [9, 1, "b"])  # noqa: S608
        cursor.execute(f"INSERT INTO {_table()} (id, seq, digest) VALUES (%s, %s, %s)", [8, 2, "c"])  # noqa: S608
    assert list(AuditHead.objects.filter(pk__in=[8, 9]).values_list("pk", "seq")) == [(8, 1)]


def test_a_value_postgresql_refuses_comes_out_as_djangos_data_error():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores a NUL")
    with pytest.raises(DataError), transaction.atomic(), bound_cursor() as cursor:
        cursor.execute(f"INSERT INTO {_table()} (id, seq, digest) VALUES (%s, %s, %s)", [10, 1, "a\x00"])  # noqa: S608


def test_behind_pgbouncer_it_is_djangos_own_cursor():
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL binds on the server")
    import psycopg

    with (
        mock.patch.dict(connection.settings_dict, {"DISABLE_SERVER_SIDE_CURSORS": True}),
        bound_cursor() as cursor,
    ):
        cursor.execute("SELECT %s", [1])
        assert cursor.fetchone()[0] == 1
        assert isinstance(cursor.cursor, psycopg.ClientCursor)  # Django's wrapper around its client cursor
