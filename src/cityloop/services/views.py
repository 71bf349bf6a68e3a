"""Pages of the services pillar: parse, authorise, call one action or query, render. No JavaScript needed."""

from __future__ import annotations

import datetime as dt

import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from cityloop.core import queries as core_queries
from cityloop.core.doors import uploads as weblimits
from cityloop.core.doors.forms import message_errors, run_action
from cityloop.services import actions, catalogue, queries, reductions
from cityloop.services import actions as services_actions
from cityloop.services import editor as editor_forms
from cityloop.services.models import (
    ApprovalTask,
    AppStatus,
    Bundle,
    ItemVersion,
    Rectification,
    ServiceItem,
    SuspensionKind,
    TaskStatus,
    Upload,
)
from cityloop.services.uploads import EXTENSIONS


def _attempt(request, fn, success: str) -> bool:
    """Run one action (core.doors.forms.run_action); a refusal becomes a message naming the field."""
    if not run_action(fn, request=request):
        return False
    messages.success(request, success)
    return True


# ----------------------------------------------------------------------------- citizens


def catalogue_page(request):
    search = request.GET.get("q", "").strip()
    return render(
        request,
        "services/catalogue.html",
        {"q": search, "versions": queries.published_items(search), "bundles": queries.bundles()},
    )


def item_page(request, code):
    item = get_object_or_404(ServiceItem, code=code)
    version = item.current_version()
    if version is None:
        raise PermissionDenied("this item has no published version")
    return render(
        request, "services/checklist.html", {"versions": [version], "item": item, "title": version.name}
    )


def bundle_page(request, code):
    bundle = get_object_or_404(Bundle, code=code)
    versions = queries.bundle_versions(bundle)
    return render(
        request,
        "services/checklist.html",
        {
            "versions": versions,
            "bundle": bundle,
            "title": bundle.name,
            "members": bundle.members.select_related("item"),
        },
    )


@login_required
@require_POST
def start(request):
    applicant = request.user
    if request.POST.get("applicant") and queries.is_clerk(request.user):
        applicant = core_queries.user_named(request.POST["applicant"])
        if applicant is None:
            messages.error(request, _("applicant: no account %(name)s") % {"name": request.POST["applicant"]})
            return redirect("services:window")
    bundle = Bundle.objects.filter(code=request.POST.get("bundle", "")).first()
    item = ServiceItem.objects.filter(code=request.POST.get("item", "")).first()
    created = {}

    def run():
        created["app"] = actions.start_application(
            applicant=applicant,
            holder_name=request.POST.get("holder_name", applicant.display_name),
            holder_id=request.POST.get("holder_id", ""),
            items=[item] if item else None,
            bundle=bundle,
            actor=request.user,
            identity_checked=request.POST.get("identity_checked") == "yes",
        )

    if _attempt(request, run, _("Application started.")):
        return redirect("services:application", number=created["app"].number)
    return redirect(request.META.get("HTTP_REFERER") or "services:catalogue")


@login_required
def my_applications(request):
    return render(
        request,
        "services/my_applications.html",
        {"applications": queries.applications_for(request.user).filter(applicant=request.user)},
    )


@login_required
def application_page(request, number):
    application = queries.get_application_for(request.user, number)
    needs = (
        queries.needs_of(application) if application.answers or not queries.situations_of(application) else []
    )
    uploaded = {u.need_key: u for u in application.uploads.defer("content")}
    missing = {n.key for n in queries.outstanding_of(application)} if needs else set()
    tasks = list(
        application.tasks.select_related("version__item", "department").prefetch_related("depends_on")
    )
    return render(
        request,
        "services/application.html",
        {
            "app": application,
            "situations": queries.situations_of(application),
            "needs": needs,
            "uploaded": uploaded,
            "materials": _materials(application) if uploaded or application.fetched else [],
            "missing": missing,
            "preview": queries.fetchable_needs(application) if needs else [],
            "is_applicant": request.user.pk == application.applicant_id,
            "is_clerk": queries.is_clerk(request.user),
            "editable": application.status in (AppStatus.DRAFT, AppStatus.CORRECTION),
            "notice": getattr(application, "correction", None)
            if hasattr(application, "correction")
            else None,
            "tasks": [(t, queries.task_timer(t)) for t in tasks],
            "results": application.results.all(),
            "rating": getattr(application, "rating", None) if hasattr(application, "rating") else None,
            "stats": queries.application_stats(application),
            "versions": queries.versions_of(application),
        },
    )


