"""Reads behind the leaders' dashboard, rankings, trends and monthly report (from MonthlyStat)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import shapely
from django.conf import settings
from django.db.models import Avg, Count, Q, Window
from django.utils import timezone, translation

from cityloop.core.doors import charts
from cityloop.hotline.models import Assessment, Order, OrderStatus, Summons, WhistleStatus
from cityloop.hotline.performance import rates, stats
from cityloop.hotline.performance.rates import Counts
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Category, Jurisdiction

LEVELS = ("district", "street", "community", "department")
_paths_cache: dict[tuple, list] = {}
_paths_lock = threading.Lock()


def forget_cached_paths() -> None:
    with _paths_lock:
        _paths_cache.clear()


def month_list(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last.replace(day=1):
        months.append(month)
        month = stats.next_month(month)
    return months


def last_months(last: date, n: int) -> list[date]:
    """The ``n`` months ending with ``last``, oldest first."""
    months = [last.replace(day=1)]
    while len(months) < n:
        months.insert(0, stats.previous_month(months[0]))
    return months


def districts(city) -> list[Jurisdiction]:
    return list(
        org_queries.places(city, level="district")
        .order_by("code")
        .only("id", "code", "name", "name_en", "level", "parent_id")
    )


def top_categories(city) -> list[Category]:
    return list(org_queries.categories(city, depth=1).order_by("code"))


def latest_month() -> date:
    """The month the leaders' pages open on: the last *complete* month with data (a month that began
    three days ago says little and would rank units on a handful of cases); the running month only
    when no earlier month has data. Any month can still be chosen on the page."""
    months = stats.months_with_data()
    running = timezone.localdate().replace(day=1)
    complete = [m for m in months if m < running]
    if complete:
        return complete[-1]
    return months[-1] if months else running


def units(kind: str, city, district_id: int | None = None) -> dict[int, object]:
    if kind == "department":
        qs = org_queries.departments(city)
        if district_id:
            qs = qs.filter(district_id=district_id)
        return {d.pk: d for d in qs}
    # never the outlines: a street's GeoJSON is kilobytes, and a ranking lists hundreds of units
    qs = org_queries.places(city, level=kind)
    if district_id and kind == "street":
        qs = qs.filter(parent_id=district_id)
    elif district_id and kind == "community":
        qs = qs.filter(parent__parent_id=district_id)
    elif district_id and kind == "district":
        qs = qs.filter(pk=district_id)
    return {j.pk: j for j in qs.only("id", "code", "name", "name_en", "level", "parent_id")}


def area_frame(city, district_id: int | None) -> charts.Frame:
    """The map's areas, projected once per process, city and language (the pack rarely changes): the
    city's districts, or one district's streets when ``district_id`` is given."""
    pack = getattr(city, "pack", None)
    # the labels inside the paths are in the page's language
    key = (
        city.pk,
        district_id,
        pack.pk if pack else None,
        pack.imported_at if pack else None,
        translation.get_language(),
    )
    with _paths_lock:
        found = _paths_cache.get(key)
    if found is not None:
        return found
    if district_id:
        qs = org_queries.places(city, level="street").filter(parent_id=district_id)
    else:
        qs = org_queries.places(city, level="district")
    shapes = [
        charts.Shape(str(j.pk), j.label, shapely.from_geojson(j.geometry))
        for j in qs.exclude(geometry="").order_by("code")
    ]
    frame = charts.project_frame(shapes)
    with _paths_lock:
        _paths_cache[key] = frame
    return frame


def street_codes(city, district_id: int) -> dict[int, str]:
    """pk → code of one district's streets (the search page takes a street by its code)."""
    return dict(
        org_queries.places(city, level="street").filter(parent_id=district_id).values_list("id", "code")
    )


@dataclass
class MapArea:
    """One area of the map, for the table beside it: its unit, value and where a click leads."""

    unit_id: int
    label: str
    value: float | None
    received: int
    href: str


@dataclass
class Dashboard:
    months: list[date]
    totals: Counts
    rates: dict
    composite: float | None
    map_svg: str
    rate: str
    hot_categories: list[tuple[object, Counts, dict]]
    overdue: list
    overdue_count: int
    districts: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    map_level: str = "district"  # which areas the map shows: the city's districts, or a district's streets
    map_areas: list[MapArea] = field(default_factory=list)
    alarms: list[dict] = field(default_factory=list)  # the open sensor alarms drawn (alarms_on)
    alarms_shown: int = 0  # how many of them fell inside the map


