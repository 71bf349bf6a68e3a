"""Reads of the services pillar, scoped to who is asking, and the permission checks actions share."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from cityloop.core import permissions
from cityloop.core import rules as time_rules
from cityloop.services import clock, rules
from cityloop.services.models import (
    Application,
    ApprovalTask,
    AppStatus,
    Bundle,
    GovRecord,
    ItemVersion,
    Rectification,
    ServiceItem,
    TaskStatus,
    VersionStatus,
    WindowDepartment,
)

CITYWIDE = {"admin", "leader", "auditor"}


def role_of(user) -> str:
    return permissions.role_of(user) or ""


def is_clerk(user) -> bool:
    """Window clerks are staff of a window department (综合窗口); administrators may act as one."""
    role = role_of(user)
    if role == "admin":
        return True
    return role == "department" and WindowDepartment.objects.filter(department_id=user.department_id).exists()


def require_clerk(user) -> None:
    if not is_clerk(user):
        raise PermissionDenied("only a window clerk may do this")


def require_applicant_or_clerk(application: Application, user) -> None:
    if user is not None and (user.pk == application.applicant_id or is_clerk(user)):
        return
    raise PermissionDenied("only the applicant or a window clerk may change this application")


def require_department_member(department, user) -> None:
    if role_of(user) == "department" and user.department_id == department.pk:
        return
    raise PermissionDenied(f"only staff of {department.name} may act on this task")


# ----------------------------------------------------------------------------- catalogue


def published_items(search: str = "") -> QuerySet[ItemVersion]:
    qs = (
        ItemVersion.objects.filter(status=VersionStatus.PUBLISHED)
        .select_related("item__department")
        .order_by("item__code")
    )
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(name_en__icontains=search)
            | Q(item__code__icontains=search)
            | Q(item__department__name__icontains=search)
        )
    return qs


def bundles() -> QuerySet[Bundle]:
    return Bundle.objects.prefetch_related("members__item").order_by("code")


def bundle_versions(bundle: Bundle) -> list[ItemVersion]:
    out = []
    for member in bundle.members.select_related("item"):
        current = member.item.current_version()
        if current is not None:
            out.append(current)
    return out


def all_items() -> QuerySet[ServiceItem]:
    return ServiceItem.objects.select_related("department").prefetch_related("versions").order_by("code")


# ----------------------------------------------------------------------------- applications


def versions_of(application: Application) -> list[ItemVersion]:
    return [
        ai.version
        for ai in application.items.select_related("version__item__department").prefetch_related(
            "version__situations", "version__materials"
        )
    ]


def situations_of(application: Application) -> list[Any]:
    """The one form's questions: situations of every item, asked once per key."""
    seen, out = set(), []
    for version in versions_of(application):
        for s in version.situations.all():
            if s.key not in seen:
                seen.add(s.key)
                out.append(s)
    return out


def needs_of(application: Application) -> list[rules.Need]:
    return rules.needs_for(
        [(v.item.code, v.materials.all()) for v in versions_of(application)], application.answers
    )


def outstanding_of(application: Application) -> list[rules.Need]:
    return rules.outstanding(
        needs_of(application),
        uploaded=set(application.uploads.values_list("need_key", flat=True)),
        fetched=set(application.fetched),
        committed=set(application.commitments),
    )


def fetchable_needs(application: Application) -> list[rules.Need]:
    """The needs the government may fetch instead of asking for them: shown before consent, without
    saying whether any record is held (that is the holder's data, read only after consent)."""
    return [need for need in needs_of(application) if need.fetchable]


def held_records(application: Application) -> list[dict[str, Any]]:
    """The records the government holds for each fetchable need; read only by ``fetch_records``, after
    the applicant's consent, for the holder the application is bound to."""
    out = []
    for need in needs_of(application):
        if not need.fetchable:
            continue
        record = GovRecord.objects.filter(
            holder_id=application.holder_id, record_type=need.record_type
        ).first()
        out.append({"need": need, "record": record})
    return out


def applications_for(user) -> QuerySet[Application]:
    qs = Application.objects.select_related("bundle", "applicant").order_by("-created_at")
    role = role_of(user)
    if role in CITYWIDE or is_clerk(user):
        return qs
    if role == "department":
        return qs.filter(tasks__department_id=user.department_id).distinct()
    if role == "citizen":
        return qs.filter(applicant=user)
    return qs.none()


def get_application_for(user, number: str) -> Application:
    found = applications_for(user).filter(number=number).first()
    if found is None:
        raise PermissionDenied("no such application for you")
    return found


def window_inbox() -> QuerySet[Application]:
    return Application.objects.filter(status__in=[AppStatus.SUBMITTED, AppStatus.CORRECTION]).order_by(
        "submitted_at"
    )


def tasks_for(user) -> QuerySet[ApprovalTask]:
    qs = ApprovalTask.objects.select_related("application", "version", "department").order_by("due_at", "pk")
    role = role_of(user)
    if role in CITYWIDE:
        return qs
    if role == "department":
        return qs.filter(department_id=user.department_id)
    return qs.none()