@login_required
@require_POST
def application_step(request, number, step):
    application = queries.get_application_for(request.user, number)
    actor, post = request.user, request.POST
    steps = {
        "answer": (
            lambda: actions.answer_situations(
                application,
                {
                    s.key: post.get(f"answers.{s.key}", "")
                    for s in queries.situations_of(application)
                    if post.get(f"answers.{s.key}")
                },
                actor=actor,
            ),
            _("Answers saved; your checklist is ready."),
        ),
        "fetch": (
            lambda: actions.fetch_records(application, consent=post.get("consent") == "yes", actor=actor),
            _("The records the government holds were fetched with your consent."),
        ),
        "upload": (lambda: _upload(request, application), _("File accepted.")),
        "commit": (
            lambda: actions.sign_commitment(application, post.get("need", ""), actor=actor),
            _("Commitment signed."),
        ),
        "submit": (lambda: actions.submit_application(application, actor=actor), _("Application submitted.")),
        "accept": (
            lambda: actions.accept_application(application, actor=actor),
            _("Application accepted; approval tasks started."),
        ),
        "correct": (
            lambda: actions.send_correction_notice(
                application,
                [{"key": key, "reason": post.get(f"reason.{key}", "")} for key in post.getlist("need")],
                actor=actor,
            ),
            _("Correction notice sent."),
        ),
        "rate": (
            lambda: actions.rate_application(
                application, score=_int(post.get("score")), comment=post.get("comment", ""), actor=actor
            ),
            _("Thank you for your rating."),
        ),
    }
    if step not in steps:
        raise PermissionDenied("unknown step")
    fn, success = steps[step]
    _attempt(request, fn, success)
    return redirect("services:application", number=application.number)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _upload(request, application):
    need = request.POST.get("need", "")
    upload = request.FILES.get("file")
    if weblimits.refused(request):
        raise ValidationError({f"materials.{need}": "the limit is 10 MB"})
    if upload is None:
        raise ValidationError({f"materials.{need}": "choose a file to upload"})
    if upload.size > 10 * 1024 * 1024 + 1:
        raise ValidationError({f"materials.{need}": "the limit is 10 MB"})
    actions.upload_material(
        application, need, filename=upload.name, content=upload.read(), actor=request.user
    )


# the words of the registry's record fields; a field not named here is shown under its own key
RECORD_FIELDS = {
    "name": pgettext_lazy("record field", "Name"),
    "number": pgettext_lazy("record field", "Number"),
    "valid_until": pgettext_lazy("record field", "Valid until"),
    "address": pgettext_lazy("record field", "Address"),
    "area_m2": pgettext_lazy("record field", "Area (m²)"),
    "parcel": pgettext_lazy("record field", "Parcel"),
}


def _materials(application) -> list[dict]:
    """The application's materials for the inline viewer (services/_materials.html): a fetched record's
    data as labelled facts, in the order the registry gave them."""
    materials = queries.materials_of(application)
    for entry in materials:
        record = entry.get("record")
        if record:
            entry["facts"] = [(RECORD_FIELDS.get(k, k), v) for k, v in (record.get("data") or {}).items()]
    return materials


# the shortest name of each accepted type (.jpg, not .jpeg), from the upload check's own table
MATERIAL_EXTENSIONS = {kind: min(names, key=len).lstrip(".") for kind, names in EXTENSIONS.items()}
# A material is shown as what it was stored as and nothing more: no script, no fetches, framed only by
# our own pages (the application and approval pages embed it), kept out of shared caches.
MATERIAL_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=3600",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Chromium refuses to show a PDF in a sandboxed document, so a PDF is denied every source instead; an
# image (opened full size) is sandboxed as well.
MATERIAL_CSP = {
    "application/pdf": "default-src 'none'; frame-ancestors 'self'",
    "image/jpeg": "default-src 'none'; frame-ancestors 'self'; sandbox",
    "image/png": "default-src 'none'; frame-ancestors 'self'; sandbox",
}