def dashboard(
    city,
    *,
    months: list[date],
    district_id: int | None = None,
    category_id: int | None = None,
    rate: str = "satisfaction",
    rate_label: str = "",
    no_data: str = "no data",
    link: Callable[[str, object], str] | None = None,
    alarms: list[dict] | None = None,
    alarm_label: Callable[[dict], str] | None = None,
    alarm_link: Callable[[dict], str] | None = None,
    texts: dict[str, str] | None = None,
) -> Dashboard:
    """The dashboard's figures and map. The map shows the city's districts, or one district's streets;
    ``link(level, unit)`` gives an area's drill-down address ("" for none); ``alarms`` (from
    ``brain.queries.alarm_positions``) are drawn over it as markers named by ``alarm_label`` and
    linked by ``alarm_link``; ``texts`` holds the map's words in the page's language (scale_note,
    marker_key)."""
    texts = texts or {}
    if district_id:
        totals = stats.counts_by_unit(
            "district", months, category_id=category_id, unit_ids=[district_id]
        ).get(district_id, Counts())
        by_category = stats.counts_by_category("district", months, unit_ids=[district_id])
    else:
        totals = stats.counts_by_unit("city", months, category_id=category_id, unit_ids=[city.pk]).get(
            city.pk, Counts()
        )
        by_category = stats.counts_by_category("city", months, unit_ids=[city.pk])
    frame = area_frame(city, district_id)
    level = "street" if district_id else "district"
    area_counts = stats.counts_by_unit(
        level, months, category_id=category_id, unit_ids=[int(key) for key, _, _ in frame.paths]
    )
    function = rates.RATE_FUNCTIONS[rate]
    values = {str(pk): function(c) for pk, c in area_counts.items()}
    areas = [
        MapArea(
            unit_id=int(key),
            label=label,
            value=values.get(key),
            received=area_counts[int(key)].received if int(key) in area_counts else 0,
            href=link(level, _Unit(int(key), label)) if link else "",
        )
        for key, label, _ in frame.paths
    ]
    markers = []
    for alarm in alarms or []:
        spot = frame.point(alarm["lon"], alarm["lat"])
        if spot is not None:
            markers.append(
                charts.Marker(
                    *spot,
                    label=alarm_label(alarm) if alarm_label else alarm["code"],
                    href=alarm_link(alarm) if alarm_link else "",
                )
            )
    worse = "high" if rate in ("overdue", "returned") else "low"  # which end of the rate is bad
    map_svg = charts.choropleth(
        frame.paths,
        values,
        title=rate_label or rate,
        no_data=no_data,
        worse=worse,
        links={str(a.unit_id): a.href for a in areas if a.href},
        anchors=frame.anchors,
        label_size=15 if level == "district" else 13,
        markers=markers,
        marker_key=texts.get("marker_key", "") if alarms is not None else "",
        scale_note=texts.get("scale_note", ""),
    )
    names = {c.pk: c for c in org_queries.categories(city, depth=1)}
    hot = sorted(
        ((names[cat], c, rates.rates(c)) for cat, c in by_category.items() if cat in names),
        key=lambda item: -item[1].received,
    )[:10]
    overdue, overdue_count = overdue_orders(city, district_id=district_id, category_id=category_id)
    return Dashboard(
        months=months,
        totals=totals,
        rates=rates.rates(totals),
        composite=rates.composite(totals, settings.HOTLINE["score_weights"]),
        map_svg=map_svg,
        rate=rate,
        hot_categories=hot,
        overdue=overdue,
        overdue_count=overdue_count,
        districts=districts(city),
        categories=sorted(names.values(), key=lambda c: c.code),
        map_level=level,
        map_areas=areas,
        alarms=alarms or [],
        alarms_shown=len(markers),
    )


@dataclass(frozen=True)
class _Unit:
    pk: int
    label: str


@dataclass
class TrendMonth:
    month: date
    counts: Counts
    rates: dict


