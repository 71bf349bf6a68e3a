"""Every write to applications, approval tasks, results and ratings: check, change, audit."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from cityloop.core import audit
from cityloop.core import rules as time_rules
from cityloop.core.actors import Actor, signed_in
from cityloop.notify import actions as notify
from cityloop.notify import recipients
from cityloop.services import clock, queries, rules, uploads
from cityloop.services.models import (
    Application,
    ApplicationItem,
    ApprovalTask,
    AppStatus,
    Bundle,
    Channel,
    CorrectionNotice,
    Escalation,
    GovRecord,
    Rating,
    Rectification,
    Result,
    ServiceItem,
    Suspension,
    SuspensionKind,
    TaskStatus,
    Upload,
)

RECTIFICATION_DAYS = 5


def _set_status(application: Application, target: str) -> str:
    before = application.status
    rules.check_transition(before, target)
    application.status = target
    return before


def _lock(row):
    """Lock the row and bring the caller's instance up to date, so the caller sees the change too."""
    type(row).objects.select_for_update().filter(pk=row.pk).values_list("pk", flat=True).get()
    row.refresh_from_db()
    return row


# ----------------------------------------------------------------------------- starting and filling in


ID_NUMBER = re.compile(r"^[0-9A-Z]{15,18}$")


def _clean_id_number(value: str) -> str:
    number = (value or "").strip().upper().replace(" ", "")
    if not ID_NUMBER.match(number):
        raise ValidationError(
            {"id_number": "an ID number or unified social credit code: 15 to 18 digits or capital letters"}
        )
    return number


@transaction.atomic
def verify_identity(user, *, id_number: str, full_name: str, actor: Actor):
    """A window clerk records that they checked ``user``'s identity document in person (audited).

    From then on the citizen applies online only as that holder: the ID number typed into a form is
    no longer trusted, so nobody can see or copy someone else's government records.
    """
    queries.require_clerk(actor)
    number = _clean_id_number(id_number)
    name = (full_name or "").strip()
    if not name:
        raise ValidationError({"full_name": "the name on the identity document is required"})
    user = _lock(user)
    before = {"id_number": rules.mask_id(user.id_number), "full_name": user.full_name}
    user.id_number, user.full_name = number, name[:100]
    user.id_verified_at, user.id_verified_by = clock.now(), actor
    user.save(update_fields=["id_number", "full_name", "id_verified_at", "id_verified_by"])
    audit.record(
        actor,
        "user.verify_identity",
        user,
        before=before,
        after={"id_number": rules.mask_id(number), "full_name": user.full_name},
    )
    return user