@login_required
@xframe_options_sameorigin
def download_upload(request, pk):
    upload = get_object_or_404(Upload, pk=pk)
    queries.get_application_for(request.user, upload.application.number)
    # Only PDF, JPEG and PNG are ever stored (sniffed by content on upload); anything else that reached
    # the table some other way (HTML, SVG, ...) is never rendered: it is handed over as opaque bytes.
    inline = upload.content_type in MATERIAL_CSP
    response = HttpResponse(
        bytes(upload.content), content_type=upload.content_type if inline else "application/octet-stream"
    )
    extension = MATERIAL_EXTENSIONS.get(upload.content_type, "bin")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{upload.need_key}-{upload.pk}.{extension}"'
    response["Content-Security-Policy"] = MATERIAL_CSP.get(upload.content_type, "default-src 'none'; sandbox")
    for name, value in MATERIAL_HEADERS.items():
        response[name] = value
    return response


# ----------------------------------------------------------------------------- window, approvals


@login_required
def window(request):
    queries.require_clerk(request.user)
    return render(
        request,
        "services/window.html",
        {
            "inbox": queries.window_inbox(),
            "versions": queries.published_items(),
            "bundles": queries.bundles(),
        },
    )


@login_required
@require_POST
def verify_identity(request):
    queries.require_clerk(request.user)
    citizen = core_queries.user_named(request.POST.get("applicant", ""))
    if citizen is None:
        messages.error(
            request, _("applicant: no account %(name)s") % {"name": request.POST.get("applicant", "")}
        )
        return redirect("services:window")

    def run():
        actions.verify_identity(
            citizen,
            id_number=request.POST.get("id_number", ""),
            full_name=request.POST.get("full_name", ""),
            actor=request.user,
        )

    _attempt(request, run, _("Identity verified."))
    return redirect("services:window")


@login_required
def tasks_page(request):
    tasks = queries.tasks_for(request.user).exclude(status__in=[TaskStatus.APPROVED, TaskStatus.REFUSED])
    done = queries.tasks_for(request.user).filter(status__in=[TaskStatus.APPROVED, TaskStatus.REFUSED])
    department = request.user.department if request.user.role == "department" else None
    # each open task shows its application's materials inline above the decision, so an approver reads
    # them before approving; an application with several tasks here is read once
    materials = {}
    rows = []
    for task in tasks:
        if task.application_id not in materials:
            materials[task.application_id] = _materials(task.application)
        rows.append((task, queries.task_timer(task), materials[task.application_id]))
    return render(
        request,
        "services/tasks.html",
        {
            "tasks": rows,
            "done": done.order_by("-decided_at")[:20],
            "kinds": SuspensionKind.choices,
            "department": department,
            "rectifications": queries.rectifications_for(department) if department else [],
        },
    )


@login_required
@require_POST
def task_step(request, pk, step):
    task = get_object_or_404(ApprovalTask, pk=pk)
    actor, post = request.user, request.POST
    steps = {
        "approve": (
            lambda: actions.approve_task(task, note=post.get("note", ""), actor=actor),
            _("Approved."),
        ),
        "refuse": (
            lambda: actions.refuse_task(task, reason=post.get("reason", ""), actor=actor),
            _("Refused."),
        ),
        "suspend": (
            lambda: actions.suspend_task(
                task, kind=post.get("kind", ""), reason=post.get("reason", ""), actor=actor
            ),
            _("Clock suspended."),
        ),
        "resume": (lambda: actions.resume_task(task, actor=actor), _("Clock resumed.")),
    }
    if step not in steps:
        raise PermissionDenied("unknown step")
    fn, success = steps[step]
    _attempt(request, fn, success)
    return redirect("services:tasks")


@login_required
@require_POST
def close_rectification(request, pk):
    rect = get_object_or_404(Rectification, pk=pk)
    _attempt(
        request,
        lambda: actions.close_rectification(
            rect, response=request.POST.get("response", ""), actor=request.user
        ),
        _("Rectification closed."),
    )
    return redirect("services:tasks")


# ----------------------------------------------------------------------------- administrators, leaders


def _require_admin(user):
    catalogue.require_catalogue_admin(user if user.is_authenticated else None)
    if not user.is_authenticated:
        raise PermissionDenied


@login_required
def editor(request):
    _require_admin(request.user)
    rows = []
    for item in queries.all_items():
        draft = item.draft()
        rows.append(
            {
                "item": item,
                "current": item.current_version(),
                "draft": draft,
                "findings": len(catalogue.findings_for(draft)) if draft else 0,
            }
        )
    return render(request, "services/editor.html", {"rows": rows})


