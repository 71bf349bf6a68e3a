"""吹哨报到 pages: streets blow whistles and rate; departments report in; dispatchers arbitrate disputes.

Pages never write: the scheduler (``cityloop scheduler``) records missed report-ins. A deadline
that passed since it last ran already shows as missed, because the state is read from the deadline.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cityloop.core import permissions
from cityloop.core.doors.forms import apply_errors, run_action
from cityloop.core.permissions import Role
from cityloop.hotline import actions
from cityloop.hotline.models import Request, Summons, Whistle
from cityloop.hotline.performance import stats
from cityloop.hotline.views_common import current_city, timer
from cityloop.hotline.whistles import queries as reads
from cityloop.hotline.whistles.actions import report_in_due
from cityloop.org import queries as org_queries

REPORT_STATES = {
    "on_time": gettext_lazy("Reported in on time"),
    "late": gettext_lazy("Reported in late"),
    "missed": gettext_lazy("Missed the report-in deadline"),
    "disputed": gettext_lazy("Disputed, awaiting arbitration"),
    "released": gettext_lazy("Released by arbitration"),
    "waiting": gettext_lazy("Awaiting report-in"),
}
TASK_STATES = {"done": gettext_lazy("Task done"), "working": gettext_lazy("Task in progress"), "none": "—"}
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


def _when(**kwargs) -> forms.DateTimeField:
    return forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE), **kwargs
    )


class BlowForm(forms.Form):
    request = forms.TypedChoiceField(
        label=gettext_lazy("Case"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=gettext_lazy("One of this street's open cases, or none for a problem found on patrol."),
    )
    title = forms.CharField(label=gettext_lazy("Problem"), max_length=200)
    need = forms.CharField(
        label=gettext_lazy("What is needed from the departments"), widget=forms.Textarea(attrs={"rows": 3})
    )
    departments = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Departments summoned"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    urgent = forms.BooleanField(label=gettext_lazy("Urgent"), required=False)
    report_due = _when(label=gettext_lazy("Report-in deadline"), required=False)
    finish_due = _when(label=gettext_lazy("Finish deadline"))

    def __init__(self, *args, street, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["request"].choices = [("", _("None: found on patrol"))] + [
            (r.pk, f"{r.tracking_no} · {r.title[:40]}") for r in reads.open_requests_of(street)
        ]
        self.fields["departments"].choices = [
            (d.pk, d.label) for d in org_queries.departments(street.city).order_by("code")
        ]
        now = timezone.now()
        urgent, normal = (
            timezone.localtime(report_in_due(now, urgent=u, city=street.city)) for u in (True, False)
        )
        self.fields["report_due"].help_text = _(
            "Leave empty for the default: %(urgent)s if urgent (30 minutes), %(normal)s otherwise (24 hours)."
        ) % {"urgent": urgent.strftime("%Y-%m-%d %H:%M"), "normal": normal.strftime("%Y-%m-%d %H:%M")}


class ReportInForm(forms.Form):
    responsible_person = forms.CharField(label=gettext_lazy("Person responsible"), max_length=100)


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why this is not for your department"), widget=forms.Textarea(attrs={"rows": 2})
    )


class TaskDoneForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("What was done"), widget=forms.Textarea(attrs={"rows": 2}))


class RateForm(forms.Form):
    score = forms.TypedChoiceField(
        label=gettext_lazy("Rating"),
        coerce=int,
        widget=forms.RadioSelect,
        choices=[(i, str(i)) for i in range(1, 6)],
    )
    comment = forms.CharField(label=gettext_lazy("Comment"), required=False, max_length=500)


class ArbitrateForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Arbitration decision"),
        widget=forms.RadioSelect,
        choices=[
            ("uphold", gettext_lazy("Uphold the dispute: release the department")),
            ("reject", gettext_lazy("Reject the dispute: the department must report in")),
        ],
    )
    note = forms.CharField(
        label=gettext_lazy("Reason for the decision"), widget=forms.Textarea(attrs={"rows": 2})
    )


class AssessmentForm(forms.Form):
    month = forms.CharField(widget=forms.HiddenInput)
    department = forms.TypedChoiceField(label=gettext_lazy("Department"), coerce=int)
    score = forms.IntegerField(label=gettext_lazy("Score (0-100)"))
    comment = forms.CharField(
        label=gettext_lazy("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [(d.pk, d.label) for d in departments]


street_page = permissions.page(lambda u: u.role == Role.STREET and u.street_id is not None)
department_page = permissions.page(lambda u: u.role == Role.DEPARTMENT and u.department_id is not None)
dispatcher_page = permissions.page(permissions.DISPATCH)


def _summons_rows(summonses, now, bound=None):
    rows = []
    for s in summonses:
        row = {
            "s": s,
            "state": reads.report_in_state(s, now),
            "task": reads.task_state(s),
            "timer": timer(s.whistle.report_due, now) if s.status == "summoned" else None,
            "forms": {
                "report": ReportInForm(prefix=f"r{s.pk}"),
                "dispute": DisputeForm(prefix=f"d{s.pk}"),
                "done": TaskDoneForm(prefix=f"t{s.pk}"),
                "rate": RateForm(prefix=f"s{s.pk}"),
            },
        }
        row["state_label"], row["task_label"] = REPORT_STATES[row["state"]], TASK_STATES[row["task"]]
        if bound and bound[0] == s.pk:
            row["forms"][bound[1]] = bound[2]
        rows.append(row)
    return rows


# -- streets ---------------------------------------------------------------------------------------


@street_page
def street_whistles(request, bound=None, status=200):
    now = timezone.now()
    cards = [
        {
            "w": w,
            "timer": timer(w.finish_due, now) if w.status == "open" else None,
            "rows": _summons_rows(w.summonses.all(), now, bound),
        }
        for w in reads.whistles_of(request.user.street)
    ]
    return render(
        request,
        "hotline/whistles/street.html",
        {"cards": cards, "street": request.user.street},
        status=status,
    )


@street_page
def blow(request):
    street = request.user.street
    initial = {"request": request.GET.get("request")} if request.GET.get("request", "").isdigit() else {}
    # a hot issue's page links here with its problem filled in (hotissues/views.py)
    initial.update(
        {k: request.GET[k][:limit] for k, limit in (("title", 200), ("need", 2000)) if request.GET.get(k)}
    )
    form = BlowForm(request.POST or None, street=street, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        case = Request.objects.filter(pk=data["request"]).first() if data["request"] else None
        departments = list(org_queries.departments(pk__in=data["departments"]))
        done = run_action(
            lambda: actions.blow_whistle(
                street=street,
                departments=departments,
                title=data["title"],
                need=data["need"],
                urgent=data["urgent"],
                finish_due=data["finish_due"],
                report_due=data["report_due"],
                request=case,
                actor=request.user,
            ),
            form=form,
        )
        if done:
            whistle = done.result
            messages.success(
                request,
                _("Whistle blown: %(n)d department(s) must report in by %(due)s.")
                % {
                    "n": len(departments),
                    "due": timezone.localtime(whistle.report_due).strftime("%Y-%m-%d %H:%M"),
                },
            )
            return redirect("whistles:street")
    return render(
        request,
        "hotline/whistles/blow.html",
        {"form": form, "street": street},
        status=400 if form.errors else 200,
    )


@require_POST
@street_page
def close(request, pk: int):
    whistle = get_object_or_404(Whistle, pk=pk)
    try:
        actions.close_whistle(whistle, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(
                request,
                _(message)
                if ":" not in message
                else _("Not every department has finished: %(names)s") % {"names": message.split(": ", 1)[1]},
            )
    else:
        messages.success(request, _("Whistle closed. Rate each department that reported in."))
    return redirect("whistles:street")


@require_POST
@street_page
def rate(request, pk: int):
    summons = get_object_or_404(Summons.objects.select_related("whistle", "whistle__street"), pk=pk)
    form = RateForm(request.POST, prefix=f"s{pk}")
    if form.is_valid():
        try:
            actions.rate_department(
                summons,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                actor=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, _renamed(exc, {"rating": "score"}))
        else:
            messages.success(request, _("Rating saved."))
            return redirect("whistles:street")
    return street_whistles(request, bound=(pk, "rate", form), status=400)


def _renamed(exc: ValidationError, names: dict[str, str]) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError({names.get(k, k): v for k, v in exc.message_dict.items()})


def _month_choices(today: date, n: int = 3) -> list[date]:
    months, month = [], today.replace(day=1)
    for _i in range(n):
        months.append(month)
        month = stats.previous_month(month)
    return months


@street_page
def assess(request):
    street = request.user.street
    choices = _month_choices(timezone.localdate())
    wanted = request.POST.get("month") or request.GET.get("month") or ""
    month = next((m for m in choices if f"{m:%Y-%m}" == wanted), choices[0])
    departments = reads.departments_serving(street, month)
    form = AssessmentForm(request.POST or None, departments=departments, initial={"month": f"{month:%Y-%m}"})
    if request.method == "POST" and form.is_valid():
        department = next(d for d in departments if d.pk == form.cleaned_data["department"])
        done = run_action(
            lambda: actions.assess_department(
                street=street,
                department=department,
                month=month,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                actor=request.user,
            ),
            form=form,
        )
        if done:
            messages.success(
                request,
                _("Assessment of %(dept)s for %(month)s saved.")
                % {"dept": department.label, "month": f"{month:%Y-%m}"},
            )
            return redirect(f"{request.path}?month={month:%Y-%m}")
    done = reads.assessments_of(street, month)
    return render(
        request,
        "hotline/whistles/assess.html",
        {
            "form": form,
            "month": month,
            "months": choices,
            "street": street,
            "rows": [(d, done.get(d.pk)) for d in departments],
        },
        status=400 if form.errors else 200,
    )


# -- departments -----------------------------------------------------------------------------------


@department_page
def summonses(request, bound=None, status=200):
    now = timezone.now()
    rows = _summons_rows(reads.summonses_of(request.user.department), now, bound)
    return render(
        request,
        "hotline/whistles/summonses.html",
        {"rows": rows, "department": request.user.department},
        status=status,
    )


DEPARTMENT_STEPS = {
    "report": (
        ReportInForm,
        "r",
        lambda s, d, u: actions.report_in(s, responsible_person=d["responsible_person"], actor=u),
        gettext_lazy("Reported in."),
    ),
    "dispute": (
        DisputeForm,
        "d",
        lambda s, d, u: actions.dispute_summons(s, reason=d["reason"], actor=u),
        gettext_lazy("Dispute sent to the city dispatcher."),
    ),
    "done": (
        TaskDoneForm,
        "t",
        lambda s, d, u: actions.complete_task(s, note=d["note"], actor=u),
        gettext_lazy("Task marked done."),
    ),
}


@require_POST
@department_page
def summons_step(request, pk: int, step: str):
    if step not in DEPARTMENT_STEPS:
        raise PermissionDenied("unknown step")
    summons = get_object_or_404(Summons.objects.select_related("whistle"), pk=pk)
    form_class, prefix, act, done = DEPARTMENT_STEPS[step]
    form = form_class(request.POST, prefix=f"{prefix}{pk}")
    if form.is_valid():
        outcome = run_action(lambda: act(summons, form.cleaned_data, request.user), form=form)
        if outcome:
            messages.success(request, done)
            return redirect("whistles:summonses")
    return summonses(request, bound=(pk, step, form), status=400)


# -- dispatchers -----------------------------------------------------------------------------------


@dispatcher_page
def disputes(request, bound=None, status=200):
    rows = [
        (s, bound[1] if bound and bound[0] == s.pk else ArbitrateForm(prefix=f"a{s.pk}"))
        for s in reads.disputed_summonses(current_city())
    ]
    return render(request, "hotline/whistles/disputes.html", {"rows": rows}, status=status)


@require_POST
@dispatcher_page
def arbitrate(request, pk: int):
    summons = get_object_or_404(Summons.objects.select_related("whistle", "department"), pk=pk)
    form = ArbitrateForm(request.POST, prefix=f"a{pk}")
    if form.is_valid():
        done = run_action(
            lambda: actions.arbitrate_dispute(
                summons,
                uphold=form.cleaned_data["decision"] == "uphold",
                note=form.cleaned_data["note"],
                actor=request.user,
            ),
            form=form,
        )
        if done:
            messages.success(
                request, _("Decision recorded for %(dept)s.") % {"dept": summons.department.label}
            )
            return redirect("whistles:disputes")
    return disputes(request, bound=(pk, form), status=400)
