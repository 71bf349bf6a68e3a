"""The classifier's page (issue 16): the model in use, its history of retraining, what the dispatchers
taught it lately, and, for admins, "retrain now". Leaders read it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cityloop.core import audit, permissions, schedule
from cityloop.hotline.intake import retrain, suggest
from cityloop.hotline.models import LabelledExample
from cityloop.hotline.views_common import categories_of
from cityloop.org import queries as org_queries

RECENT_DAYS = 30
JOB = "hotline.retrain_classifier"


def _measured(runs):
    """The latest held-out figures of the model in use: its own run's if it was promoted since."""
    for run in runs:
        if run.promoted:
            return {"accuracy": run.candidate_accuracy, "macro_f1": run.candidate_macro_f1, "run": run}
        if run.current_accuracy is not None:
            return {"accuracy": run.current_accuracy, "macro_f1": run.current_macro_f1, "run": run}
    return None


def _why(run) -> tuple[str, bool]:
    """Why the run ended as it did, in the reader's language when the rule decided it; the recorded
    text (with the error's own words) otherwise. Second: whether it is the recorded text."""
    figures = {
        "acc": f"{run.candidate_accuracy or 0:.4f}",
        "cur_acc": f"{run.current_accuracy or 0:.4f}",
        "f1": f"{run.candidate_macro_f1 or 0:.4f}",
        "cur_f1": f"{run.current_macro_f1 or 0:.4f}",
    }
    if run.candidate_accuracy is None:
        if run.reason.startswith("kept: the model in use was trained outside"):
            return _(
                "the model in use was trained outside this loop, on the base data: no held-out "
                "dispatcher decision yet to judge it on"
            ), False
        return run.reason, True
    if run.promoted and run.current_accuracy is None:
        return _("no usable model was in use: the candidate is the first"), False
    if run.promoted:
        return _("accuracy %(acc)s > %(cur_acc)s, macro-F1 %(f1)s against %(cur_f1)s") % figures, False
    if run.current_accuracy is not None and run.candidate_accuracy <= run.current_accuracy:
        return _("accuracy %(acc)s is not higher than the current model's %(cur_acc)s") % figures, False
    if run.current_macro_f1 is not None:
        return (
            _("macro-F1 %(f1)s is more than %(pt)s point below the current model's %(cur_f1)s")
            % {**figures, "pt": round(retrain.MAX_F1_DROP * 100)},
            False,
        )
    return run.reason, True


@require_http_methods(["GET", "POST"])
@permissions.page("hotline:classifier")
def classifier_page(request):
    city = org_queries.default_city()  # only for the categories' names: the page works before a city
    may_retrain = permissions.has_role(request.user, permissions.ADMIN)
    if request.method == "POST":
        permissions.require(
            request.user, permissions.ADMIN, "only an administrator may retrain the classifier"
        )
        if schedule.soon(JOB):
            audit.record(request.user, "classifier.retrain_requested", None, job=JOB)
            messages.success(request, _("Retraining was queued; its run appears below when it is done."))
        else:  # no scheduler to hand it to: do it now
            run = retrain.retrain(actor=request.user, trigger="page")
            why = _why(run)[0]
            if run.promoted:
                messages.success(request, _("The new model was promoted: %(why)s") % {"why": why})
            else:
                messages.info(request, _("The model in use was kept: %(why)s") % {"why": why})
        return redirect("hotline:classifier")
    model = suggest.current_model()
    trained_at = None
    if model is not None:
        try:
            trained_at = datetime.fromisoformat(str(model.meta.get("trained_at")))
        except ValueError:
            trained_at = None
    runs = retrain.history()
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    names = {c.code: c for c in categories_of(city)} if city is not None else {}
    recent = [
        {**row, "category": names.get(row["category_code"])}
        for row in LabelledExample.objects.filter(decided_at__gte=since)
        .values("category_code")
        .annotate(n=Count("id"), changed=Count("id", filter=Q(accepted=False)))
        .order_by("-n", "category_code")
    ]
    return render(
        request,
        "hotline/classifier.html",
        {
            "model": model,
            "meta": model.meta if model is not None else {},
            "trained_at": trained_at,
            "version": suggest.model_version() if model is not None else "",
            "measured": _measured(runs),
            "runs": [(run, *_why(run)) for run in runs],
            "recent": recent,
            "recent_days": RECENT_DAYS,
            "examples_total": LabelledExample.objects.count(),
            "may_retrain": may_retrain,
            "rule_f1_pt": round(retrain.MAX_F1_DROP * 100),
            "heldout_pct": round(retrain.HELDOUT_FRACTION * 100),
            "min_rows": retrain.MIN_ROWS,
        },
    )
