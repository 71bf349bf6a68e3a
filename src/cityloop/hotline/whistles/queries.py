"""Reads behind the whistle pages (吹哨报到): a street's whistles, a department's summonses, disputes."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils import timezone

from cityloop.hotline.models import (
    Assessment,
    Order,
    Request,
    Status,
    Summons,
    SummonStatus,
    Whistle,
    WhistleStatus,
)
from cityloop.hotline.performance import stats
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Department


def report_in_state(summons: Summons, now=None) -> str:
    """on_time | late | missed | disputed | released | waiting: what the street sees per department."""
    now = now or timezone.now()
    if summons.status == SummonStatus.ACCEPTED:
        return "late" if summons.late else "on_time"
    if summons.status == SummonStatus.DISPUTED:
        return "disputed"
    if summons.status == SummonStatus.RELEASED:
        return "released"
    if summons.missed or summons.whistle.report_due < now:
        return "missed"
    return "waiting"


def task_state(summons: Summons) -> str:
    """done | working | none (a department that has not reported in has no task yet)."""
    if summons.task_done_at is not None:
        return "done"
    return "working" if summons.status == SummonStatus.ACCEPTED else "none"


def whistles_of(street, *, limit: int = 50) -> list[Whistle]:
    """The street's open whistles, then its latest closed ones, each with its summonses."""
    base = (
        Whistle.objects.filter(street=street)
        .select_related("request", "blown_by")
        .prefetch_related("summonses__department")
    )
    open_ones = list(base.filter(status=WhistleStatus.OPEN).order_by("-blown_at"))
    closed = list(base.filter(status=WhistleStatus.CLOSED).order_by("-closed_at")[:limit])
    return open_ones + closed


def open_requests_of(street, *, limit: int = 200) -> QuerySet[Request]:
    """Cases of this street a whistle can be blown on."""
    return (
        Request.objects.filter(street=street)
        .exclude(status__in=[Status.CLOSED, Status.MERGED])
        .order_by("-created_at")[:limit]
    )


def summonses_of(department) -> list[Summons]:
    """A department's summonses: those still to answer first (by deadline), then the rest, newest first."""
    qs = Summons.objects.filter(department=department).select_related(
        "whistle", "whistle__street", "whistle__request", "department"
    )
    active = Q(whistle__status=WhistleStatus.OPEN) & (
        Q(status__in=[SummonStatus.SUMMONED, SummonStatus.DISPUTED])
        | Q(status=SummonStatus.ACCEPTED, task_done_at__isnull=True)
    )
    return list(qs.filter(active).order_by("whistle__report_due", "id")) + list(
        qs.exclude(active).order_by("-whistle__blown_at", "-id")[:50]
    )


def disputed_summonses(city) -> QuerySet[Summons]:
    return (
        Summons.objects.filter(status=SummonStatus.DISPUTED, whistle__street__city=city)
        .select_related("whistle", "whistle__street", "department")
        .order_by("reported_at", "id")
    )


def departments_serving(street, month: date) -> list[Department]:
    """Departments that handled an order on this street's cases, or were summoned by it, in the month."""
    start, end = stats.month_bounds(month)
    by_orders = Order.objects.filter(
        request__street=street, department__isnull=False, dispatched_at__gte=start, dispatched_at__lt=end
    ).values("department_id")
    by_whistles = Summons.objects.filter(
        whistle__street=street, whistle__blown_at__gte=start, whistle__blown_at__lt=end
    ).values("department_id")
    return list(
        org_queries.departments().filter(Q(pk__in=by_orders) | Q(pk__in=by_whistles)).order_by("code")
    )


def assessments_of(street, month: date) -> dict[int, Assessment]:
    return {a.department_id: a for a in Assessment.objects.filter(street=street, month=month.replace(day=1))}
