"""Leaders' pages: the dashboard, rankings, a unit's trend and the monthly report."""

from __future__ import annotations

import io
from datetime import date, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cityloop.brain import queries as brain_queries
from cityloop.core import permissions
from cityloop.core.doors import charts
from cityloop.core.permissions import Role
from cityloop.hotline.apps import RANKINGS_DENIED
from cityloop.hotline.performance import brief as leader_brief
from cityloop.hotline.performance import focus, leaders, rates, stats
from cityloop.hotline.templatetags.rate_format import pct, pp
from cityloop.org.queries import default_city

RATE_LABELS = {
    "response": gettext_lazy("response rate"),
    "resolution": gettext_lazy("resolution rate"),
    "satisfaction": gettext_lazy("satisfaction rate"),
    "overdue": gettext_lazy("overdue rate"),
    "returned": gettext_lazy("returned-order rate"),
}
THREE_RATES = ("response", "resolution", "satisfaction")
LEVEL_LABELS = {
    "district": gettext_lazy("Districts"),
    "street": gettext_lazy("Streets"),
    "community": gettext_lazy("Communities"),
    "department": gettext_lazy("Departments"),
}


# Who may open each page is declared in HotlineConfig.ready() (leaders:dashboard, :rankings, :report);
# a unit's ranking and trend pages, not in the menu, take the rankings' rule.
staff_page = permissions.page(permissions.STAFF, denied=RANKINGS_DENIED)


