"""/api/v1/services: the catalogue (public), applications, approval tasks and ratings (token scope
``services``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from cityloop.core import permissions
from cityloop.core.doors.auth import token_auth
from cityloop.core.doors.inputs import Input
from cityloop.services import actions, catalogue, queries, uploads
from cityloop.services import actions as services_actions
from cityloop.services.models import Application, ApprovalTask, Bundle, ServiceItem

router = Router(tags=["services"])
AUTH = token_auth("services")


class ItemOut(Schema):
    code: str
    name: str
    department: str
    version: int
    committed_days: float
    legal_days: float
    visits: int


class BundleOut(Schema):
    code: str
    name: str
    items: list[str]


class StartIn(Input):
    holder_name: str = Field("", description="Ignored online: the holder is the account's verified identity.")
    holder_id: str = Field(
        "",
        description="Optional; if given it must be the account's verified ID number "
        "(403 otherwise). Verify an identity once at a service window.",
    )
    items: list[str] = []
    bundle: str | None = None


class NeedOut(Schema):
    key: str
    name: str
    source: str
    is_certificate: bool
    missing: bool


class TaskOut(Schema):
    id: int
    application: str
    item: str
    department: str
    status: str
    due_at: datetime | None
    escalation_level: int


class ApplicationOut(Schema):
    number: str
    status: str
    holder_name: str
    bundle: str | None
    items: list[str]
    answers: dict[str, str]
    needs: list[NeedOut]
    tasks: list[TaskOut]
    results: list[dict[str, Any]]
    stats: dict[str, Any]


class AnswersIn(Input):
    answers: dict[str, str]


class ConsentIn(Input):
    consent: bool


class CorrectionItem(Schema):
    key: str
    reason: str


class CorrectionIn(Input):
    items: list[CorrectionItem]


class NoteIn(Input):
    note: str = ""


class ReasonIn(Input):
    reason: str


class SuspendIn(Input):
    kind: str
    reason: str


class RatingIn(Input):
    score: int
    comment: str = ""


def _task_out(t: ApprovalTask) -> dict[str, Any]:
    return {
        "id": t.pk,
        "application": t.application.number,
        "item": t.version.item.code,
        "department": t.department.code,
        "status": t.status,
        "due_at": t.due_at,
        "escalation_level": t.escalation_level,
    }


def _app_out(app: Application) -> dict[str, Any]:
    needs = queries.needs_of(app)
    missing = {n.key for n in queries.outstanding_of(app)}
    return {
        "number": app.number,
        "status": app.status,
        "holder_name": app.holder_name,
        "bundle": app.bundle.code if app.bundle_id else None,
        "items": [f"{v.item.code}@v{v.number}" for v in queries.versions_of(app)],
        "answers": app.answers,
        "needs": [
            {
                "key": n.key,
                "name": n.name,
                "source": n.source,
                "is_certificate": n.is_certificate,
                "missing": n.key in missing,
            }
            for n in needs
        ],
        "tasks": [
            _task_out(t) for t in app.tasks.select_related("version__item", "department", "application")
        ],
        "results": [
            {"title": r.title, "serial": r.serial, "url": r.url, "pdf_url": r.pdf_url}
            for r in app.results.all()
        ],
        "stats": queries.application_stats(app),
    }


def _app(request, number: str) -> Application:
    return queries.get_application_for(request.user, number)


@router.get("/catalogue", response=list[ItemOut], auth=None, summary="Published service items")
def list_items(request, q: str = ""):
    return [
        {
            "code": v.item.code,
            "name": v.name,
            "department": v.item.department.code,
            "version": v.number,
            "committed_days": float(v.committed_days),
            "legal_days": float(v.legal_days),
            "visits": v.visits,
        }
        for v in queries.published_items(q)
    ]


@router.get("/catalogue/{code}", response=dict[str, Any], auth=None, summary="One item's published checklist")
def get_item(request, code: str):
    version = get_object_or_404(ServiceItem, code=code).current_version()
    if version is None:
        raise ValidationError({"code": f"{code} has no published version"})
    return catalogue.version_dict(version)


@router.get("/bundles", response=list[BundleOut], auth=None, summary="One-thing bundles")
def list_bundles(request):
    return [
        {"code": b.code, "name": b.name, "items": [m.item.code for m in b.members.all()]}
        for b in queries.bundles()
    ]


@router.post("/applications", response={201: ApplicationOut}, auth=AUTH, summary="Start an application")
def start_application(request, body: StartIn):
    bundle = Bundle.objects.filter(code=body.bundle).first() if body.bundle else None
    if body.bundle and bundle is None:
        raise ValidationError({"bundle": f"no bundle {body.bundle!r}"})
    items = list(ServiceItem.objects.filter(code__in=body.items))
    if len(items) != len(set(body.items)):
        unknown = sorted(set(body.items) - {i.code for i in items})
        raise ValidationError({"items": f"unknown item(s) {', '.join(unknown)}"})
    app = actions.start_application(
        applicant=request.user,
        holder_name=body.holder_name,
        holder_id=body.holder_id,
        items=items or None,
        bundle=bundle,
        actor=request.user,
    )
    return Status(201, _app_out(app))


@router.get("/applications", response=list[dict[str, Any]], auth=AUTH, summary="Applications you may see")
def list_applications(request):
    return [
        {"number": a.number, "status": a.status, "title": a.title}
        for a in queries.applications_for(request.user)[:200]
    ]


@router.get("/applications/{number}", response=ApplicationOut, auth=AUTH)
def get_application(request, number: str):
    return _app_out(_app(request, number))


@router.post("/applications/{number}/answers", response=ApplicationOut, auth=AUTH)
def answer(request, number: str, body: AnswersIn):
    return _app_out(actions.answer_situations(_app(request, number), body.answers, actor=request.user))


@router.post(
    "/applications/{number}/consent",
    response=ApplicationOut,
    auth=AUTH,
    summary="Consent to fetching the records the government holds",
)
def consent(request, number: str, body: ConsentIn):
    return _app_out(actions.fetch_records(_app(request, number), consent=body.consent, actor=request.user))


@router.post(
    "/applications/{number}/uploads", response=ApplicationOut, auth=AUTH, summary="Upload one material"
)
def upload(request, number: str, need: Form[str], file: File[UploadedFile]):
    app = _app(request, number)
    # The size is known before reading: a file over the limit is never read into memory.
    if file.size is not None and file.size > uploads.MAX_BYTES:
        raise ValidationError(
            {f"materials.{need}": f"the file is {file.size / 1048576:.1f} MB; the limit is 10 MB"}
        )
    actions.upload_material(
        app, need, filename=file.name or "upload", content=file.read(), actor=request.user
    )
    return _app_out(app)


@router.post("/applications/{number}/commitments/{need}", response=ApplicationOut, auth=AUTH)
def commit(request, number: str, need: str):
    return _app_out(actions.sign_commitment(_app(request, number), need, actor=request.user))


@router.post("/applications/{number}/submit", response=ApplicationOut, auth=AUTH)
def submit(request, number: str):
    return _app_out(actions.submit_application(_app(request, number), actor=request.user))


@router.post("/applications/{number}/accept", response=ApplicationOut, auth=AUTH, summary="Window: accept")
def accept(request, number: str):
    return _app_out(actions.accept_application(_app(request, number), actor=request.user))


@router.post(
    "/applications/{number}/correction",
    response=ApplicationOut,
    auth=AUTH,
    summary="Window: the one correction notice",
)
def correction(request, number: str, body: CorrectionIn):
    app = _app(request, number)
    actions.send_correction_notice(app, [i.dict() for i in body.items], actor=request.user)
    return _app_out(app)


@router.post("/applications/{number}/rating", response={201: dict[str, Any]}, auth=AUTH, summary="好差评")
def rate(request, number: str, body: RatingIn):
    rating = actions.rate_application(
        _app(request, number), score=body.score, comment=body.comment, actor=request.user
    )
    return Status(201, {"score": rating.score, "rectifications": rating.rectifications.count()})


@router.get("/tasks", response=list[TaskOut], auth=AUTH, summary="Approval tasks you may see")
def list_tasks(request):
    return [_task_out(t) for t in queries.tasks_for(request.user).select_related("version__item")[:500]]


def _task(request, task_id: int) -> ApprovalTask:
    task = queries.tasks_for(request.user).filter(pk=task_id).first()
    if task is None:
        raise PermissionDenied("no such task for you")
    return task


@router.post("/tasks/{task_id}/approve", response=TaskOut, auth=AUTH)
def approve(request, task_id: int, body: NoteIn):
    return _task_out(actions.approve_task(_task(request, task_id), note=body.note, actor=request.user))


@router.post("/tasks/{task_id}/refuse", response=TaskOut, auth=AUTH)
def refuse(request, task_id: int, body: ReasonIn):
    return _task_out(actions.refuse_task(_task(request, task_id), reason=body.reason, actor=request.user))


@router.post("/tasks/{task_id}/suspend", response=TaskOut, auth=AUTH)
def suspend(request, task_id: int, body: SuspendIn):
    task = _task(request, task_id)
    actions.suspend_task(task, kind=body.kind, reason=body.reason, actor=request.user)
    task.refresh_from_db()
    return _task_out(task)


@router.post("/tasks/{task_id}/resume", response=TaskOut, auth=AUTH)
def resume(request, task_id: int):
    return _task_out(actions.resume_task(_task(request, task_id), actor=request.user))


@router.get(
    "/stats/departments", response=list[dict[str, Any]], auth=AUTH, summary="Timeliness per department"
)
def department_stats(request):
    if queries.role_of(request.user) not in {"leader", "admin", "auditor"}:
        raise PermissionDenied("leaders, administrators and auditors see department statistics")
    return queries.department_stats()


# -- the catalogue editor and the reduction report (administrators and leaders) ---------------------


class FindingOut(Schema):
    item: str
    code: str
    rule: str
    field: str
    message: str


class DraftOut(Schema):
    item: str
    version: int
    status: str
    data: dict[str, Any]
    findings: list[FindingOut]


def _draft_out(version) -> dict[str, Any]:
    return {
        "item": version.item.code,
        "version": version.number,
        "status": version.status,
        "data": catalogue.editable_dict(version),
        "findings": [
            {"item": f.item, "code": f.code, "rule": f.rule, "field": f.field, "message": f.message}
            for f in catalogue.findings_for(version)
        ],
    }


def _item(code: str) -> ServiceItem:
    return get_object_or_404(ServiceItem, code=code)


@router.post(
    "/catalogue/{code}/draft",
    response=DraftOut,
    auth=AUTH,
    summary="Start (or get) an item's draft",
    description="Editing a published item copies its current version into a new draft; the linter's "
    "findings come with it. Catalogue administrators only.",
)
def start_draft(request, code: str):
    return _draft_out(services_actions.start_draft(_item(code), actor=request.user))


class DraftIn(Input):
    data: dict[str, Any]


@router.put(
    "/catalogue/{code}/draft",
    response=DraftOut,
    auth=AUTH,
    summary="Replace the draft's content",
    description="`data` is the item's editable form (as returned in the draft's `data`). Bad values get "
    "a 400 naming the field; the linter's findings are returned, not refused, until publishing.",
)
def update_draft(request, code: str, payload: DraftIn):
    data = payload.data
    draft = _item(code).draft()
    if draft is None:
        raise ValidationError({"version": f"{code} has no draft; POST /catalogue/{code}/draft first"})
    return _draft_out(services_actions.update_draft(draft, data, actor=request.user))


@router.post(
    "/catalogue/{code}/publish",
    response=DraftOut,
    auth=AUTH,
    summary="Publish the draft",
    description="Refused with a 400 listing every linter finding (field, code, rule) while there are "
    "any; otherwise the version is frozen and the previous one retires.",
)
def publish(request, code: str):
    draft = _item(code).draft()
    if draft is None:
        raise ValidationError({"version": f"{code} has no draft to publish"})
    return _draft_out(services_actions.publish_version(draft, actor=request.user))


@router.get(
    "/reductions",
    response=list[dict[str, Any]],
    auth=AUTH,
    summary="The reduction report",
    description="Items, materials, certificates and on-site visits removed between the catalogue "
    "snapshots in force on `from` and `to` (YYYY-MM-DD), per department and in total.",
)
def reductions_report(
    request, start: str = Query(..., alias="from"), end: str | None = Query(None, alias="to")
):
    import datetime as dt

    from cityloop.services import reductions

    permissions.require(request.user, permissions.STAFF, "the reduction report is for staff")
    try:
        first = dt.date.fromisoformat(start)
        last = dt.date.fromisoformat(end) if end else dt.date.today()
    except ValueError as exc:
        raise ValidationError({"from": "dates look like 2026-11-26"}) from exc
    old, new = catalogue.snapshot_on(first), catalogue.snapshot_on(last)
    if old is None or new is None:
        raise ValidationError(
            {"from" if old is None else "to": "no catalogue snapshot on or before that date"}
        )
    return [
        {
            "department": r.department,
            "name": r.name,
            "before": r.before,
            "after": r.after,
            "percent_removed": {m: r.percent(m) for m in reductions.MEASURES},
        }
        for r in reductions.compare(old.data, new.data)
    ]
