"""The leader's one-page brief: a month (and optionally a district) against the city's targets.

What it holds is read from the same places as the dashboard and the monthly report, so the brief
never tells a different number: the month's counts and three rates (rates.py) set against the city's
targets (its pack's ``targets``, else ``org.packs.DEFAULT_TARGETS``), the orders overdue now, the
hottest first-level categories, the governance tasks' progress against their target (每月一题,
hotissues/governance.py) and the month's 治理类街乡 (focus.py). Each list is cut to what fits one A4
page; the page says how many there are in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from cityloop.hotline.hotissues import governance
from cityloop.hotline.models import GovernanceTask
from cityloop.hotline.performance import focus, leaders, rates, stats
from cityloop.hotline.performance.rates import Counts
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Category, Jurisdiction

THREE_RATES = ("response", "resolution", "satisfaction")
HOT_CATEGORIES, OVERDUE_ORDERS, TASKS, FOCUS_STREETS = 5, 5, 5, 10


@dataclass(frozen=True)
class RateLine:
    name: str
    value: float | None  # 0-1
    previous: float | None
    target: float  # 0-1

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value >= self.target - 1e-12

    @property
    def gap(self) -> float | None:
        """Result minus target (0-1): negative when short of it."""
        return None if self.value is None else self.value - self.target


@dataclass
class Brief:
    city: Jurisdiction
    month: date
    district: Jurisdiction | None
    totals: Counts
    previous_totals: Counts
    rates: list[RateLine]
    overdue: list
    overdue_count: int
    hot_categories: list[tuple[Category, Counts, dict[str, float | None]]]
    tasks: list[tuple[GovernanceTask, governance.Progress]]
    tasks_count: int
    focus: focus.FocusList
    made_at: datetime


def build(city, month: date, *, district_id: int | None = None, now=None) -> Brief:
    now = now or timezone.now()
    previous = stats.previous_month(month)
    kind, unit = ("district", district_id) if district_id else ("city", city.pk)
    totals = stats.counts_by_unit(kind, [month], unit_ids=[unit]).get(unit, Counts())
    before = stats.counts_by_unit(kind, [previous], unit_ids=[unit]).get(unit, Counts())
    targets = org_queries.targets(city)
    lines = [
        RateLine(
            name,
            rates.RATE_FUNCTIONS[name](totals),
            rates.RATE_FUNCTIONS[name](before),
            targets[name] / 100,
        )
        for name in THREE_RATES
    ]
    names = {c.pk: c for c in org_queries.categories(city, depth=1)}
    hot = sorted(
        (
            (names[cat], c, rates.rates(c))
            for cat, c in stats.counts_by_category(kind, [month], unit_ids=[unit]).items()
            if cat in names and c.received
        ),
        key=lambda item: (-item[1].received, item[0].code),
    )[:HOT_CATEGORIES]
    overdue, overdue_count = leaders.overdue_orders(
        city, district_id=district_id, limit=OVERDUE_ORDERS, now=now
    )
    # the tasks set by the end of the month, their progress as it stood then
    as_of = min(stats.next_month(month), timezone.localdate(now))
    tasks_qs = GovernanceTask.objects.filter(city=city, baseline_month__lte=month).order_by("deadline", "pk")
    if district_id:
        tasks_qs = tasks_qs.filter(district_id=district_id)
    tasks = [(task, governance.progress(task, today=as_of)) for task in tasks_qs[:TASKS]]
    district = org_queries.place(city, level="district", pk=district_id) if district_id else None
    streets = focus.focus_list(city, month, district_id=district_id)
    streets.listed = streets.listed[:FOCUS_STREETS]
    return Brief(
        city=city,
        month=month,
        district=district,
        totals=totals,
        previous_totals=before,
        rates=lines,
        overdue=overdue,
        overdue_count=overdue_count,
        hot_categories=hot,
        tasks=tasks,
        tasks_count=tasks_qs.count(),
        focus=streets,
        made_at=now,
    )