def _month(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        year, month = (int(p) for p in value.split("-"))
        return date(year, month, 1)
    except ValueError:
        return default


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def describe_change(label: str, before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return _("%(label)s: not enough data to compare") % {"label": label}
    values = {"label": label, "before": f"{before:.2%}", "after": f"{after:.2%}"}
    if after > before:
        return _("%(label)s rose from %(before)s to %(after)s") % values
    if after < before:
        return _("%(label)s fell from %(before)s to %(after)s") % values
    return _("%(label)s held at %(after)s") % values


def _city_or_404():
    city = default_city()
    if city is None:
        raise Http404("no city has been imported")
    return city


def _month_end(month: date) -> date:
    return stats.next_month(month) - timedelta(days=1)


@permissions.page("leaders:dashboard")
def dashboard(request):
    """The city's figures, a map that drills down (districts → a district's streets → a street's
    requests on the search page), the open sensor alarms over it on request, and 12 months' trend."""
    city = _city_or_404()
    latest = leaders.latest_month()
    last = _month(request.GET.get("to"), latest)
    first = _month(request.GET.get("from"), last)
    if first > last:
        first, last = last, first
    rate = request.GET.get("rate") if request.GET.get("rate") in rates.RATE_FUNCTIONS else "satisfaction"
    districts = {d.pk: d for d in leaders.districts(city)}
    district_id = _int(request.GET.get("district"))
    district = districts.get(district_id) if district_id else None
    district_id = district.pk if district else None  # a district of another city or none: the city
    category_id = _int(request.GET.get("category"))
    show_alarms = request.GET.get("alarms") == "1"
    kept = {
        "from": f"{first:%Y-%m}",
        "to": f"{last:%Y-%m}",
        "category": category_id or "",
        "rate": rate,
        "alarms": "1" if show_alarms else "",
    }
    kept = {k: v for k, v in kept.items() if v}
    here = reverse("leaders:dashboard")
    categories = {c.pk: c for c in leaders.top_categories(city)}
    # the search page shows each person only the requests they may see (hotline.queries.requests_for)
    search = reverse("hotline:search")

    def link(level: str, unit) -> str:
        if level == "district":
            return f"{here}?{urlencode({**kept, 'district': unit.pk})}"
        query = {
            "street": street_codes.get(unit.pk, ""),
            "since": f"{first:%Y-%m-%d}",
            "until": f"{_month_end(last):%Y-%m-%d}",
            "category": categories[category_id].code if category_id in categories else "",
        }
        return f"{search}?{urlencode({k: v for k, v in query.items() if v})}"

    street_codes = leaders.street_codes(city, district_id) if district_id else {}
    alarms = brain_queries.alarm_positions(request.user, district_id=district_id) if show_alarms else None
    may_see_devices = brain_queries.can_see_brain(request.user)
    alarm_types = dict(brain_queries.ALARM_TYPES)
    data = leaders.dashboard(
        city,
        months=leaders.month_list(first, last),
        district_id=district_id,
        category_id=category_id,
        rate=rate,
        rate_label=str(RATE_LABELS[rate]),
        no_data=_("no data"),
        link=link,
        alarms=alarms,
        alarm_label=lambda a: " · ".join(
            p for p in (a["code"], str(alarm_types.get(a["type"], a["type"])), a["tracking_no"]) if p
        ),
        alarm_link=lambda a: reverse("brain:device", args=[a["code"]]) if may_see_devices else "",
        texts={
            "scale_note": _("Dark red: the worst; hatched: no data"),
            "marker_key": _("open sensor alarm"),
        },
    )
    running = timezone.localdate().replace(day=1)
    trend_end = last if last < running else stats.previous_month(running)
    trend = leaders.dashboard_trend(
        city, leaders.last_months(trend_end, 12), district_id=district_id, category_id=category_id
    )
    labels = [f"{t.month:%Y-%m}" for t in trend]
    volume_chart = charts.line_chart(
        {str(_("requests received")): [t.counts.received for t in trend]},
        labels,
        title=_("Requests received per month"),
        # counts: at least 0-4, so that the quarters of the axis are whole requests
        y_max=max(4.0, charts.nice_ceiling(max(t.counts.received for t in trend))),
        fmt=lambda v: f"{v:,.0f}",
        y_label=_("requests"),
    )
    rates_chart = charts.line_chart(
        {str(RATE_LABELS[n]): [t.rates[n] for t in trend] for n in THREE_RATES},
        labels,
        title=_("The three rates per month"),
        y_label="%",
    )
    return render(
        request,
        "hotline/leaders/dashboard.html",
        {
            "data": data,
            "first": first,
            "last": last,
            "rate_labels": RATE_LABELS,
            "city": city,
            "district": district,
            "city_link": f"{here}?{urlencode(kept)}" if kept else here,
            "selected_district": district_id,
            "selected_category": category_id,
            "show_alarms": show_alarms,
            "months": stats.months_with_data(),
            "trend": trend,
            "volume_chart": volume_chart,
            "rates_chart": rates_chart,
        },
    )


@permissions.page("leaders:rankings")
def rankings(request):
    """The menu's entry: a street official starts at the streets, department staff at the departments."""
    kind = "department" if request.user.role == Role.DEPARTMENT else "street"
    return redirect("leaders:ranking", kind)


@staff_page
def ranking(request, kind: str):
    if kind not in leaders.LEVELS:
        raise Http404
    city = _city_or_404()
    month = _month(request.GET.get("month"), leaders.latest_month())
    district_id, category_id = _int(request.GET.get("district")), _int(request.GET.get("category"))
    rows = leaders.ranking(kind, month, city, district_id=district_id, category_id=category_id)
    best, worst = leaders.movers(rows)
    if request.GET.get("format") == "xlsx":
        return _xlsx({str(LEVEL_LABELS[kind]): rows}, f"ranking-{kind}-{month:%Y-%m}.xlsx")
    query = {
        k: v
        for k, v in (
            ("month", f"{month:%Y-%m}"),
            ("district", district_id or ""),
            ("category", category_id or ""),
        )
        if v
    }
    return render(
        request,
        "hotline/leaders/ranking.html",
        {
            "rows": rows,
            "body": rank_rows_html(rows, kind),
            "rank_min_received": settings.HOTLINE["rank_min_received"],
            "kind": kind,
            "month": month,
            "best": best,
            "worst": worst,
            "levels": LEVEL_LABELS,
            "months": stats.months_with_data(),
            "previous": stats.previous_month(month),
            "districts": leaders.districts(city),
            "categories": leaders.top_categories(city),
            "selected_district": district_id,
            "selected_category": category_id,
            "query": urlencode(query),
            "weights": settings.HOTLINE["score_weights"],
            "assessment_weight": settings.HOTLINE["assessment_weight"],
            "reply_quality_weight": settings.HOTLINE["reply_quality_weight"],
        },
    )


@staff_page
def unit_trend(request, kind: str, pk: int):
    if kind not in leaders.LEVELS:
        raise Http404
    city = _city_or_404()
    unit = leaders.units(kind, city).get(pk)
    if unit is None:
        raise Http404
    months = leaders.last_months(leaders.latest_month(), 12)
    by_month = leaders.trend(kind, pk, months)
    series = {
        str(RATE_LABELS[name]): [
            rates.RATE_FUNCTIONS[name](by_month[m]) if m in by_month else None for m in months
        ]
        for name in ("response", "resolution", "satisfaction")
    }
    assessed = leaders.assessment_trend(pk, months) if kind == "department" else {}
    if assessed:
        series[str(_("streets' assessment"))] = [assessed.get(m) for m in months]
    labels = [f"{m:%Y-%m}" for m in months]
    chart = charts.line_chart(series, labels, title=str(unit.label), y_label="%")
    received: list[float | None] = [by_month[m].received if m in by_month else 0 for m in months]
    volume_chart = charts.line_chart(
        {str(_("requests received")): received},
        labels,
        title=_("Requests received per month"),
        y_max=max(4.0, charts.nice_ceiling(max(v or 0 for v in received))),
        fmt=lambda v: f"{v:,.0f}",
        y_label=_("requests"),
    )
    table = [
        (m, by_month.get(m), rates.rates(by_month[m]) if m in by_month else {}, assessed.get(m))
        for m in months
    ]
    return render(
        request,
        "hotline/leaders/trend.html",
        {
            "unit": unit,
            "kind": kind,
            "chart": chart,
            "volume_chart": volume_chart,
            "table": table,
            "levels": LEVEL_LABELS,
        },
    )


@permissions.page("leaders:report")
def monthly_report(request):
    city = _city_or_404()
    month = _month(request.GET.get("month"), leaders.latest_month())
    previous = stats.previous_month(month)
    now = stats.counts_by_unit("city", [month], unit_ids=[city.pk]).get(city.pk, rates.Counts())
    before = stats.counts_by_unit("city", [previous], unit_ids=[city.pk]).get(city.pk, rates.Counts())
    sentences = [
        describe_change(
            str(RATE_LABELS[name]), rates.RATE_FUNCTIONS[name](before), rates.RATE_FUNCTIONS[name](now)
        )
        for name in ("response", "resolution", "satisfaction")
    ]
    tables = {kind: leaders.ranking(kind, month, city) for kind in ("district", "street", "department")}
    streets = focus.focus_list(city, month)
    if request.GET.get("format") == "xlsx":
        return _xlsx(
            {str(LEVEL_LABELS[k]): v for k, v in tables.items()},
            f"cityloop-report-{month:%Y-%m}.xlsx",
            summary=sentences,
            focus_list=streets,
        )
    movers = {kind: leaders.movers(rows) for kind, rows in tables.items()}
    tables = [(kind, rows, rank_rows_html(rows[:20], kind)) for kind, rows in tables.items()]
    return render(
        request,
        "hotline/leaders/report.html",
        {
            "month": month,
            "previous": previous,
            "sentences": sentences,
            "now": now,
            "before": before,
            "tables": tables,
            "movers": movers,
            "rank_min_received": settings.HOTLINE["rank_min_received"],
            "reply_quality_weight": settings.HOTLINE["reply_quality_weight"],
            "levels": LEVEL_LABELS,
            "city": city,
            "months": stats.months_with_data(),
            "focus": streets,
        },
    )


@permissions.page("leaders:governance-streets")
def governance_streets(request):
    """治理类街乡: the month's streets with the most requests per 10,000 residents (performance/focus.py)."""
    city = _city_or_404()
    month = _month(request.GET.get("month"), leaders.latest_month())
    districts = leaders.districts(city)
    district_id = _int(request.GET.get("district"))
    if district_id not in {d.pk for d in districts}:
        district_id = None
    return render(
        request,
        "hotline/leaders/governance_streets.html",
        {
            "city": city,
            "month": month,
            "months": stats.months_with_data(),
            "districts": districts,
            "selected_district": district_id,
            "focus": focus.focus_list(city, month, district_id=district_id),
        },
    )


@permissions.page("leaders:brief")
def brief(request):
    """The leader's one-page brief: a month (and a district) against the city's targets; ?format=pdf for
    the A4 PDF, or the page itself printed (its print stylesheet keeps it to one A4 page)."""
    city = _city_or_404()
    month = _month(request.GET.get("month"), leaders.latest_month())
    districts = leaders.districts(city)
    district_id = _int(request.GET.get("district"))
    if district_id not in {d.pk for d in districts}:
        district_id = None
    data = leader_brief.build(city, month, district_id=district_id)
    if request.GET.get("format") == "pdf":
        from cityloop.hotline.performance import brief_pdf

        body = brief_pdf.render(data, rate_labels={k: str(v) for k, v in RATE_LABELS.items()})
        response = HttpResponse(body, content_type="application/pdf")
        place = f"-{data.district.code}" if data.district else ""
        response["Content-Disposition"] = f'inline; filename="cityloop-brief-{month:%Y-%m}{place}.pdf"'
        return response
    query = urlencode({k: v for k, v in (("month", f"{month:%Y-%m}"), ("district", district_id or "")) if v})
    return render(
        request,
        "hotline/leaders/brief.html",
        {
            "brief": data,
            "city": city,
            "month": month,
            "months": stats.months_with_data(),
            "districts": districts,
            "selected_district": district_id,
            "rate_labels": RATE_LABELS,
            "query": query,
            "focus": data.focus,
        },
    )


def rank_rows_html(rows, kind: str):
    """The ranking table's rows, built in Python: hundreds of rows through the template engine cost ~100
    ms."""
    quality = bool(settings.HOTLINE["reply_quality_weight"])
    trend = reverse("leaders:trend", args=[kind, 0])[:-2]  # ".../units/<kind>/" — the pk goes after
    cells = ("response", "resolution", "satisfaction", "overdue", "returned")
    return format_html_join(
        "\n",
        '<tr><td>{}</td><td><a href="{}{}/">{}</a></td><td>{}</td>{}<td><strong>{}</strong>'
        "</td><td>{}</td><td>{}</td></tr>",
        (
            (
                row.rank or "—",
                trend,
                row.unit.pk,
                row.unit.label,
                row.counts.received,
                format_html_join(
                    "",
                    "<td>{}</td>",
                    [(pct(row.rates[name]),) for name in cells]
                    + ([(pct(row.assessment),)] if kind == "department" else [])
                    + ([(pct(row.reply_quality),)] if quality else []),
                ),
                pct(row.score),
                row.previous_rank or "—",
                pp(row.change),
            )
            for row in rows
        ),
    )


def _pct(value):
    return None if value is None else round(value * 100, 2)


def _focus_sheet(book, streets: focus.FocusList) -> None:
    sheet = book.create_sheet(_("Streets for focused governance")[:31])
    if streets.population_note:
        prefix = (
            _("The population figures are illustrative, not real.") if streets.population_illustrative else ""
        )
        sheet.append([f"{prefix} {streets.population_note}".strip()])
    sheet.append(
        [
            _("Rank"),
            _("Street"),
            _("District"),
            _("Population"),
            _("Requests"),
            _("Last month's requests"),
            _("Per 10,000 residents"),
            _("Change from last month"),
            _("Response rate %"),
            _("Resolution rate %"),
            _("Satisfaction rate %"),
            _("Listed last month"),
        ]
    )
    for row in [*streets.listed, *streets.no_population]:
        sheet.append(
            [
                row.rank,
                str(row.street),
                str(row.district) if row.district else "",
                row.population,
                row.received,
                row.previous.received,
                round(row.per_10k, 2) if row.per_10k is not None else _("no population"),
                round(row.per_10k_change, 2) if row.per_10k_change is not None else None,
                *[_pct(value) for value in row.rates.values()],
                (_("yes") if row.listed_before else _("no")) if row.rank else None,
            ]
        )


def _xlsx(
    sheets: dict[str, list],
    filename: str,
    *,
    summary: list[str] | None = None,
    focus_list: focus.FocusList | None = None,
) -> HttpResponse:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    if summary:
        sheet = book.create_sheet(_("Summary"))
        for line in summary:
            sheet.append([line])
    header = [
        _("Rank"),
        _("Unit"),
        _("Received"),
        _("Response rate %"),
        _("Resolution rate %"),
        _("Satisfaction rate %"),
        _("Overdue rate %"),
        _("Returned-order rate %"),
        _("Score"),
        _("Last month's rank"),
        _("Change"),
    ]
    for title, rows in sheets.items():
        sheet = book.create_sheet(title[:31])
        sheet.append(header)
        for row in rows:
            sheet.append(
                [
                    row.rank,
                    str(row.unit),
                    row.counts.received,
                    _pct(row.rates["response"]),
                    _pct(row.rates["resolution"]),
                    _pct(row.rates["satisfaction"]),
                    _pct(row.rates["overdue"]),
                    _pct(row.rates["returned"]),
                    _pct(row.score),
                    row.previous_rank,
                    _pct(row.change),
                ]
            )
    if focus_list is not None:
        _focus_sheet(book, focus_list)
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