def task_timer(task: ApprovalTask) -> dict[str, Any]:
    """Working time left (negative when overdue) and the countdown flag, for the inbox."""
    if task.due_at is None or task.status not in (TaskStatus.PENDING, TaskStatus.SUSPENDED):
        return {"state": "", "left_hours": None}
    cal = clock.calendar_for(task.department)
    now = clock.now()
    if task.status == TaskStatus.SUSPENDED:
        open_suspension = task.suspensions.filter(ended_at__isnull=True).first()
        left = timedelta(seconds=open_suspension.remaining_seconds) if open_suspension else timedelta(0)
        return {"state": "suspended", "left_hours": round(left.total_seconds() / 3600, 1)}
    left = time_rules.working_time_between(now, task.due_at, cal)
    state = time_rules.deadline_state(now, task.due_at, warn_fraction=0.75, start=task.started_at, cal=cal)
    return {"state": str(state), "left_hours": round(left.total_seconds() / 3600, 1)}


def rectifications_for(department) -> QuerySet[Rectification]:
    return Rectification.objects.filter(department=department).select_related("rating__application")


# ----------------------------------------------------------------------------- statistics


def _hours(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 3600, 2)


def correction_time(application: Application, cal) -> timedelta:
    notice = getattr(application, "correction", None) if hasattr(application, "correction") else None
    if notice is None or notice.resolved_at is None:
        return timedelta(0)
    return time_rules.working_time_between(notice.sent_at, notice.resolved_at, cal)


def application_stats(application: Application) -> dict[str, Any]:
    """Working hours from first submission to decision (correction time excluded), visits, resubmissions."""
    first_task = application.tasks.select_related("department").first()
    cal = clock.calendar_for(first_task.department if first_task else None)
    decision = None
    if application.submitted_at and application.decided_at:
        decision = time_rules.working_time_between(
            application.submitted_at, application.decided_at, cal
        ) - correction_time(application, cal)
    return {
        "number": application.number,
        "working_hours_to_decision": _hours(decision),
        "calendar_hours_to_decision": _hours(application.decided_at - application.submitted_at)
        if application.submitted_at and application.decided_at
        else None,
        "visits": application.visits,
        "resubmissions": application.resubmissions,
    }


def department_stats() -> list[dict[str, Any]]:
    """Per department: decided tasks, mean working hours to decision, on-time share, escalations,
    and the visits and resubmissions of the applications it worked on."""
    rows: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "decided": 0,
            "hours": 0.0,
            "on_time": 0,
            "open": 0,
            "escalated": 0,
            "apps": set(),
            "name": "",
        }
    )
    tasks = ApprovalTask.objects.select_related("department__city__pack", "application")
    for task in tasks:
        row = rows[task.department_id]
        row["name"] = task.department.name
        row["apps"].add(task.application_id)
        row["escalated"] += 1 if task.escalation_level else 0
        if task.decided_at and task.started_at:
            cal = clock.calendar_for(task.department)
            suspended = sum(
                (
                    time_rules.working_time_between(s.started_at, s.ended_at, cal)
                    for s in task.suspensions.exclude(ended_at=None)
                ),
                timedelta(0),
            )
            row["decided"] += 1
            row["hours"] += (
                time_rules.working_time_between(task.started_at, task.decided_at, cal) - suspended
            ).total_seconds() / 3600
            row["on_time"] += 1 if task.decided_at <= task.due_at else 0
        elif task.status in (TaskStatus.PENDING, TaskStatus.SUSPENDED):
            row["open"] += 1
    out = []
    for dept_id, row in sorted(rows.items(), key=lambda kv: kv[1]["name"]):
        apps = Application.objects.filter(pk__in=row["apps"])
        out.append(
            {
                "department_id": dept_id,
                "name": row["name"],
                "decided": row["decided"],
                "open": row["open"],
                "mean_working_hours": round(row["hours"] / row["decided"], 2) if row["decided"] else None,
                "on_time_percent": round(100 * row["on_time"] / row["decided"], 1)
                if row["decided"]
                else None,
                "escalated": row["escalated"],
                "visits": sum(a.visits for a in apps),
                "resubmissions": sum(a.resubmissions for a in apps),
            }
        )
    return out


# how each stored type is shown inline; anything else (never stored today) is only offered as a download
INLINE_KINDS = {"image/jpeg": "image", "image/png": "image", "image/webp": "image", "application/pdf": "pdf"}


def materials_of(application: Application) -> list[dict[str, Any]]:
    """Every material of the application as the clerk and the approvers read it, in checklist order:
    an upload (without its bytes, which the page fetches from the protected download), a record fetched
    from the registry with its data, a signed commitment, or nothing yet."""
    uploads = {u.need_key: u for u in application.uploads.defer("content")}
    out: list[dict[str, Any]] = []
    for need in needs_of(application):
        entry: dict[str, Any] = {"key": need.key, "name": need.name, "kind": "missing"}
        if need.key in uploads:
            upload = uploads[need.key]
            entry.update(kind=INLINE_KINDS.get(upload.content_type, "file"), upload=upload)
        elif need.key in application.fetched:
            entry.update(kind="record", record=application.fetched[need.key])
        elif need.key in application.commitments:
            entry["kind"] = "commitment"
        out.append(entry)
    return out