@login_required
def editor_item(request, code):
    _require_admin(request.user)
    item = get_object_or_404(ServiceItem, code=code)
    text, yaml_error, form = None, "", None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "draft":
            _attempt(
                request, lambda: services_actions.start_draft(item, actor=request.user), _("Draft started.")
            )
            return redirect("services:editor-item", code=code)
        draft = item.draft()
        if draft is None:
            messages.error(request, _("version: there is no draft; start one first"))
            return redirect("services:editor-item", code=code)
        if action in ("form", "more-situations", "more-materials"):
            more = action.removeprefix("more-") if action != "form" else ""
            form = editor_forms.from_post(request.POST, more=more)
            if action == "form" and _save_form(request, draft, form):
                return redirect("services:editor-item", code=code)
        elif action == "save":
            text = request.POST.get("definition", "")
            data, yaml_error = _read_yaml(text)
            if not yaml_error and _attempt(
                request,
                lambda: services_actions.update_draft(draft, data, actor=request.user),
                _("Draft saved."),
            ):
                return redirect("services:editor-item", code=code)
            yaml_error = yaml_error or _("The definition was not saved; see the messages above.")
        elif action == "publish":
            if _publish(request, draft):
                return redirect("services:editor-item", code=code)
    draft = item.draft()
    findings = catalogue.findings_for(draft) if draft else []
    if draft is not None:
        stored = catalogue.editable_dict(draft)
        form = form or editor_forms.for_draft(stored)
        editor_forms.place_findings(form, findings)
        if text is None:
            text = yaml.safe_dump(stored, allow_unicode=True, sort_keys=False, width=110)
    return render(
        request,
        "services/editor_item.html",
        {
            "item": item,
            "draft": draft,
            "current": item.current_version(),
            "findings": findings,
            "editor": form,
            "text": text,
            "yaml_error": yaml_error,
            "versions": ItemVersion.objects.filter(item=item).order_by("-number"),
        },
    )


def _publish(request, draft) -> bool:
    """Publish through the action; the linter's refusal is told in the page's language (the findings
    themselves are next to their fields), any other refusal as the action words it."""
    findings = catalogue.findings_for(draft)
    try:
        with transaction.atomic():
            services_actions.publish_version(draft, actor=request.user)
    except ValidationError as exc:
        if findings:
            messages.error(
                request,
                _("Not published: the linter found %(n)s problems; each is shown next to its field.")
                % {"n": len(findings)},
            )
        else:
            message_errors(request, exc)
        return False
    messages.success(request, _("Published."))
    return True


def _save_form(request, draft, form) -> bool:
    """Save the structured form through ``update_draft``; a refusal lands next to its field."""
    data = editor_forms.build(form)
    if data is None:
        messages.error(request, _("The draft was not saved: correct the fields marked below."))
        return False
    try:
        with transaction.atomic():
            services_actions.update_draft(draft, data, actor=request.user)
    except ValidationError as exc:
        editor_forms.place_refusal(form, exc)
        messages.error(request, _("The draft was not saved: correct the fields marked below."))
        return False
    messages.success(request, _("Draft saved."))
    return True


def _read_yaml(text: str) -> tuple[object, str]:
    """The YAML box's definition, or an error in the page's language naming the line."""
    try:
        return yaml.safe_load(text), ""
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if mark is None:
            return None, _("Definition (YAML): the text cannot be read as YAML.")
        lines = text.splitlines()
        line = lines[mark.line].strip() if mark.line < len(lines) else ""
        return None, _(
            "Definition (YAML): line %(line)s, column %(column)s cannot be read: «%(text)s». "
            "Check the indentation and the colon after each field name."
        ) % {"line": mark.line + 1, "column": mark.column + 1, "text": line}


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


@login_required
def report(request):
    if queries.role_of(request.user) not in {"leader", "admin", "auditor"}:
        raise PermissionDenied
    from cityloop.services.models import CatalogueSnapshot

    first = CatalogueSnapshot.objects.order_by("taken_on").first()
    start = _date(request.GET.get("from"), first.taken_on if first else dt.date.today())
    end = _date(request.GET.get("to"), dt.date.today())
    old, new = catalogue.snapshot_on(start), catalogue.snapshot_on(end)
    rows = reductions.compare(old.data, new.data) if old and new else []
    table = [
        {
            "row": r,
            "cells": [
                {"before": r.before[m], "after": r.after[m], "pct": r.percent(m)} for m in reductions.MEASURES
            ],
        }
        for r in rows
    ]
    return render(
        request,
        "services/report.html",
        {
            "start": start,
            "end": end,
            "old": old,
            "new": new,
            "table": table,
            "total": table[-1] if table else None,
            "departments": queries.department_stats(),
        },
    )
