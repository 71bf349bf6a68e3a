"""Gather the counts behind the rates (see rates.py) into MonthlyStat rows, and read them back.

Requests are counted in the month they were received (a cohort), attributed to the district,
street and community where they happened and to every department that received an order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone

from cityloop.hotline.models import MonthlyStat, Order, OrderStatus, Request, Status
from cityloop.hotline.rates import Counts
from cityloop.org.models import Category

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
    parents = dict(Category.objects.values_list("id", "parent_id"))
    roots: dict[int, int] = {}
    for cat_id in parents:
        node = cat_id
        while parents.get(node):
            node = parents[node]
        roots[cat_id] = node
    return roots


def request_counts(row: dict, as_of: datetime) -> Counts:
    """One request's contribution (the rules of docs/metrics.md, in code)."""
    c = Counts()
    merged = row["status"] == Status.MERGED
    if row["resolved"] is not None and row["satisfaction"]:
        c.followed_up = 1
        c.resolved = int(bool(row["resolved"]))
        c.satisfied = int(row["satisfaction"] == "satisfied")
        c.basic = int(row["satisfaction"] == "basic")
    if merged:
        return c  # handled once, through its primary; its citizen's answer still counts
    c.received = 1
    first_response, response_due = row["first_response_at"], row["response_due"]
    if response_due is not None:
        if first_response is not None and first_response <= response_due:
            c.response_due, c.responded = 1, 1
        elif response_due <= as_of or (first_response is not None):
            c.response_due = 1  # due and missed, or answered late
    finish_due, replied = row["finish_due"], row["replied_at"]
    if finish_due is not None and ((replied is not None and replied > finish_due)
                                   or (replied is None and finish_due < as_of)):
        c.overdue = 1
    closed = row["closed_at"]
    if closed is not None and closed <= as_of:
        c.closed = 1
        c.close_hours_sum = (closed - row["created_at"]).total_seconds() / 3600
    else:
        c.open_at_end = 1
    return c


FIELDS = ["id", "status", "district_id", "street_id", "community_id", "category_id", "created_at", "response_due",
          "first_response_at", "finish_due", "replied_at", "closed_at", "resolved", "satisfaction"]


@transaction.atomic
def rebuild_month(month: date, *, now: datetime | None = None) -> int:
    """Recount one month from the requests; returns the number of stat rows written."""
    start, end = month_bounds(month)
    as_of = min(end, now or timezone.now())
    roots = category_roots()
    totals: dict[tuple[str, int, int | None], Counts] = defaultdict(Counts)
    per_request: dict[int, tuple[Counts, int | None]] = {}
    requests = Request.objects.filter(created_at__gte=start, created_at__lt=end).values(*FIELDS)
    for row in requests.iterator(chunk_size=5000):
        counts = request_counts(row, as_of)
        root = roots.get(row["category_id"]) if row["category_id"] else None
        per_request[row["id"]] = (counts, root)
        for level in AREA_LEVELS:
            unit = row[f"{level}_id"]
            if unit is not None:
                totals[(level, unit, root)] += counts
    seen: set[tuple[int, int]] = set()
    orders = (Order.objects.filter(request__created_at__gte=start, request__created_at__lt=end)
              .values_list("request_id", "department_id", "status", "request__district_id",
                           "request__street_id", "request__community_id"))
    for request_id, department_id, status, *areas in orders.iterator(chunk_size=5000):
        counts, root = per_request.get(request_id, (None, None))
        if counts is None:
            continue
        returned = int(status == OrderStatus.RETURNED)
        order_counts = Counts(orders=1, returned=returned)
        for level, unit in zip(AREA_LEVELS, areas, strict=True):
            if unit is not None:
                totals[(level, unit, root)] += order_counts
        if department_id is None:
            continue
        totals[("department", department_id, root)] += order_counts
        if status != OrderStatus.CANCELLED and (request_id, department_id) not in seen:
            seen.add((request_id, department_id))
            totals[("department", department_id, root)] += counts
    MonthlyStat.objects.filter(month=start.date()).delete()
    MonthlyStat.objects.bulk_create([
        MonthlyStat(month=start.date(), unit_kind=kind, unit_id=unit, category_id=root, **counts.as_dict())
        for (kind, unit, root), counts in totals.items()
    ], batch_size=2000)
    return len(totals)


def rebuild_all(*, now: datetime | None = None) -> list[date]:
    """Recount every month that has requests."""
    first = Request.objects.order_by("created_at").values_list("created_at", flat=True).first()
    last = Request.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    if first is None:
        return []
    month, stop = timezone.localtime(first).date().replace(day=1), timezone.localtime(last).date().replace(day=1)
    done = []
    while month <= stop:
        rebuild_month(month, now=now)
        done.append(month)
        month = next_month(month)
    return done


def counts_by_unit(kind: str, months: list[date], *, category_id: int | None = None,
                   unit_ids: list[int] | None = None) -> dict[int, Counts]:
    """Summed counts per unit over the given months (optionally one first-level category)."""
    qs = MonthlyStat.objects.filter(unit_kind=kind, month__in=months)
    if category_id is not None:
        qs = qs.filter(category_id=category_id)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=unit_ids)
    result: dict[int, Counts] = defaultdict(Counts)
    for row in qs.values("unit_id", *COUNT_FIELDS):
        unit = row.pop("unit_id")
        result[unit] += Counts(**row)
    return dict(result)


def counts_by_category(kind: str, months: list[date], *, unit_ids: list[int] | None = None) -> dict[int | None, Counts]:
    qs = MonthlyStat.objects.filter(unit_kind=kind, month__in=months)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=unit_ids)
    result: dict[int | None, Counts] = defaultdict(Counts)
    for row in qs.values("category_id", *COUNT_FIELDS):
        cat = row.pop("category_id")
        result[cat] += Counts(**row)
    return dict(result)


def months_with_data() -> list[date]:
    return sorted(MonthlyStat.objects.values_list("month", flat=True).distinct())