@transaction.atomic
def start_application(
    *,
    applicant,
    holder_name: str,
    holder_id: str,
    actor: Actor,
    items: list[ServiceItem] | None = None,
    bundle: Bundle | None = None,
    identity_checked: bool = False,
) -> Application:
    """A citizen online, as their verified identity; or a clerk at the window for a citizen whose identity
    document the clerk has checked (``identity_checked``, audited). Pins each item's current version."""
    if not (actor.pk == applicant.pk or queries.is_clerk(actor)):
        raise PermissionDenied("a citizen applies for themselves; a window clerk may apply for a citizen")
    window = actor.pk != applicant.pk
    errors = {}
    if not window:
        # Online, the holder is the account's verified identity, never what the form says.
        if not applicant.id_number:
            raise ValidationError(
                {
                    "holder_id": "your identity is not verified yet: verify it once at a service "
                    "window (bring your ID card), then apply online"
                }
            )
        typed = (holder_id or "").strip().upper()
        if typed and typed != applicant.id_number:
            raise PermissionDenied(
                "you may apply only as yourself: the holder must be your verified identity"
            )
        holder_id, holder_name = applicant.id_number, applicant.full_name or holder_name
    elif not identity_checked:
        errors["identity_checked"] = "confirm that you checked the applicant's identity document in person"
    if not (holder_name or "").strip():
        errors["holder_name"] = "the applicant's name is required"
    if not (holder_id or "").strip():
        errors["holder_id"] = "the applicant's ID number (or unified social credit code) is required"
    if bool(items) == bool(bundle):
        errors["items"] = "apply for one or more items, or for one bundle"
    if errors:
        raise ValidationError(errors)
    versions = queries.bundle_versions(bundle) if bundle else [i.current_version() for i in items]
    if bundle and len(versions) != bundle.members.count() or not all(versions):
        raise ValidationError({"items": "an item of this application has no published version"})
    now = clock.now()
    application = Application.objects.create(
        # A placeholder that fits the column until the primary key gives the real number.
        number=f"tmp-{secrets.token_hex(8)}",
        applicant=applicant,
        started_by=signed_in(actor),
        holder_name=holder_name.strip(),
        holder_id=holder_id.strip().upper(),
        bundle=bundle,
        channel=Channel.WINDOW if window else Channel.ONLINE,
        visits=1 if window else 0,
        created_at=now,
    )
    application.number = f"SA{now:%Y%m%d}{application.pk:06d}"
    application.save(update_fields=["number"])
    ApplicationItem.objects.bulk_create(
        [ApplicationItem(application=application, version=v) for v in versions]
    )
    audit.record(
        actor,
        "application.start",
        application,
        after={
            "items": [f"{v.item.code}@v{v.number}" for v in versions],
            "bundle": bundle and bundle.code,
            "channel": application.channel,
            "holder": rules.mask_id(application.holder_id),
            **({"acting_for": applicant.username, "identity_checked_in_person": True} if window else {}),
        },
    )
    return application


def _require_editable(application: Application) -> None:
    if application.status not in (AppStatus.DRAFT, AppStatus.CORRECTION):
        raise ValidationError(
            {"status": f"the application is {application.status}; it can no longer be changed"}
        )


@transaction.atomic
def answer_situations(application: Application, answers: dict[str, str], *, actor: Actor) -> Application:
    application = _lock(application)
    queries.require_applicant_or_clerk(application, actor)
    if application.status != AppStatus.DRAFT:
        raise ValidationError(
            {"answers": "the answers decide the checklist and cannot change after submission"}
        )
    answers = {str(k): str(v) for k, v in answers.items()}
    rules.check_answers(queries.situations_of(application), answers)
    before = application.answers
    application.answers = answers
    # a changed answer may drop a need: keep only uploads and fetches still on the list
    keys = {n.key for n in queries.needs_of(application)}
    application.fetched = {k: v for k, v in application.fetched.items() if k in keys}
    application.commitments = [k for k in application.commitments if k in keys]
    application.save(update_fields=["answers", "fetched", "commitments"])
    application.uploads.exclude(need_key__in=keys).delete()
    audit.record(actor, "application.answer", application, before=before, after=answers)
    return application


@transaction.atomic
def fetch_records(application: Application, *, consent: bool, actor: Actor) -> Application:
    """Fetch the records the government holds for this applicant, only after explicit consent."""
    application = _lock(application)
    if actor.pk != application.applicant_id and not queries.is_clerk(actor):
        raise PermissionDenied("only the applicant (or a clerk with the applicant present) may consent")
    _require_editable(application)
    if consent is not True:
        raise ValidationError({"consent": "the applicant must consent before any record is fetched"})
    fetched = dict(application.fetched)
    for row in queries.held_records(application):
        record: GovRecord | None = row["record"]
        if record is not None:
            fetched[row["need"].key] = {
                "record": record.pk,
                "type": record.record_type,
                "title": record.title,
                "issuer": record.issuer,
                "data": record.data,
            }
    application.fetched, application.consent_at = fetched, clock.now()
    application.save(update_fields=["fetched", "consent_at"])
    audit.record(actor, "application.fetch", application, after=sorted(fetched), consent=True)
    return application


def _need(application: Application, need_key: str, field: str) -> rules.Need:
    for need in queries.needs_of(application):
        if need.key == need_key:
            return need
    raise ValidationError({field: f"{need_key!r} is not on this application's checklist"})


