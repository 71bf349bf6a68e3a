"""Gather the counts behind the rates (see rates.py) into MonthlyStat rows, and read them back.

Requests are counted in the month they were received (a cohort), attributed to the district,
street and community where they happened and to every department that received an order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from cityloop.hotline.models import MonthlyStat, Order, OrderStatus, Request, Status
from cityloop.hotline.performance.rates import Counts
from cityloop.org import queries as org_queries

AREA_LEVELS = ("district", "street", "community")
COUNT_FIELDS = [f for f in Counts.__dataclass_fields__]


def month_bounds(month: date) -> tuple[datetime, datetime]:
    first = month.replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    tz = timezone.get_current_timezone()
    return (datetime.combine(first, time.min, tzinfo=tz), datetime.combine(following, time.min, tzinfo=tz))


def next_month(month: date) -> date:
    return month_bounds(month)[1].date()


def previous_month(month: date) -> date:
    first = month.replace(day=1)
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def category_roots() -> dict[int, int]:
    parents = org_queries.category_parents()
    roots: dict[int, int] = {}
    for cat_id in parents:
        node = cat_id
        parent = parents.get(node)
        while parent:
            node, parent = parent, parents.get(parent)
        roots[cat_id] = node
    return roots


def conditions(as_of: datetime, prefix: str = "") -> dict[str, Q]:
    """What one request adds to each count (the rules of docs/metrics.md, in one place).

    ``prefix`` lets the same rules run from an order (``request__``).
    """

    def f(name: str) -> str:
        return prefix + name

    handled = ~Q(**{f("status"): Status.MERGED})  # a merged duplicate is handled through its primary
    followed = Q(**{f("resolved__isnull"): False}) & ~Q(**{f("satisfaction"): ""})
    answered = Q(**{f("first_response_at__isnull"): False, f("response_due__isnull"): False})
    closed = Q(**{f("closed_at__isnull"): False, f("closed_at__lte"): as_of})
    replied_late = Q(**{f("replied_at__isnull"): False, f("replied_at__gt"): F(f("finish_due"))})
    unreplied_past_due = Q(**{f("replied_at__isnull"): True, f("finish_due__lt"): as_of})
    return {
        "received": handled,
        "response_due": handled
        & Q(**{f("response_due__isnull"): False})
        & (Q(**{f("first_response_at__isnull"): False}) | Q(**{f("response_due__lte"): as_of})),
        "responded": handled & answered & Q(**{f("first_response_at__lte"): F(f("response_due"))}),
        "followed_up": followed,
        "resolved": followed & Q(**{f("resolved"): True}),
        "satisfied": followed & Q(**{f("satisfaction"): "satisfied"}),
        "basic": followed & Q(**{f("satisfaction"): "basic"}),
        "overdue": handled & Q(**{f("finish_due__isnull"): False}) & (replied_late | unreplied_past_due),
        "closed": handled & closed,
        "open_at_end": handled & ~closed,
    }


def _sums(as_of: datetime, prefix: str = "") -> dict:
    # Annotation names get a prefix: "resolved" would otherwise shadow the field the rules read.
    sums = {
        f"n_{name}": Sum(Case(When(rule, then=Value(1)), default=Value(0), output_field=IntegerField()))
        for name, rule in conditions(as_of, prefix).items()
    }
    duration = ExpressionWrapper(
        F(prefix + "closed_at") - F(prefix + "created_at"), output_field=DurationField()
    )
    sums["n_close_time"] = Sum(
        Case(
            When(conditions(as_of, prefix)["closed"], then=duration),
            default=None,
            output_field=DurationField(),
        )
    )
    return sums


def _root(prefix: str = ""):
    """The first-level category of a request: the tree has at most three levels."""
    c = prefix + "category"
    return Coalesce(f"{c}__parent__parent_id", f"{c}__parent_id", f"{c}_id")


def _add(totals, key, row: dict) -> None:
    close_time = row.pop("n_close_time", None)
    counts = Counts(**{name: row.get(f"n_{name}") or 0 for name in COUNT_FIELDS if name != "close_hours_sum"})
    counts.close_hours_sum = close_time.total_seconds() / 3600 if close_time else 0.0
    totals[key] += counts


def count_month(month: date, *, now: datetime | None = None) -> dict[tuple[str, int, int | None], Counts]:
    """Count one month from the requests (a read): (unit kind, unit, first-level category) → counts."""
    start, end = month_bounds(month)
    as_of = min(end, now or timezone.now())
    totals: dict[tuple[str, int, int | None], Counts] = defaultdict(Counts)
    cohort = Request.objects.filter(created_at__gte=start, created_at__lt=end)
    for level in ("city", *AREA_LEVELS):
        for row in (
            cohort.filter(**{f"{level}_id__isnull": False})
            .annotate(root=_root())
            .values(f"{level}_id", "root")
            .annotate(**_sums(as_of))
            .order_by()
        ):
            unit, root = row.pop(f"{level}_id"), row.pop("root")
            _add(totals, (level, unit, root), row)
    orders = Order.objects.filter(request__created_at__gte=start, request__created_at__lt=end)
    order_sums = {"orders": Count("id"), "returned": Count("id", filter=Q(status=OrderStatus.RETURNED))}
    for level in ("city", *AREA_LEVELS):
        for row in (
            orders.filter(**{f"request__{level}_id__isnull": False})
            .annotate(root=_root("request__"))
            .values(f"request__{level}_id", "root")
            .annotate(**order_sums)
            .order_by()
        ):
            key = (level, row[f"request__{level}_id"], row["root"])
            totals[key] += Counts(orders=row["orders"], returned=row["returned"])
    department_orders = orders.filter(department_id__isnull=False)
    for row in (
        department_orders.annotate(root=_root("request__"))
        .values("department_id", "root")
        .annotate(**order_sums)
        .order_by()
    ):
        key = ("department", row["department_id"], row["root"])
        totals[key] += Counts(orders=row["orders"], returned=row["returned"])
    # A department counts each request once, however many orders (a reopen sends a new one).
    first_orders = department_orders.exclude(status=OrderStatus.CANCELLED).filter(
        ~Exists(
            Order.objects.filter(
                request=OuterRef("request"), department=OuterRef("department"), id__lt=OuterRef("id")
            ).exclude(status=OrderStatus.CANCELLED)
        )
    )
    for row in (
        first_orders.annotate(root=_root("request__"))
        .values("department_id", "root")
        .annotate(**_sums(as_of, "request__"))
        .order_by()
    ):
        unit, root = row.pop("department_id"), row.pop("root")
        _add(totals, ("department", unit, root), row)
    return totals


def months_to_count() -> list[date]:
    """Every month from the first request to the last."""
    first = Request.objects.order_by("created_at").values_list("created_at", flat=True).first()
    last = Request.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    if first is None:
        return []
    month, stop = (
        timezone.localtime(first).date().replace(day=1),
        timezone.localtime(last).date().replace(day=1),
    )
    months = []
    while month <= stop:
        months.append(month)
        month = next_month(month)
    return months


def _summed(qs, key: str) -> dict:
    """Counts summed by ``key`` in the database (the dashboard reads a handful of rows)."""
    sums = {name: Sum(name) for name in COUNT_FIELDS}
    return {
        row.pop(key): Counts(**{k: v or 0 for k, v in row.items()})
        for row in qs.values(key).annotate(**sums).order_by()
    }


def stat_rows(kind: str, months: list[date], *, category_id: int | None = None, unit_ids=None):
    qs = MonthlyStat.objects.filter(unit_kind=kind, month__in=months)
    if category_id is not None:
        qs = qs.filter(category_id=category_id)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=list(unit_ids))
    return qs


def counts_by_unit(
    kind: str, months: list[date], *, category_id: int | None = None, unit_ids=None
) -> dict[int, Counts]:
    """Summed counts per unit over the given months (optionally one first-level category)."""
    return _summed(stat_rows(kind, months, category_id=category_id, unit_ids=unit_ids), "unit_id")


def counts_by_category(kind: str, months: list[date], *, unit_ids=None) -> dict[int | None, Counts]:
    return _summed(stat_rows(kind, months, unit_ids=unit_ids), "category_id")


def counts_by_month(
    kind: str, months: list[date], *, category_id: int | None = None, unit_ids=None
) -> dict[date, Counts]:
    return _summed(stat_rows(kind, months, category_id=category_id, unit_ids=unit_ids), "month")


# A skip scan: one probe of the month index per month, where DISTINCT read every row (70,000 rows of a
# million requests' counts took 25-60 ms on PostgreSQL, twice per page).
_MONTHS_SQL = (
    "WITH RECURSIVE found(month) AS ("
    " SELECT MIN(month) FROM {table}"
    " UNION ALL SELECT (SELECT MIN(month) FROM {table} WHERE month > found.month)"
    " FROM found WHERE found.month IS NOT NULL"
    ") SELECT month FROM found WHERE month IS NOT NULL"
)


def months_with_data() -> list[date]:
    """The months that have counts, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(_MONTHS_SQL.format(table=connection.ops.quote_name(MonthlyStat._meta.db_table)))
        found = [row[0] for row in cursor.fetchall()]
    return [m if isinstance(m, date) else date.fromisoformat(str(m)[:10]) for m in found]
