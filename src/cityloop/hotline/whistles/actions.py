"""吹哨报到: a street summons departments; each must report in before the deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cityloop.core import actors, audit
from cityloop.core import rules as clock
from cityloop.core.actors import Actor
from cityloop.core.permissions import Role
from cityloop.hotline import notices, queries
from cityloop.hotline.events import event, lock
from cityloop.hotline.models import Assessment, Summons, SummonStatus, Whistle, WhistleStatus


def _require_street_official(actor: Actor, street) -> None:
    if not actor.is_authenticated or actor.role != Role.STREET or actor.street_id != street.pk:
        raise PermissionDenied("only an official of this street may do this")


def _require_department(actor: Actor, summons: Summons) -> None:
    if (
        not actor.is_authenticated
        or actor.role != Role.DEPARTMENT
        or actor.department_id != summons.department_id
    ):
        raise PermissionDenied("only the summoned department may do this")


def report_in_due(blown_at: datetime, *, urgent: bool, city) -> datetime:
    """30 minutes if urgent, 24 hours otherwise; in working time when the city configures it."""
    cfg = settings.HOTLINE
    minutes = cfg.get("whistle_report_minutes", {"urgent": 30, "normal": 24 * 60})[
        "urgent" if urgent else "normal"
    ]
    if cfg.get("whistle_working_time"):
        return clock.add_working_hours(blown_at, minutes / 60, queries.calendar_of(city))
    return blown_at + timedelta(minutes=minutes)


@transaction.atomic
def blow_whistle(
    *,
    street,
    departments: list,
    title: str,
    need: str,
    urgent: bool = False,
    finish_due: datetime | None = None,
    report_due: datetime | None = None,
    request=None,
    actor: Actor,
) -> Whistle:
    """Summon departments to a case of this street, or to a problem found on patrol."""
    _require_street_official(actor, street)
    errors = {}
    if not departments:
        errors["departments"] = gettext_lazy("summon at least one department")
    elif len({d.pk for d in departments}) != len(departments):
        errors["departments"] = gettext_lazy("a department is listed twice")
    elif any(d.city_id != street.city_id for d in departments):
        errors["departments"] = gettext_lazy("every department must belong to this city")
    if not (title or "").strip():
        errors["title"] = gettext_lazy("name the problem")
    if not (need or "").strip():
        errors["need"] = gettext_lazy("say what is needed from the departments")
    now = timezone.now()
    report_due = report_due or report_in_due(now, urgent=urgent, city=street.city)
    if report_due <= now:
        errors["report_due"] = gettext_lazy("the report-in deadline must be in the future")
    if finish_due is None:
        errors["finish_due"] = gettext_lazy("set a finish deadline")
    elif finish_due <= report_due:
        errors["finish_due"] = gettext_lazy("the finish deadline must come after the report-in deadline")
    if request is not None and request.street_id != street.pk:
        errors["request"] = gettext_lazy("a street blows the whistle on its own cases")
    if errors:
        raise ValidationError(errors)
    whistle = Whistle.objects.create(
        street=street,
        request=request,
        title=title.strip(),
        need=need.strip(),
        urgent=urgent,
        blown_by=actor,
        blown_at=now,
        report_due=report_due,
        finish_due=finish_due,
    )
    Summons.objects.bulk_create([Summons(whistle=whistle, department=d) for d in departments])
    audit.record(actor, "whistle.blow", whistle, after=[d.code for d in departments], urgent=urgent)
    notices.whistle_summons(whistle, departments)
    if request is not None:
        event(request, "whistle", actor=actor, text=need.strip(), departments=[d.code for d in departments])
    return whistle


def _require_summoned(summons: Summons) -> None:
    if summons.status != SummonStatus.SUMMONED:
        raise ValidationError({"summons": _("already %(status)s") % {"status": summons.get_status_display()}})
    if summons.whistle.status != WhistleStatus.OPEN:
        raise ValidationError({"whistle": gettext_lazy("the whistle is closed")})


@transaction.atomic
def report_in(summons: Summons, *, responsible_person: str, actor: Actor) -> Summons:
    """报到: the department accepts and names who is responsible; lateness is recorded."""
    lock(summons.whistle, summons)  # the whistle first, as close_whistle does: the two never cross
    _require_department(actor, summons)
    _require_summoned(summons)
    if not (responsible_person or "").strip():
        raise ValidationError({"responsible_person": gettext_lazy("name the person responsible")})
    now = timezone.now()
    summons.status, summons.responsible_person, summons.reported_at = (
        SummonStatus.ACCEPTED,
        responsible_person.strip(),
        now,
    )
    summons.late = now > summons.whistle.report_due
    summons.save(update_fields=["status", "responsible_person", "reported_at", "late"])
    audit.record(
        actor,
        "whistle.report_in",
        summons,
        before=SummonStatus.SUMMONED,
        after=summons.status,
        late=summons.late,
    )
    return summons


@transaction.atomic
def dispute_summons(summons: Summons, *, reason: str, actor: Actor) -> Summons:
    lock(summons.whistle, summons)
    _require_department(actor, summons)
    _require_summoned(summons)
    if not (reason or "").strip():
        raise ValidationError(
            {"reason": gettext_lazy("a dispute needs a reason the city dispatcher can judge")}
        )
    summons.status, summons.dispute_reason, summons.reported_at = (
        SummonStatus.DISPUTED,
        reason.strip(),
        timezone.now(),
    )
    summons.save(update_fields=["status", "dispute_reason", "reported_at"])
    audit.record(actor, "whistle.dispute", summons, before=SummonStatus.SUMMONED, after=summons.status)
    return summons


@transaction.atomic
def arbitrate_dispute(summons: Summons, *, uphold: bool, note: str, actor: Actor) -> Summons:
    """The city-level dispatcher releases the department (uphold) or sends it back to report in."""
    queries.require_dispatcher(actor)
    lock(summons.whistle, summons)
    if summons.status != SummonStatus.DISPUTED:
        raise ValidationError({"summons": gettext_lazy("only a disputed summons is arbitrated")})
    if not (note or "").strip():
        raise ValidationError({"note": gettext_lazy("give the reason for the decision")})
    before = summons.status
    summons.status = SummonStatus.RELEASED if uphold else SummonStatus.SUMMONED
    summons.arbitration_note = note.strip()
    summons.save(update_fields=["status", "arbitration_note"])
    audit.record(actor, "whistle.arbitrate", summons, before=before, after=summons.status)
    return summons


def record_missed_report_ins(now: datetime | None = None) -> int:
    """Mark every summons still not reported in after its deadline (the scheduler's job
    ``whistles.missed_report_ins``).

    Idempotent under concurrency: the flag is set by a conditional update, and only the run whose
    update changed the row writes the audit record, so two runs at once record each miss once."""
    now = now or timezone.now()
    missed = list(
        Summons.objects.filter(
            status=SummonStatus.SUMMONED,
            missed=False,
            whistle__report_due__lt=now,
            whistle__status=WhistleStatus.OPEN,
        ).select_related("department")
    )
    recorded = 0
    for summons in missed:
        with transaction.atomic():
            if Summons.objects.filter(pk=summons.pk, missed=False).update(missed=True) != 1:
                continue  # another run got there first
            audit.record(
                actors.SCHEDULE, "whistle.missed_report_in", summons, department=summons.department.code
            )
            recorded += 1
    return recorded


@transaction.atomic
def complete_task(summons: Summons, *, note: str, actor: Actor) -> Summons:
    """The department's own task in joint handling is done."""
    lock(summons.whistle, summons)
    _require_department(actor, summons)
    if summons.status != SummonStatus.ACCEPTED:
        raise ValidationError({"summons": gettext_lazy("report in before completing the task")})
    if summons.task_done_at is not None:
        raise ValidationError({"summons": gettext_lazy("the task is already done")})
    if not (note or "").strip():
        raise ValidationError({"note": gettext_lazy("say what was done")})
    summons.task_done_at, summons.task_note = timezone.now(), note.strip()
    summons.save(update_fields=["task_done_at", "task_note"])
    audit.record(actor, "whistle.task_done", summons)
    return summons


