"""The writes of 未诉先办: a governance task made from a hot issue, and the early warnings."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cityloop.core import audit, permissions
from cityloop.core.actors import Actor, signed_in
from cityloop.core.permissions import Role
from cityloop.hotline.models import GovernanceTask, HotIssueWarning, Request
from cityloop.notify import actions as notify
from cityloop.notify import recipients

# who may set the city's governance tasks: the leaders and the dispatch centre (admins too)
TASK_SETTERS = frozenset({Role.LEADER, Role.DISPATCHER, Role.ADMIN})


@transaction.atomic
def create_governance_task(
    *,
    city,
    theme: str,
    place_key: str,
    words: list[str],
    departments: list,
    measures: str,
    reduction_pct: int,
    baseline_month: date,
    deadline: date,
    district=None,
    first_request: Request | None = None,
    actor: Actor,
) -> GovernanceTask:
    """每月一题: give a hot issue's theme to responsible units with measures, a target and a deadline."""
    if not permissions.has_role(actor, TASK_SETTERS):
        raise PermissionDenied("only leaders and the dispatch centre set governance tasks")
    errors = {}
    if not (theme or "").strip():
        errors["theme"] = gettext_lazy("name the theme")
    if not (place_key or "").strip():
        errors["place_key"] = gettext_lazy("name the place whose requests the task counts")
    if not departments:
        errors["departments"] = gettext_lazy("name at least one responsible unit")
    elif any(d.city_id != city.pk for d in departments):
        errors["departments"] = gettext_lazy("every unit must belong to this city")
    if not (measures or "").strip():
        errors["measures"] = gettext_lazy("say what the units will do")
    if not 1 <= reduction_pct <= 100:
        errors["reduction_pct"] = gettext_lazy("the reduction is a percentage from 1 to 100")
    today = timezone.localdate()
    if deadline <= today:
        errors["deadline"] = gettext_lazy("the deadline must be in the future")
    if baseline_month.day != 1 or baseline_month > today:
        errors["baseline_month"] = gettext_lazy("the baseline is a month that has begun")
    if errors:
        raise ValidationError(errors)
    task = GovernanceTask.objects.create(
        city=city,
        district=district,
        theme=theme.strip(),
        place_key=place_key.strip(),
        words=[w.strip() for w in words if w.strip()],
        measures=measures.strip(),
        reduction_pct=reduction_pct,
        baseline_month=baseline_month,
        deadline=deadline,
        first_request=first_request,
        created_by=signed_in(actor),
        created_at=timezone.now(),
    )
    task.departments.set(departments)
    audit.record(
        actor,
        "governance_task.create",
        task,
        after={
            "theme": task.theme,
            "place": task.place_key,
            "words": task.words,
            "departments": sorted(d.pk for d in departments),
            "reduction_pct": reduction_pct,
            "baseline_month": f"{baseline_month:%Y-%m}",
            "deadline": deadline.isoformat(),
        },
    )
    return task


def warn_hot_issues(issues, *, actor: Actor) -> list[HotIssueWarning]:
    """Tell the dispatch centre and the city's leaders about each growing issue not warned about before.

    An issue is growing when ``heat.warns()`` says so at the end of the run (``HotIssue.warns_now``);
    it was warned about before when it shares a request with an earlier warning (as the window moves
    an issue's first request changes, its requests stay). The outbox key makes a second run queue
    nothing, even when two runs overlap.
    """
    growing = [i for i in issues if i.warns_now]
    if not growing:
        return []
    warned: set[int] = set()
    for ids in HotIssueWarning.objects.values_list("request_ids", flat=True):
        warned.update(ids)
    out = []
    for issue in growing:
        if warned & set(issue.request_ids):
            continue
        with transaction.atomic():
            warning, created = HotIssueWarning.objects.get_or_create(
                key=str(issue.key),
                defaults={
                    "label": issue.label[:200],
                    "description": issue.description[:300],
                    "callers": issue.callers,
                    "messages": issue.messages,
                    "request_ids": list(issue.request_ids),
                    "warned_at": timezone.now(),
                },
            )
            if not created:
                continue
            audit.record(actor, "hotissue.warn", warning, after={"callers": issue.callers})
            notify.queue(
                "hotissue.warning",
                recipients.dispatchers() + recipients.leaders(),
                {
                    "place": issue.label or issue.description[:40],
                    "description": issue.description,
                    "callers": issue.callers,
                    "messages": issue.messages,
                    "link": f"/leaders/hot-issues/{issue.key}/",
                },
                about=("hotissue", str(issue.key)),
                link=f"/leaders/hot-issues/{issue.key}/",
                key=f"hotissue:{issue.key}",
            )
        warned.update(issue.request_ids)
        out.append(warning)
    return out
