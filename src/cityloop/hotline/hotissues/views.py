"""未诉先办 pages: the hot issues of the city's intake, one issue's messages, and the governance tasks.

Who may open them is declared in HotlineConfig.ready() (leaders:hot-issues, leaders:governance-tasks);
making a governance task is the leaders' and the dispatch centre's (hotissues.actions.TASK_SETTERS).
The pages never run the engine's writes: the early warnings are the scheduler's
(``hotline.hot_issue_warnings``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cityloop.core import permissions
from cityloop.core.doors import charts
from cityloop.core.doors.forms import run_action
from cityloop.hotline.hotissues import actions, governance, live
from cityloop.hotline.models import GovernanceTask, HotIssueWarning, Request
from cityloop.hotline.performance import leaders
from cityloop.hotline.views_common import current_city
from cityloop.org import queries as org_queries

DEFAULT_DAYS = live.RECENT_DAYS  # the warning job keeps this period warm in the cache
WARNINGS_SHOWN = 20
task_setter_page = permissions.page(
    actions.TASK_SETTERS, denied="only leaders and the dispatch centre set governance tasks"
)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _period(request) -> tuple[date, date, int | None]:
    today = timezone.localdate()
    last = _day(request.GET.get("to")) or today
    first = _day(request.GET.get("from")) or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    district = request.GET.get("district", "")
    return first, last, int(district) if district.isdigit() else None


def _query(first: date, last: date, district_id: int | None) -> str:
    pairs = [("from", first.isoformat()), ("to", last.isoformat())]
    if district_id:
        pairs.append(("district", str(district_id)))
    return urlencode(pairs)


def _chart(issue, first: date, last: date, *, small: bool):
    labels, counts = live.timeline(issue, first, last)
    return charts.line_chart(
        {str(_("requests")): counts},
        labels,
        title=str(_("Requests per day"))
        if len(labels) == (last - first).days + 1
        else str(_("Requests per week")),
        width=320 if small else 640,
        height=120 if small else 220,
        y_max=None,
        fmt=lambda v: f"{v:.0f}",
    )


def _responsible(category_ids) -> dict[int, Any]:
    """category pk → the department answerable for it (the responsibility list, org.queries)."""
    out = {}
    for category in org_queries.categories(pk__in=[c for c in set(category_ids) if c]):
        row = org_queries.responsibility_for(category)
        out[category.pk] = row.department if row is not None else None
    return out


@permissions.page("leaders:hot-issues")
def hot_issues(request):
    city = current_city()
    first, last, district_id = _period(request)
    issues = live.hot_issues(first, last, district_id)
    units = _responsible(i.category_id for i in issues)
    categories = {
        c.pk: c for c in org_queries.categories(pk__in=[i.category_id for i in issues if i.category_id])
    }
    rows = [
        {
            "issue": issue,
            "chart": _chart(issue, first, last, small=True),
            "category": categories.get(issue.category_id),
            "unit": units.get(issue.category_id),
        }
        for issue in issues
    ]
    warnings = list(HotIssueWarning.objects.order_by("-warned_at")[:WARNINGS_SHOWN])
    return render(
        request,
        "hotline/hotissues/list.html",
        {
            "city": city,
            "rows": rows,
            "first": first,
            "last": last,
            "query": _query(first, last, district_id),
            "districts": leaders.districts(city),
            "selected_district": district_id,
            "warnings": warnings,
            "can_set_tasks": permissions.has_role(request.user, actions.TASK_SETTERS),
        },
    )


def _issue_or_404(request, pk: int):
    first, last, district_id = _period(request)
    issue = live.find_issue(first, last, district_id, pk)
    if issue is None:
        raise Http404("no hot issue in this period holds this request")
    return issue, first, last, district_id


@permissions.page("leaders:hot-issues")
def hot_issue(request, pk: int):
    issue, first, last, district_id = _issue_or_404(request, pk)
    rows = list(
        Request.objects.filter(pk__in=issue.request_ids)
        .select_related("street")
        .annotate(n_supporters=Count("supporters"))
        .order_by("created_at", "pk")
    )
    unit = _responsible([issue.category_id]).get(issue.category_id) if issue.category_id else None
    category = org_queries.categories(pk=issue.category_id).first() if issue.category_id else None
    street = org_queries.place(None, pk=issue.street_id) if issue.street_id else None
    whistle = {
        "title": f"{issue.label} · {issue.description}"[:200],
        "need": _("Hot issue: %(messages)d requests from %(callers)d callers, %(first)s to %(last)s.")
        % {
            "messages": issue.messages,
            "callers": issue.callers,
            "first": f"{issue.first:%Y-%m-%d}",
            "last": f"{issue.last:%Y-%m-%d}",
        },
    }
    return render(
        request,
        "hotline/hotissues/detail.html",
        {
            "issue": issue,
            "requests": rows,
            "chart": _chart(issue, first, last, small=False),
            "unit": unit,
            "category": category,
            "street": street,
            "first": first,
            "last": last,
            "query": _query(first, last, district_id),
            "whistle_url": reverse("whistles:blow") + "?" + urlencode(whistle),
            "warning": HotIssueWarning.objects.filter(key=str(issue.key)).first(),
            "can_set_tasks": permissions.has_role(request.user, actions.TASK_SETTERS),
        },
    )


class TaskForm(forms.Form):
    theme = forms.CharField(label=gettext_lazy("Theme"), max_length=200)
    place_key = forms.CharField(
        label=gettext_lazy("Place"),
        max_length=100,
        help_text=gettext_lazy("Requests that name this place count towards the task."),
    )
    words = forms.CharField(
        label=gettext_lazy("Words"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Optional, separated by commas: a request must also contain one of them."),
    )
    departments = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Responsible units"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    measures = forms.CharField(label=gettext_lazy("Measures"), widget=forms.Textarea(attrs={"rows": 3}))
    reduction_pct = forms.IntegerField(
        label=gettext_lazy("Target: fewer matching requests by (%)"), min_value=1, max_value=100, initial=30
    )
    baseline_month = forms.CharField(
        label=gettext_lazy("Baseline month"), help_text=gettext_lazy("YYYY-MM, a month that has begun.")
    )
    deadline = forms.DateField(label=gettext_lazy("Deadline"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, city, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["departments"].choices = [
            (d.pk, d.label) for d in org_queries.departments(city).order_by("code")
        ]

    def clean_baseline_month(self) -> date:
        value = self.cleaned_data["baseline_month"].strip()
        try:
            year, month = (int(p) for p in value.split("-"))
            return date(year, month, 1)
        except ValueError:
            raise forms.ValidationError(_("Write the month as YYYY-MM, e.g. 2026-10.")) from None


@task_setter_page
def new_task(request, pk: int):
    city = current_city()
    issue, first, last, district_id = _issue_or_404(request, pk)
    today = timezone.localdate()
    unit = _responsible([issue.category_id]).get(issue.category_id) if issue.category_id else None
    # the baseline: the month the issue was busiest in, as far as this period shows it
    months = [governance.month_start(d.date()) for d in (issue.first, issue.last)]
    initial = {
        "theme": f"{issue.label}: {issue.description}"[:200] if issue.label else issue.description[:200],
        "place_key": issue.place_key,
        "departments": [unit.pk] if unit is not None else [],
        "baseline_month": f"{max(months):%Y-%m}",
        "deadline": today + timedelta(days=90),
        "reduction_pct": 30,
    }
    form = TaskForm(request.POST or None, city=city, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        done = run_action(
            lambda: actions.create_governance_task(
                city=city,
                district=org_queries.place(city, pk=district_id) if district_id else None,
                theme=data["theme"],
                place_key=data["place_key"],
                words=data["words"].replace("，", ",").split(","),
                departments=list(org_queries.departments(city, pk__in=data["departments"])),
                measures=data["measures"],
                reduction_pct=data["reduction_pct"],
                baseline_month=data["baseline_month"],
                deadline=data["deadline"],
                first_request=Request.objects.filter(pk=issue.key).first(),
                actor=request.user,
            ),
            form=form,
        )
        if done:
            messages.success(request, _("Governance task set: %(theme)s") % {"theme": done.result.theme})
            return redirect("leaders:governance-tasks")
    return render(
        request,
        "hotline/hotissues/new_task.html",
        {"form": form, "issue": issue, "query": _query(first, last, district_id)},
        status=400 if form.errors else 200,
    )


@permissions.page("leaders:governance-tasks")
def governance_tasks(request):
    current_city()
    tasks = GovernanceTask.objects.select_related("created_by", "district").prefetch_related("departments")
    rows = [{"task": t, "progress": governance.progress(t)} for t in tasks]
    return render(request, "hotline/hotissues/tasks.html", {"rows": rows})