@transaction.atomic
def upload_material(
    application: Application, need_key: str, *, filename: str, content: bytes, actor: Actor
) -> Upload:
    application = _lock(application)
    queries.require_applicant_or_clerk(application, actor)
    _require_editable(application)
    field = f"materials.{need_key}"
    _need(application, need_key, field)
    if application.status == AppStatus.CORRECTION:
        listed = {i["key"] for i in application.correction.items}
        if need_key not in listed:
            raise ValidationError(
                {field: "only the materials named in the correction notice may be replaced"}
            )
    content_type = uploads.check_upload(filename, content, field=field)
    replaced = application.uploads.filter(need_key=need_key).first()
    if replaced is not None:
        replaced.delete()
    upload = Upload.objects.create(
        application=application,
        need_key=need_key,
        filename=filename[:200],
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_at=clock.now(),
    )
    audit.record(
        actor,
        "application.upload",
        application,
        after={"need": need_key, "sha256": upload.sha256, "size": upload.size},
        replaced=replaced.sha256 if replaced else None,
    )
    return upload


@transaction.atomic
def sign_commitment(application: Application, need_key: str, *, actor: Actor) -> Application:
    """告知承诺: the applicant promises in writing instead of bringing the certificate."""
    application = _lock(application)
    if actor.pk != application.applicant_id and not queries.is_clerk(actor):
        raise PermissionDenied("only the applicant signs a commitment")
    _require_editable(application)
    need = _need(application, need_key, f"materials.{need_key}")
    if not need.commitment:
        raise ValidationError({f"materials.{need_key}": "this material cannot be replaced by a commitment"})
    if need_key not in application.commitments:
        application.commitments = [*application.commitments, need_key]
        application.save(update_fields=["commitments"])
        audit.record(actor, "application.commit", application, after=need_key)
    return application


@transaction.atomic
def submit_application(application: Application, *, actor: Actor) -> Application:
    application = _lock(application)
    queries.require_applicant_or_clerk(application, actor)
    if application.status == AppStatus.DRAFT:
        rules.check_answers(queries.situations_of(application), application.answers)
    missing = queries.outstanding_of(application)
    if missing:
        # written once, translatable: the page shows "申请表：尚未提供", the API "…: still missing"
        raise ValidationError(
            {
                f"materials.{n.key}": format_lazy(gettext_lazy("{name}: still missing"), name=n.name)
                for n in missing
            }
        )
    before = _set_status(application, AppStatus.SUBMITTED)
    now = clock.now()
    fields = ["status"]
    if before == AppStatus.CORRECTION:
        application.resubmissions += 1
        if queries.is_clerk(actor) and actor.pk != application.applicant_id:
            application.visits += 1
        fields += ["resubmissions", "visits"]
        CorrectionNotice.objects.filter(application=application).update(resolved_at=now)
    else:
        application.submitted_at = now
        fields.append("submitted_at")
    application.save(update_fields=fields)
    audit.record(actor, "application.submit", application, before=before, after=application.status)
    return application


# ----------------------------------------------------------------------------- the window


@transaction.atomic
def send_correction_notice(
    application: Application, items: list[dict[str, str]], *, actor: Actor
) -> CorrectionNotice:
    """The one correction notice (一次告知): only materials on this application's own checklist."""
    queries.require_clerk(actor)
    application = _lock(application)
    if CorrectionNotice.objects.filter(application=application).exists():
        raise ValidationError(
            {
                "items": "a correction notice was already sent; everything missing must be "
                "named in that one notice (一次告知)"
            }
        )
    if not items:
        raise ValidationError({"items": "name at least one material to correct"})
    needs = {n.key: n for n in queries.needs_of(application)}
    clean, errors = [], {}
    for i, entry in enumerate(items):
        key, reason = str(entry.get("key", "")), str(entry.get("reason", "")).strip()
        if key not in needs:
            errors[f"items[{i}].key"] = f"{key!r} is not on this application's checklist (the list is closed)"
        elif not reason:
            errors[f"items[{i}].reason"] = "say what is wrong so the applicant can fix it in one go"
        else:
            clean.append({"key": key, "name": needs[key].name, "reason": reason})
    if errors:
        raise ValidationError(errors)
    before = _set_status(application, AppStatus.CORRECTION)
    application.save(update_fields=["status"])
    notice = CorrectionNotice.objects.create(
        application=application, items=clean, sent_by=signed_in(actor), sent_at=clock.now()
    )
    audit.record(
        actor,
        "application.correction_notice",
        application,
        before=before,
        after=application.status,
        items=[c["key"] for c in clean],
    )
    _tell_applicant(
        application,
        "application.correction",
        reason="; ".join(f"{c['name']}: {c['reason']}" for c in clean),
        link=f"/services/applications/{application.number}/",
    )
    return notice