@transaction.atomic
def close_whistle(whistle: Whistle, *, actor: Actor) -> Whistle:
    """The street closes the whistle once every department that reported in has done its task."""
    lock(whistle)  # report-ins and task completions lock it too, so none lands after the check below
    _require_street_official(actor, whistle.street)
    if whistle.status != WhistleStatus.OPEN:
        raise ValidationError({"whistle": gettext_lazy("already closed")})
    pending = [
        s.department.label
        for s in whistle.summonses.select_related("department")
        if s.status in (SummonStatus.SUMMONED, SummonStatus.DISPUTED)
        or (s.status == SummonStatus.ACCEPTED and s.task_done_at is None)
    ]
    if pending:
        raise ValidationError(
            {"whistle": _("still waiting for: %(units)s") % {"units": _(", ").join(pending)}}
        )
    whistle.status, whistle.closed_at = WhistleStatus.CLOSED, timezone.now()
    whistle.save(update_fields=["status", "closed_at"])
    audit.record(actor, "whistle.close", whistle, before=WhistleStatus.OPEN, after=WhistleStatus.CLOSED)
    return whistle


@transaction.atomic
def rate_department(summons: Summons, *, score: int, comment: str = "", actor: Actor) -> Summons:
    """After closing, the street rates each department 1-5 (feeds the bottom-up assessment)."""
    lock(summons.whistle, summons)
    _require_street_official(actor, summons.whistle.street)
    if summons.whistle.status != WhistleStatus.CLOSED:
        raise ValidationError({"whistle": gettext_lazy("close the whistle before rating the departments")})
    if summons.status != SummonStatus.ACCEPTED:
        raise ValidationError({"summons": gettext_lazy("only departments that reported in are rated")})
    if summons.rating is not None:
        raise ValidationError({"rating": gettext_lazy("already rated")})
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError({"rating": gettext_lazy("a whole number from 1 to 5")})
    summons.rating, summons.rating_comment = score, (comment or "").strip()
    summons.save(update_fields=["rating", "rating_comment"])
    audit.record(actor, "whistle.rate", summons, after=score)
    return summons


@transaction.atomic
def assess_department(
    *, street, department, month, score: int, comment: str = "", actor: Actor
) -> Assessment:
    """The street's monthly assessment form for a department that serves it (下对上考核)."""
    _require_street_official(actor, street)
    if not isinstance(score, int) or not 0 <= score <= 100:
        raise ValidationError({"score": gettext_lazy("a whole number from 0 to 100")})
    if department.city_id != street.city_id:
        raise ValidationError({"department": gettext_lazy("the department belongs to another city")})
    month = month.replace(day=1)
    if month > timezone.localdate().replace(day=1):
        raise ValidationError({"month": gettext_lazy("a month that has not started cannot be assessed")})
    found = Assessment.objects.filter(street=street, department=department, month=month).first()
    before = found.score if found else None
    assessment, _ = Assessment.objects.update_or_create(
        street=street,
        department=department,
        month=month,
        defaults={
            "score": score,
            "comment": (comment or "").strip(),
            "assessed_by": actor,
            "assessed_at": timezone.now(),
        },
    )
    audit.record(actor, "assessment.save", assessment, before=before, after=score)
    return assessment
