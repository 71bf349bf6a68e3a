"""The writes of performance: the monthly counts behind the rates and rankings are recounted here."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction

from cityloop.core import audit
from cityloop.core.actors import Actor
from cityloop.hotline.models import MonthlyStat
from cityloop.hotline.performance import stats


@transaction.atomic
def recount_month(month: date, *, actor: Actor, now: datetime | None = None) -> int:
    """Replace one month's counts with a fresh count of its requests; returns the rows written.

    The counts are derived (a recount never loses anything), so the command line, the loaders and the
    tests may run it; each run is one audit record.
    """
    totals = stats.count_month(month, now=now)
    start, _end = stats.month_bounds(month)
    MonthlyStat.objects.filter(month=start.date()).delete()
    MonthlyStat.objects.bulk_create(
        [
            MonthlyStat(
                month=start.date(), unit_kind=kind, unit_id=unit, category_id=root, **counts.as_dict()
            )
            for (kind, unit, root), counts in totals.items()
        ],
        batch_size=2000,
    )
    audit.record(actor, "stats.recount", None, month=f"{start:%Y-%m}", rows=len(totals))
    return len(totals)


def recount_all(*, actor: Actor, now: datetime | None = None) -> list[date]:
    """Recount every month that has requests."""
    months = stats.months_to_count()
    for month in months:
        recount_month(month, actor=actor, now=now)
    return months
