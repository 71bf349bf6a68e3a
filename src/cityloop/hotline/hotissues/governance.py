"""每月一题: which requests a governance task covers, and its progress month by month.

A request matches a task when its title or description names the task's place and, when the task has
words, one of them; in the task's district when it has one; merged duplicates are left out. Progress
compares each month's matching requests with the baseline month: the target is met when a whole
month after the baseline has at most ``baseline × (1 − reduction)`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Q
from django.utils import timezone

from cityloop.hotline.models import GovernanceTask, Request, Status


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def matching_requests(task: GovernanceTask):
    rows = Request.objects.filter(Q(title__contains=task.place_key) | Q(description__contains=task.place_key))
    rows = rows.filter(city_id=task.city_id).exclude(status=Status.MERGED)
    if task.district_id:
        rows = rows.filter(district_id=task.district_id)
    words = [w for w in task.words if w]
    if words:
        any_word = Q()
        for w in words:
            any_word |= Q(title__contains=w) | Q(description__contains=w)
        rows = rows.filter(any_word)
    return rows


def target_count(baseline: int, reduction_pct: int) -> float:
    return baseline * (100 - reduction_pct) / 100


@dataclass(frozen=True)
class Progress:
    months: list[tuple[date, int, bool]]  # (month, matching requests, whole month) from the baseline on
    baseline: int
    target: float
    latest: int | None  # the last whole month after the baseline, None before there is one
    change: float | None  # latest vs baseline, e.g. -0.35
    met: bool | None  # None: no whole month yet, or nothing in the baseline to reduce


def progress(task: GovernanceTask, today: date | None = None) -> Progress:
    today = today or timezone.localdate()
    zone = timezone.get_current_timezone()
    start = datetime.combine(task.baseline_month, time.min, tzinfo=zone)
    counts: dict[date, int] = {}
    for created in matching_requests(task).filter(created_at__gte=start).values_list("created_at", flat=True):
        month = month_start(timezone.localtime(created, zone).date())
        counts[month] = counts.get(month, 0) + 1
    months = []
    month, end = task.baseline_month, month_start(max(today, task.baseline_month))
    while month <= end:
        months.append((month, counts.get(month, 0), next_month(month) <= today))
        month = next_month(month)
    baseline = counts.get(task.baseline_month, 0)
    whole = [(m, n) for m, n, complete in months[1:] if complete]
    latest = whole[-1][1] if whole else None
    target = target_count(baseline, task.reduction_pct)
    change = (latest - baseline) / baseline if latest is not None and baseline else None
    met = None if latest is None or not baseline else latest <= target
    return Progress(months, baseline, target, latest, change, met)