def _service_name(application: Application) -> str:
    if application.bundle_id:
        return str(application.bundle)
    return "、".join(
        dict.fromkeys(t.version.name for t in application.tasks.select_related("version").order_by("id"))
    )


def _tell_applicant(application: Application, event: str, *, link: str, **params) -> None:
    """The applicant hears on their own account's channels (in-app, text or e-mail as they chose)."""
    notify.queue(
        event,
        recipients.people([application.applicant]),
        {"no": application.number, "service": _service_name(application), "link": link, **params},
        about=("application", application.number),
        link=link,
    )


def _start_task(task: ApprovalTask, now) -> None:
    cal = clock.calendar_for(task.department)
    task.status, task.started_at = TaskStatus.PENDING, now
    task.due_at = time_rules.add_working_hours(
        now, rules.committed_time(task.version.committed_days, cal.office_time_per_day), cal
    )


@transaction.atomic
def accept_application(application: Application, *, actor: Actor) -> Application:
    """The window accepts: one approval task per item, in parallel except where a bundle says otherwise."""
    queries.require_clerk(actor)
    application = _lock(application)
    before = _set_status(application, AppStatus.ACCEPTED)
    now = clock.now()
    application.accepted_at = now
    application.save(update_fields=["status", "accepted_at"])
    versions = queries.versions_of(application)
    depends = {}
    if application.bundle_id:
        depends = {m.item.code: m.depends_on for m in application.bundle.members.select_related("item")}
    tasks = {}
    for version in versions:
        tasks[version.item.code] = ApprovalTask.objects.create(
            application=application, version=version, department=version.item.department
        )
    for code, task in tasks.items():
        prerequisites = [tasks[c] for c in depends.get(code, []) if c in tasks]
        task.depends_on.set(prerequisites)
        if not prerequisites:
            _start_task(task, now)
            task.save(update_fields=["status", "started_at", "due_at"])
    audit.record(
        actor,
        "application.accept",
        application,
        before=before,
        after=application.status,
        tasks={c: t.status for c, t in tasks.items()},
    )
    return application


# ----------------------------------------------------------------------------- approval


@transaction.atomic
def approve_task(task: ApprovalTask, *, actor: Actor, note: str = "") -> ApprovalTask:
    task = _lock(task)
    queries.require_department_member(task.department, actor)
    rules.check_transition(task.status, TaskStatus.APPROVED, rules.TASK_TRANSITIONS)
    now = clock.now()
    task.status, task.decided_at, task.decided_by, task.decision_note = (
        TaskStatus.APPROVED,
        now,
        signed_in(actor),
        note,
    )
    task.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    audit.record(actor, "task.approve", task, before="pending", after="approved")
    for dependent in task.dependents.filter(status=TaskStatus.WAITING):
        if not dependent.depends_on.exclude(status=TaskStatus.APPROVED).exists():
            _start_task(dependent, now)
            dependent.save(update_fields=["status", "started_at", "due_at"])
            audit.record(actor, "task.start", dependent, before="waiting", after="pending")
    application = _lock(task.application)
    if not application.tasks.exclude(status=TaskStatus.APPROVED).exists():
        before = _set_status(application, AppStatus.APPROVED)
        application.decided_at = now
        application.save(update_fields=["status", "decided_at"])
        audit.record(actor, "application.approve", application, before=before, after=application.status)
        deliver_results(application, actor=actor)
    return task


