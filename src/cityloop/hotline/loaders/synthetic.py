"""Realistic synthetic request histories, for the demo's dashboard and the dashboard benchmark.

Rows are written in bulk like replayed history (channel ``replay``), one audit record per run;
they are not a substitute for real requests going through the actions.

A million requests must load in about a minute, so nothing here builds model instances: every
column is a numpy array, rows are plain tuples and go to the database through the driver's
``executemany``. Datetimes are written as naive UTC strings ('YYYY-MM-DD HH:MM:SS.ffffff'), which
both SQLite (stored as text, compared as text by Django) and PostgreSQL (under Django's UTC
session) read back as the same instant. Ids are assigned here, so orders and follow-ups can point
at their request without a round trip; the sequences are moved past them at the end.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from cityloop.core import actors, audit
from cityloop.hotline.models import Channel, FollowUp, Order, OrderStatus, Request, Status
from cityloop.org import queries as org_queries

HOUR_US = 3_600_000_000
RETURN_REASON = "不属于本单位职责"


@dataclass
class Generated:
    requests: int
    months: int
    orders: int = 0
    follow_ups: int = 0


def _timestamps(micros: np.ndarray, present: np.ndarray | None = None) -> list:
    """Epoch microseconds → 'YYYY-MM-DD HH:MM:SS.ffffff' (None where ``present`` is False)."""
    text = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us")  # 'YYYY-MM-DDTHH:MM:SS.ffffff'
    text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(" ")  # the 'T', in place (UTF-32 code units)
    if present is None:
        return text.tolist()
    return np.where(present, text.astype(object), None).tolist()


def _nullable(values: np.ndarray, present: np.ndarray) -> list:
    return np.where(present, values.astype(object), None).tolist()


class _Table:
    """An INSERT of every concrete column of a model; columns not given take the field's default."""

    def __init__(self, model, given: tuple[str, ...]):
        fields = model._meta.concrete_fields
        self.given = given
        columns = [f.column for f in fields]
        missing = set(given) - set(columns)
        if missing:
            raise ValueError(f"{model.__name__} has no column(s) {', '.join(sorted(missing))}")
        self.defaults = {
            f.column: f.get_db_prep_save(f.get_default(), connection) for f in fields if f.column not in given
        }
        self.columns = [*given, *self.defaults]
        mark = "?" if connection.vendor == "sqlite" else "%s"
        quote = connection.ops.quote_name
        names = f"{quote(model._meta.db_table)} ({', '.join(quote(c) for c in self.columns)})"
        self.sql = f"INSERT INTO {names} VALUES ({', '.join([mark] * len(self.columns))})"  # noqa: S608 (identifiers from Django model meta, values bound as parameters)
        self.copy_sql = f"COPY {names} FROM STDIN"

    def insert(self, cursor, data: dict[str, list], size: int) -> None:
        constants = [[value] * size for value in self.defaults.values()]
        rows = zip(*[data[c] for c in self.given], *constants, strict=True)
        if connection.vendor == "postgresql":
            # COPY streams the rows; executemany would still pay one round trip per row
            with cursor.copy(self.copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(self.sql, list(rows))


def _next_id(model) -> int:
    return (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1


def generate(
    city,
    *,
    n: int,
    months: int = 12,
    seed: int = 7,
    end: datetime | None = None,
    batch: int = 50_000,
    progress=None,
    rebuild_indexes: bool | None = None,
) -> Generated:
    """``n`` requests spread over the last ``months`` months, in every state a real city has.

    ``rebuild_indexes`` (default: when the load at least doubles a table of 50,000+ rows) drops the
    secondary indexes for the load and builds them again after.
    """
    rng = np.random.default_rng(seed)
    end = end or timezone.now()
    start = end - timedelta(days=30.4 * months)
    streets = list(
        org_queries.places(city, level="street").order_by("id").values_list("id", "parent_id", "geometry")
    )
    if not streets:
        raise ValueError("the city has no streets; import a city pack first")
    leaves = list(
        org_queries.categories(city, children__isnull=True).order_by("id").values_list("id", "name")
    )
    if not leaves:
        raise ValueError("the city has no request categories; import a city pack first")
    duties = _duties(city)
    street_ids = np.array([s[0] for s in streets], dtype=np.int64)
    district_ids = np.array([s[1] or 0 for s in streets], dtype=np.int64)
    lon, lat = _points_in([s[2] for s in streets])
    leaf_ids = np.array([c[0] for c in leaves], dtype=np.int64)
    leaf_names = np.array([c[1] for c in leaves], dtype=object)
    leaf_department = np.array([duties.get(c[0], (None, ""))[0] or 0 for c in leaves], dtype=np.int64)
    leaf_direct = np.array([duties.get(c[0], (None, ""))[1] == "direct" for c in leaves]) & (
        leaf_department > 0
    )
    # Some streets and categories are busier and some units better than others: that is what a
    # ranking is for.
    street_weight = rng.pareto(2.0, len(streets)) + 0.2
    street_weight /= street_weight.sum()
    street_skill = rng.beta(6, 3, len(streets))
    start_us = int(start.timestamp() * 1_000_000)
    end_us = int(end.timestamp() * 1_000_000)
    span_us = end_us - start_us
    prefix = f"S{seed % 100:02d}"
    existing = Request.objects.filter(tracking_no__startswith=prefix).count()
    requests = _Table(
        Request,
        (
            "id",
            "city_id",
            "tracking_no",
            "channel",
            "status",
            "title",
            "description",
            "lon",
            "lat",
            "district_id",
            "street_id",
            "category_id",
            "lead_street_id",
            "lead_department_id",
            "created_at",
            "updated_at",
            "response_due",
            "finish_due",
            "first_response_at",
            "replied_at",
            "closed_at",
            "return_count",
            "resolved",
            "satisfaction",
        ),
    )
    orders = _Table(
        Order,
        (
            "id",
            "request_id",
            "street_id",
            "department_id",
            "route",
            "lead",
            "status",
            "dispatched_at",
            "response_due",
            "finish_due",
            "signed_at",
            "returned_at",
            "returned_reason",
            "replied_at",
        ),
    )
    follow_ups = _Table(FollowUp, ("id", "request_id", "at", "channel", "resolved", "satisfaction"))
    made = n_orders = n_follow_ups = 0
    if rebuild_indexes is None:
        rebuild_indexes = n >= 50_000 and n >= Request.objects.count()
    with (
        _sqlite_bulk_mode(),
        transaction.atomic(),
        _indexes_rebuilt_after([Request, Order, FollowUp], enabled=rebuild_indexes),
    ):
        cursor = connection.connection.cursor()
        request_id, order_id, follow_up_id = _next_id(Request), _next_id(Order), _next_id(FollowUp)
        while made < n:
            size = min(batch, n - made)
            s_idx = rng.choice(len(streets), size=size, p=street_weight)
            c_idx = rng.integers(0, len(leaves), size=size)
            offsets = np.sort(rng.integers(0, span_us, size=size))
            # months later in the period get slightly better: the reform at work
            skill = np.clip(street_skill[s_idx] + 0.15 * offsets / span_us, 0, 0.98)
            responded = rng.random(size) < 0.7 + 0.28 * skill
            finished = rng.random(size) < 0.97
            close_us = (rng.gamma(2.0, 40.0, size) * HOUR_US).astype(np.int64)
            created = start_us + offsets
            closed = finished & (created + close_us < end_us)
            followed = closed & (rng.random(size) < 0.85)
            resolved = rng.random(size) < 0.35 + 0.55 * skill
            sat_draw = rng.random(size)
            satisfied = sat_draw < 0.45 + 0.45 * skill
            basic = ~satisfied & (sat_draw < 0.65 + 0.3 * skill)
            department = leaf_department[c_idx]
            direct = leaf_direct[c_idx]
            returned = (rng.random(size) < 0.06) & (department > 0)
            closed_at = created + close_us
            # a reply is a response too: nobody answers for the first time after closing the case
            first_response = created + (rng.uniform(0.2, np.where(responded, 20.0, 60.0)) * HOUR_US).astype(
                np.int64
            )
            first_response = np.where(closed, np.minimum(first_response, closed_at), first_response)
            answered = first_response < end_us
            ids = np.arange(request_id, request_id + size, dtype=np.int64)
            numbers = np.char.zfill(np.arange(existing + made, existing + made + size).astype(str), 9)
            created_text = _timestamps(created)
            closed_text = _timestamps(closed_at, closed)
            response_due = _timestamps(created + 24 * HOUR_US)
            finish_due = _timestamps(created + 9 * 24 * HOUR_US)
            signed_text = _timestamps(first_response, answered)
            satisfaction = np.where(satisfied, "satisfied", np.where(basic, "basic", "unsatisfied"))
            titles = leaf_names[c_idx].tolist()
            requests.insert(
                cursor,
                {
                    "id": ids.tolist(),
                    "city_id": [city.pk] * size,
                    "tracking_no": np.char.add(prefix + "-", numbers).tolist(),
                    "channel": [Channel.REPLAY.value] * size,
                    "status": np.where(closed, Status.CLOSED.value, Status.IN_PROGRESS.value).tolist(),
                    "title": titles,
                    "description": titles,
                    "lon": lon[s_idx].tolist(),
                    "lat": lat[s_idx].tolist(),
                    "district_id": _nullable(district_ids[s_idx], district_ids[s_idx] > 0),
                    "street_id": street_ids[s_idx].tolist(),
                    "category_id": leaf_ids[c_idx].tolist(),
                    "lead_street_id": _nullable(street_ids[s_idx], ~direct),
                    "lead_department_id": _nullable(department, direct),
                    "created_at": created_text,
                    "updated_at": _timestamps(np.where(closed, closed_at, created)),
                    "response_due": response_due,
                    "finish_due": finish_due,
                    "first_response_at": signed_text,
                    "replied_at": closed_text,
                    "closed_at": closed_text,
                    "return_count": returned.astype(int).tolist(),
                    "resolved": _nullable(resolved, followed),
                    "satisfaction": np.where(followed, satisfaction, "").tolist(),
                },
                size,
            )
            # A returned order (to the department, sent back two hours later), then the order that handled it.
            r_idx = np.flatnonzero(returned)
            main_count = size
            o_ids = np.arange(order_id, order_id + len(r_idx) + main_count, dtype=np.int64)
            idx = np.concatenate([r_idx, np.arange(size)])
            is_returned = np.zeros(len(idx), dtype=bool)
            is_returned[: len(r_idx)] = True
            to_department = is_returned | direct[idx]
            route = np.where(direct[idx], "direct", "street")
            status = np.where(
                is_returned,
                OrderStatus.RETURNED.value,
                np.where(closed[idx], OrderStatus.REPLIED.value, OrderStatus.SIGNED.value),
            )
            created_by_order = np.asarray(created_text, dtype=object)[idx].tolist()
            orders.insert(
                cursor,
                {
                    "id": o_ids.tolist(),
                    "request_id": ids[idx].tolist(),
                    "street_id": _nullable(street_ids[s_idx][idx], ~to_department),
                    "department_id": _nullable(department[idx], to_department),
                    "route": route.tolist(),
                    "lead": [True] * len(idx),
                    "status": status.tolist(),
                    "dispatched_at": created_by_order,
                    "response_due": np.asarray(response_due, dtype=object)[idx].tolist(),
                    "finish_due": np.asarray(finish_due, dtype=object)[idx].tolist(),
                    "signed_at": _nullable(np.asarray(signed_text, dtype=object)[idx], ~is_returned),
                    "returned_at": _timestamps(created[idx] + 2 * HOUR_US, is_returned),
                    "returned_reason": np.where(is_returned, RETURN_REASON, "").tolist(),
                    "replied_at": _nullable(np.asarray(closed_text, dtype=object)[idx], ~is_returned),
                },
                len(idx),
            )
            f_idx = np.flatnonzero(followed)
            follow_ups.insert(
                cursor,
                {
                    "id": list(range(follow_up_id, follow_up_id + len(f_idx))),
                    "request_id": ids[f_idx].tolist(),
                    "at": _timestamps(closed_at[f_idx] + 24 * HOUR_US),
                    "channel": ["phone"] * len(f_idx),
                    "resolved": resolved[f_idx].tolist(),
                    "satisfaction": satisfaction[f_idx].tolist(),
                },
                len(f_idx),
            )
            request_id += size
            order_id += len(idx)
            follow_up_id += len(f_idx)
            made += size
            n_orders += len(idx)
            n_follow_ups += len(f_idx)
            if progress:
                progress(size)
        cursor.close()
        with connection.cursor() as django_cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Request, Order, FollowUp]):
                django_cursor.execute(statement)
        audit.record(actors.DEMO, "request.synthesize", city, count=n, months=months, seed=seed)
    return Generated(n, months, n_orders, n_follow_ups)


