"""Cases from the city brain: opened by an alarm, closed only when the data says the problem is gone."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from cityloop.core import audit
from cityloop.core.actors import Actor
from cityloop.hotline.events import event, lock, set_status
from cityloop.hotline.followup.actions import reopen_to_same_units
from cityloop.hotline.handling.dispatch import dispatch_request
from cityloop.hotline.intake.actions import Submission, submit_request
from cityloop.hotline.models import Channel, Event, Request, Status, Urgency
from cityloop.org import queries as org_queries

# Who opens a case, as the timeline names it (other sources are shown as given).
_SOURCES = {"brain": gettext_lazy("the city brain")}


@transaction.atomic
def open_case(
    *,
    source: str,
    source_ref: str,
    title: str,
    description: str,
    department,
    street=None,
    category=None,
    lon=None,
    lat=None,
    evidence: dict | None = None,
    urgency: str = Urgency.NORMAL,
    actor: Actor,
) -> Request:
    """Open (or return the already open) case for one ongoing problem, sent straight to its owner."""
    if not source_ref:
        raise ValidationError({"source_ref": "a case needs the reference of the problem it is about"})
    existing = (
        Request.objects.filter(source_ref=source_ref, channel=Channel.BRAIN)
        .exclude(status__in=[Status.CLOSED, Status.MERGED])
        .first()
    )
    if existing is not None:
        return existing
    city = department.city
    address = "" if lon is not None else (street.name if street is not None else department.name)
    if category is None:
        # A case's category is known from its source, never guessed by the classifier.
        category = _fallback_category(department)
    request, _ = submit_request(
        Submission(
            description=description,
            title=title,
            lon=lon,
            lat=lat,
            address=address,
            category_code=category.code if category is not None else "",
            urgency=urgency,
            source_ref=source_ref,
            evidence={"source": source, **(evidence or {})},
        ),
        city=city,
        channel=Channel.BRAIN,
        actor=actor,
    )
    if request.street_id is None and street is not None:
        request.street, request.district = street, street.parent
        request.save(update_fields=["street", "district", "updated_at"])
    # the note is the timeline's text, written in the city's language like the case's description
    with translation.override(settings.LANGUAGE_CODE):
        note = translation.gettext("Opened by %(source)s") % {"source": _SOURCES.get(source, source)}
    dispatch_request(request, units=[("department", department, "direct")], actor=actor, note=note)
    return request


def _fallback_category(department):
    duty = (
        department.responsibilities.select_related("category")
        .order_by("category__depth", "category__code")
        .first()
    )
    if duty is not None:
        return duty.category
    return org_queries.categories(department.city).order_by("depth", "code").first()


@transaction.atomic
def add_case_evidence(request: Request, *, text: str, evidence: dict, actor: Actor) -> Event:
    """More of the same ongoing problem (another alarm of the case's device): a line on the case's
    timeline for the units handling it, instead of a second case."""
    lock(request)
    if request.status in (Status.CLOSED, Status.MERGED):
        raise ValidationError(
            {"status": gettext_lazy("evidence can only be added to a case that is still open")}
        )
    if not (text or "").strip():
        raise ValidationError({"text": gettext_lazy("say what the new evidence shows")})
    line = event(request, "evidence", actor=actor, public=False, text=text.strip(), **evidence)
    audit.record(actor, "request.add_evidence", request, evidence=evidence)
    return line


@transaction.atomic
def confirm_fixed(request: Request, *, evidence: dict, actor: Actor) -> Request:
    """The readings stayed normal long enough: close the case that waited for verification."""
    lock(request)
    if request.status != Status.AWAITING_VERIFICATION:
        raise ValidationError(
            {"status": f"{request.tracking_no} is {request.status}, not awaiting verification"}
        )
    request.closed_at = timezone.now()
    request.resolved = True
    event(request, "verified", actor=actor, public=True, text="readings back to normal", **evidence)
    set_status(request, Status.CLOSED, actor=actor, action="request.verify_closed", evidence=evidence)
    return request


@transaction.atomic
def reopen_case(request: Request, *, reason: str, evidence: dict, actor: Actor) -> Request:
    """The problem came back while waiting for verification or after closing: reopen the case."""
    if not reason.strip():
        raise ValidationError({"reason": "say why the case is reopened"})
    lock(request)
    if request.status not in (Status.AWAITING_VERIFICATION, Status.CLOSED):
        raise ValidationError(
            {
                "status": f"{request.tracking_no} is {request.status}; only a verified or waiting "
                "case can be reopened"
            }
        )
    audit.record(actor, "request.reopen_by_data", request, reason=reason, evidence=evidence)
    reopen_to_same_units(request, actor=actor, reason=reason)
    return request