@transaction.atomic
def refuse_task(task: ApprovalTask, *, reason: str, actor: Actor) -> ApprovalTask:
    task = _lock(task)
    queries.require_department_member(task.department, actor)
    if not reason.strip():
        raise ValidationError({"reason": "a refusal must give its legal reason"})
    rules.check_transition(task.status, TaskStatus.REFUSED, rules.TASK_TRANSITIONS)
    now = clock.now()
    task.status, task.decided_at, task.decided_by, task.decision_note = (
        TaskStatus.REFUSED,
        now,
        signed_in(actor),
        reason,
    )
    task.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    audit.record(actor, "task.refuse", task, before="pending", after="refused", reason=reason)
    application = _lock(task.application)
    before = _set_status(application, AppStatus.REFUSED)
    application.decided_at = now
    application.save(update_fields=["status", "decided_at"])
    audit.record(actor, "application.refuse", application, before=before, after=application.status)
    return task


@transaction.atomic
def suspend_task(task: ApprovalTask, *, kind: str, reason: str, actor: Actor) -> Suspension:
    """Stop the clock for a correction or a special procedure; the working time left is kept."""
    task = _lock(task)
    queries.require_department_member(task.department, actor)
    if kind not in SuspensionKind.values:
        raise ValidationError({"kind": f"one of {', '.join(SuspensionKind.values)}"})
    if not reason.strip():
        raise ValidationError({"reason": "say why the clock stops"})
    rules.check_transition(task.status, TaskStatus.SUSPENDED, rules.TASK_TRANSITIONS)
    now = clock.now()
    left = time_rules.working_time_between(now, task.due_at, clock.calendar_for(task.department))
    task.status = TaskStatus.SUSPENDED
    task.save(update_fields=["status"])
    suspension = Suspension.objects.create(
        task=task, kind=kind, reason=reason, started_at=now, remaining_seconds=left.total_seconds()
    )
    audit.record(actor, "task.suspend", task, before="pending", after="suspended", kind=kind, reason=reason)
    return suspension


@transaction.atomic
def resume_task(task: ApprovalTask, *, actor: Actor) -> ApprovalTask:
    """Restart the clock with exactly the working time that was left when it stopped."""
    task = _lock(task)
    queries.require_department_member(task.department, actor)
    rules.check_transition(task.status, TaskStatus.PENDING, rules.TASK_TRANSITIONS)
    suspension = task.suspensions.get(ended_at__isnull=True)
    now = clock.now()
    suspension.ended_at = now
    suspension.save(update_fields=["ended_at"])
    before_due = task.due_at
    task.status = TaskStatus.PENDING
    task.due_at = time_rules.add_working_hours(
        now, timedelta(seconds=suspension.remaining_seconds), clock.calendar_for(task.department)
    )
    task.save(update_fields=["status", "due_at"])
    audit.record(actor, "task.resume", task, before=before_due, after=task.due_at)
    return task


def escalate_overdue(*, actor: Actor) -> list[Escalation]:
    """Raise the escalation level of every overdue open task (run by `cityloop services tick`)."""
    now = clock.now()
    made = []
    for task in ApprovalTask.objects.filter(status=TaskStatus.PENDING, due_at__lt=now).select_related(
        "department__city__pack"
    ):
        cal = clock.calendar_for(task.department)
        overdue = time_rules.working_time_between(task.due_at, now, cal)
        level = rules.escalation_level(overdue, cal.office_time_per_day)
        if level <= task.escalation_level:
            continue
        with transaction.atomic():
            before = task.escalation_level
            ApprovalTask.objects.filter(pk=task.pk).update(escalation_level=level)
            made.append(
                Escalation.objects.create(
                    task=task, level=level, at=now, overdue_seconds=overdue.total_seconds()
                )
            )
            audit.record(
                actor,
                "task.escalate",
                task,
                before=before,
                after=level,
                overdue_hours=round(overdue.total_seconds() / 3600, 2),
            )
    return made