def dashboard_trend(
    city, months: list[date], *, district_id: int | None = None, category_id: int | None = None
) -> list[TrendMonth]:
    """Month by month over ``months``: the city's (or one district's) counts and rates, one query."""
    kind, unit = ("district", district_id) if district_id else ("city", city.pk)
    by_month = stats.counts_by_month(kind, months, category_id=category_id, unit_ids=[unit])
    return [TrendMonth(m, by_month.get(m, Counts()), rates.rates(by_month.get(m, Counts()))) for m in months]


def overdue_orders(
    city, *, district_id: int | None = None, category_id: int | None = None, limit: int = 20, now=None
) -> tuple[list[Order], int]:
    """The most overdue active orders and how many there are (the rule of ``queries.overdue_orders``).

    Two index ranges on (status, finish_due, id, …) — signed past the finish limit, pending past
    either limit — each read by one query that counts the whole range (a window) and returns its
    most overdue orders in the index's own order, from the index alone: a million orders cost a few
    milliseconds, not a scan. A district or category filter joins each overdue order's request by key
    through the index (id, district, category, city), never the request rows
    (tests/hotline/performance/test_query_plans.py checks the plans).
    """
    now = now or timezone.now()
    narrow: dict[str, object] = {}
    if org_queries.cities().count() > 1:
        narrow["request__city_id"] = city.pk
    if district_id:
        narrow["request__district_id"] = district_id
    if category_id:
        roots = stats.category_roots()
        narrow["request__category_id__in"] = [c for c, r in roots.items() if r == category_id]
    parts = [
        Order.objects.filter(status=OrderStatus.SIGNED, finish_due__lt=now, **narrow),
        Order.objects.filter(
            Q(finish_due__lt=now) | Q(response_due__lt=now), status=OrderStatus.PENDING, **narrow
        ),
    ]
    count, ids = 0, []
    for part in parts:
        rows = list(
            part.annotate(total=Window(Count("id")))
            .order_by("finish_due", "id")
            .values_list("id", "finish_due", "total")[:limit]
        )
        count += rows[0][2] if rows else 0
        ids += [(due, pk) for pk, due, _total in rows]
    ids = sorted(ids)[:limit]
    found = Order.objects.select_related("request", "street", "department").in_bulk([pk for _due, pk in ids])
    return [found[pk] for _due, pk in ids], count


@dataclass
class RankRow:
    unit: object
    counts: Counts
    rates: dict
    score: float | None
    rank: int | None = None
    previous_score: float | None = None
    previous_rank: int | None = None
    assessment: float | None = None
    reply_quality: float | None = None  # mean 答复意见质量 of the month's replies, when it weighs in

    @property
    def change(self) -> float | None:
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score


def assessments(month: date, department_ids) -> dict[int, float | None]:
    """Streets' assessment (0-1) per department for a month: forms and whistle ratings."""
    forms = dict(
        Assessment.objects.filter(month=month, department_id__in=department_ids)
        .values("department_id")
        .annotate(avg=Avg("score"))
        .values_list("department_id", "avg")
    )
    start, end = stats.month_bounds(month)
    ratings: dict[int, list[int]] = {}
    for dept, rating in Summons.objects.filter(
        department_id__in=department_ids,
        rating__isnull=False,
        whistle__status=WhistleStatus.CLOSED,
        whistle__closed_at__gte=start,
        whistle__closed_at__lt=end,
    ).values_list("department_id", "rating"):
        ratings.setdefault(dept, []).append(rating)
    return {
        d: rates.assessment_score([forms[d]] if d in forms else [], ratings.get(d, []))
        for d in department_ids
    }


def assessment_trend(department_id: int, months: list[date]) -> dict[date, float]:
    """The streets' assessment (0-1) of one department, month by month (months without any left out)."""
    found = {}
    for month in months:
        score = assessments(month, [department_id]).get(department_id)
        if score is not None:
            found[month] = score
    return found


_REPLY_UNIT = {
    "street": "street_id",
    "department": "department_id",
    "district": "request__district_id",
    "community": "request__community_id",
}