@contextmanager
def _sqlite_bulk_mode(mebibytes: int = 512):
    """A bigger page cache, and no per-row foreign-key lookups (the ids are built here from rows just read).

    SQLite's default 2 MB cache spills a million-row transaction to disk index page by index page;
    ``foreign_keys`` can only change outside a transaction, hence before ``atomic``.
    """
    connection.ensure_connection()
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache = cursor.fetchone()[0]
        cursor.execute("PRAGMA foreign_keys")
        keys = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-mebibytes * 1024}")
        cursor.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size = {int(cache)}")
            cursor.execute(f"PRAGMA foreign_keys = {int(keys)}")


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of a table's indexes, leaving out those behind a primary key or UNIQUE."""
    if connection.vendor == "sqlite":
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
            [table],
        )
    else:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s AND indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = %s::regclass)",
            [table, table],
        )
    return list(cursor.fetchall())


@contextmanager
def _indexes_rebuilt_after(models, *, enabled: bool):
    """Drop the secondary indexes, load, build them again: one sort instead of a million random inserts.

    Runs inside the caller's transaction, so a failure leaves the indexes as they were.
    """
    if not enabled:
        yield
        return
    with connection.cursor() as cursor:
        dropped = [index for model in models for index in _secondary_indexes(cursor, model._meta.db_table)]
        for name, _sql in dropped:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        yield
        if connection.vendor == "postgresql":
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, and PostgreSQL refuses CREATE INDEX
            # on a table with checks still pending: run them now (a bad id still fails the load).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for _name, sql in dropped:
            cursor.execute(sql)


def _duties(city) -> dict[int, tuple[int, str]]:
    """Category → (responsible department, route): the responsibility list's own rule (up the tree)."""
    index = org_queries.responsibility_index([city.pk])
    result = {}
    for category_id in index.parent_of:
        found = index.responsibility(category_id)
        if found is not None:
            result[category_id] = (found.department_id, found.route)
    return result


def _points_in(geometries: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A point inside each street (NaN → NULL for a street drawn without an outline)."""
    lon, lat = [], []
    for geometry in geometries:
        if not geometry:
            lon.append(None)
            lat.append(None)
            continue
        point = shapely.from_geojson(geometry).representative_point()
        lon.append(round(point.x, 6))
        lat.append(round(point.y, 6))
    return np.array(lon, dtype=object), np.array(lat, dtype=object)