# ----------------------------------------------------------------------------- results


def seal_installed() -> bool:
    return django_apps.is_installed("cityloop.seal")


def _issue_certificate(application: Application, task: ApprovalTask, title: str, actor: Actor) -> Any:
    from cityloop.seal.actions import issue_certificate  # the one-seal app, when installed

    fields = {
        "item": task.version.item.code,
        "item_version": str(task.version.number),
        "application": application.number,
        "department": task.department.name,
        **{k: str(v) for k, v in application.form_data.items()},
    }
    return issue_certificate(
        issuer_department=task.department,
        holder_name=application.holder_name,
        holder_id=application.holder_id,
        title=title,
        fields=fields,
        source_ref=f"services:{application.number}:{task.version.item.code}",
        actor=actor,
        holder_user=application.applicant,
    )


@transaction.atomic
def deliver_results(application: Application, *, actor: Actor) -> Application:
    """One result package: a result per approved task, each issued as an e-certificate under seal."""
    application = _lock(application)
    before = _set_status(application, AppStatus.DELIVERED)
    now = clock.now()
    for task in application.tasks.select_related("version__item", "department", "decided_by").filter(
        status=TaskStatus.APPROVED
    ):
        title = task.version.result_title or task.version.name
        result = Result(application=application, task=task, title=title, issued_at=now)
        if seal_installed():
            # each result is sealed on behalf of the approver of its own department, who may use the seal
            cert = _issue_certificate(application, task, title, task.decided_by or actor)
            result.serial, result.url, result.pdf_url = (
                cert.serial,
                cert.get_absolute_url(),
                cert.get_pdf_url(),
            )
            _tell_applicant(application, "certificate.issued", link=result.url)
        result.save()
    application.delivered_at = now
    application.save(update_fields=["status", "delivered_at"])
    audit.record(
        actor,
        "application.deliver",
        application,
        before=before,
        after=application.status,
        results=list(application.results.values_list("serial", flat=True)),
    )
    return application


# ----------------------------------------------------------------------------- 好差评


@transaction.atomic
def rate_application(application: Application, *, score: int, comment: str = "", actor: Actor) -> Rating:
    """After the result, the applicant rates it; a bad rating opens a rectification per department."""
    application = _lock(application)
    if actor.pk != application.applicant_id:
        raise PermissionDenied("only the applicant rates the service")
    if application.status not in (AppStatus.DELIVERED, AppStatus.REFUSED):
        raise ValidationError({"score": "a service is rated after its result"})
    if Rating.objects.filter(application=application).exists():
        raise ValidationError({"score": "this application was already rated"})
    score = rules.check_score(score)
    if rules.opens_rectification(score) and not comment.strip():
        raise ValidationError({"comment": "tell us what went wrong so it can be put right"})
    now = clock.now()
    rating = Rating.objects.create(application=application, score=score, comment=comment.strip(), at=now)
    audit.record(actor, "application.rate", application, after=score)
    if rules.opens_rectification(score):
        departments = {t.department for t in application.tasks.select_related("department__city__pack")}
        for department in sorted(departments, key=lambda d: d.code):
            cal = clock.calendar_for(department)
            rect = Rectification.objects.create(
                rating=rating,
                department=department,
                due_at=time_rules.add_working_days(now, RECTIFICATION_DAYS, cal),
            )
            audit.record(
                actor, "rectification.open", rect, after={"department": department.code, "due": rect.due_at}
            )
    return rating


@transaction.atomic
def close_rectification(rectification: Rectification, *, response: str, actor: Actor) -> Rectification:
    rect = Rectification.objects.select_for_update().get(pk=rectification.pk)
    queries.require_department_member(rect.department, actor)
    if rect.closed_at is not None:
        raise ValidationError({"response": "this rectification is already closed"})
    if not response.strip():
        raise ValidationError({"response": "describe what was put right"})
    rect.response, rect.closed_at = response.strip(), clock.now()
    rect.save(update_fields=["response", "closed_at"])
    audit.record(actor, "rectification.close", rect, before="open", after="closed")
    return rect