def reply_quality_means(
    kind: str, month: date, unit_ids: list[int], category_id: int | None = None
) -> dict[int, float]:
    """The mean overall reply quality (0-1) of each unit's orders replied in the month (scored ones)."""
    unit = _REPLY_UNIT[kind]
    start, end = stats.month_bounds(month)
    narrow: dict[str, object] = {f"{unit}__in": unit_ids}
    if category_id:
        roots = stats.category_roots()
        narrow["request__category_id__in"] = [c for c, r in roots.items() if r == category_id]
    found: dict[int, list[float]] = {}
    replies = Order.objects.filter(
        replied_at__gte=start, replied_at__lt=end, reply_quality__isnull=False, **narrow
    ).values_list(unit, "reply_quality")
    for pk, stored in replies:
        overall = (stored or {}).get("overall")
        if pk is not None and isinstance(overall, int | float):
            found.setdefault(pk, []).append(float(overall))
    return {pk: sum(values) / len(values) for pk, values in found.items()}


def _score_rows(kind: str, month: date, unit_map: dict, category_id: int | None) -> dict[int, RankRow]:
    counts = stats.counts_by_unit(kind, [month], category_id=category_id, unit_ids=list(unit_map))
    weights = settings.HOTLINE["score_weights"]
    rows = {
        pk: RankRow(unit_map[pk], c, rates.rates(c), rates.composite(c, weights))
        for pk, c in counts.items()
        if pk in unit_map and c.received
    }
    if kind == "department":
        scores = assessments(month, list(unit_map))
        weight = settings.HOTLINE["assessment_weight"]
        for pk, row in rows.items():
            row.assessment = scores.get(pk)
            row.score = rates.performance(row.score, row.assessment, weight)
    quality_weight = settings.HOTLINE["reply_quality_weight"]
    if quality_weight and rows:  # off by default: no query, the figures are the rates' alone
        means = reply_quality_means(kind, month, list(rows), category_id)
        for pk, row in rows.items():
            row.reply_quality = means.get(pk)
            row.score = rates.with_reply_quality(row.score, row.reply_quality, quality_weight)
    # A unit with a handful of requests would top the table on one lucky case: it is listed, not ranked.
    enough = settings.HOTLINE["rank_min_received"]
    ranked = sorted(
        (r for r in rows.values() if r.score is not None and r.counts.received >= enough),
        key=lambda r: -r.score,
    )
    for position, row in enumerate(ranked, start=1):
        row.rank = position
    return rows


def ranking(
    kind: str, month: date, city, *, district_id: int | None = None, category_id: int | None = None
) -> list[RankRow]:
    """Units of one level ranked by score for a month, with last month's score and rank beside."""
    unit_map = units(kind, city, district_id)
    current = _score_rows(kind, month, unit_map, category_id)
    previous = _score_rows(kind, stats.previous_month(month), unit_map, category_id)
    for pk, row in current.items():
        if pk in previous and previous[pk].rank is not None and row.rank is not None:
            # a change is shown only between two ranked months: "+100 points" from one case is not news
            row.previous_score, row.previous_rank = previous[pk].score, previous[pk].rank
    return sorted(current.values(), key=lambda r: (r.rank is None, r.rank or 0, -r.counts.received))


def movers(rows: list[RankRow], n: int = 3) -> tuple[list[RankRow], list[RankRow]]:
    changed = [r for r in rows if r.change is not None]
    best = sorted((r for r in changed if r.change > 0), key=lambda r: -r.change)[:n]
    worst = sorted((r for r in changed if r.change < 0), key=lambda r: r.change)[:n]
    return best, worst


def trend(kind: str, unit_id: int, months: list[date]) -> dict[date, Counts]:
    return stats.counts_by_month(kind, months, unit_ids=[unit_id])


def report_sentences(city, month: date, labels: dict[str, str]) -> list[str]:
    """What changed city-wide, in the seed's words ("resolution rate rose from A% to B%")."""
    now = stats.counts_by_unit("city", [month], unit_ids=[city.pk]).get(city.pk, Counts())
    before = stats.counts_by_unit("city", [stats.previous_month(month)], unit_ids=[city.pk]).get(
        city.pk, Counts()
    )
    return [
        rates.describe_change(
            labels[name], rates.RATE_FUNCTIONS[name](before), rates.RATE_FUNCTIONS[name](now)
        )
        for name in ("response", "resolution", "satisfaction")
    ]
