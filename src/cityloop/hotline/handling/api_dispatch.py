"""Dispatcher operations: the queue, classify, dispatch (one click or bulk), merge, extensions,
arbitration."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone
from ninja import Query, Router, Status

from cityloop.hotline import actions, queries, rules
from cityloop.hotline.api_common import AUTH, actor_of, category_of, place, request_out, visible_request
from cityloop.hotline.handling.actions import nearly_overdue_window
from cityloop.hotline.handling.dispatch import suggestions_for
from cityloop.hotline.models import Arbitration, Extension
from cityloop.hotline.schemas import (
    ERRORS,
    ArbitrationOut,
    BulkIn,
    BulkOut,
    ClassifyIn,
    DecideArbitrationIn,
    DecideExtensionIn,
    DispatchIn,
    ExtensionOut,
    MergeIn,
    OrderOut,
    QueueItem,
    RequestOut,
    UnitRef,
)
from cityloop.org import queries as org_queries

router = Router(auth=AUTH, tags=["dispatch"])


def _dispatcher(request):
    actor = actor_of(request)
    queries.require_dispatcher(actor)
    return actor


def _unit(city, ref: UnitRef, field: str = "units"):
    unit = org_queries.unit(city, "street" if ref.kind == "street" else "department", code=ref.code)
    if unit is None:
        raise ValidationError({field: f"no {ref.kind} with code {ref.code!r} in this city"})
    return unit


def _targets(suggested: list[tuple[str, object, str]]) -> list[str]:
    return [f"{kind}:{unit.code}" for kind, unit, _route in suggested]  # type: ignore[attr-defined]


@router.get(
    "/dispatch/queue",
    response={200: list[QueueItem], **ERRORS},
    summary="The dispatch queue",
    description="Undispatched requests, oldest first, with their response timer and where the "
    "responsibility list would send them. Dispatchers only.",
)
def queue(request, limit: int = Query(100, ge=1, le=500)):
    _dispatcher(request)
    now, warn = timezone.now(), nearly_overdue_window()
    items = []
    pending = list(queries.dispatch_queue()[:limit])
    suggested = suggestions_for(pending)
    for r in pending:
        items.append(
            {
                "tracking_no": r.tracking_no,
                "title": r.title,
                "created_at": r.created_at,
                "street": place(r.street),
                "category": r.category.code if r.category_id else None,
                "suggested_category": r.suggested_category.code if r.suggested_category_id else None,
                "suggestion_confidence": r.suggestion_confidence,
                "suggested_units": _targets(suggested[r.pk]),
                "response_due": r.response_due,
                "timer": rules.timer_state(now, r.response_due, warn=warn),
            }
        )
    return items


@router.post(
    "/requests/{tracking_no}/classify",
    response={200: RequestOut, **ERRORS},
    summary="Classify",
    description="The dispatcher's category; the classifier's suggestion stays beside it.",
)
def classify(request, tracking_no: str, payload: ClassifyIn):
    actor = _dispatcher(request)
    found = visible_request(actor, tracking_no)
    actions.classify_request(found, category_of(found.city, payload.category), actor=actor)
    return request_out(actor, found)


@router.post(
    "/requests/{tracking_no}/dispatch",
    response={201: list[OrderOut], **ERRORS},
    summary="Dispatch",
    description="Send orders to the listed units (the first one leads: 首接负责), or with "
    "`accept_suggestion` where the responsibility list points (直派 to a department, "
    "local matters to the street).",
)
def dispatch(request, tracking_no: str, payload: DispatchIn):
    from cityloop.hotline.api_common import order_out

    actor = _dispatcher(request)
    found = visible_request(actor, tracking_no)
    if payload.accept_suggestion and payload.units:
        raise ValidationError({"units": "give units or accept the suggestion, not both"})
    if payload.accept_suggestion:
        orders = actions.accept_suggestion(found, actor=actor)
    else:
        units = [
            (ref.kind, _unit(found.city, ref), "street" if ref.kind == "street" else "direct")
            for ref in payload.units
        ]
        orders = actions.dispatch_request(found, units=units, actor=actor, note=payload.note)
    return Status(201, [order_out(o) for o in orders])


@router.post(
    "/dispatch/bulk",
    response={200: BulkOut, **ERRORS},
    summary="Bulk dispatch",
    description="Accept the suggestion for each listed request; one without a suggestion (or not "
    "waiting for dispatch) is skipped with the reason.",
)
def bulk(request, payload: BulkIn):
    actor = _dispatcher(request)
    found = {
        r.tracking_no: r for r in queries.requests_for(actor).filter(tracking_no__in=payload.tracking_nos)
    }
    unknown = [no for no in payload.tracking_nos if no not in found]
    if unknown:
        raise ValidationError({"tracking_nos": f"unknown request(s): {', '.join(unknown)}"})
    result = actions.bulk_dispatch([found[no] for no in dict.fromkeys(payload.tracking_nos)], actor=actor)
    return {
        "dispatched": [r.tracking_no for r in result.dispatched],
        "skipped": [{"tracking_no": r.tracking_no, "reason": why} for r, why in result.skipped],
    }


@router.post(
    "/requests/{tracking_no}/merge",
    response={200: RequestOut, **ERRORS},
    summary="Merge a duplicate",
    description="The request follows the primary `into`: handled once, and its citizen is still followed up.",
)
def merge(request, tracking_no: str, payload: MergeIn):
    actor = _dispatcher(request)
    duplicate = visible_request(actor, tracking_no)
    into = queries.requests_for(actor).filter(tracking_no=payload.into).first()
    if into is None:
        raise ValidationError({"into": f"unknown request {payload.into!r}"})
    actions.merge_requests(duplicate, into=into, actor=actor)
    return request_out(actor, duplicate)


@router.get(
    "/requests/{tracking_no}/duplicates",
    response={200: list[RequestOut], **ERRORS},
    summary="Possible duplicates",
    description="Open requests in the same category within the configured radius (200 m) and window "
    "(72 h), offered for merging. Dispatchers only (403 for anyone else).",
)
def duplicates(request, tracking_no: str):
    actor = _dispatcher(request)
    found = visible_request(actor, tracking_no)
    return [request_out(actor, r) for r in queries.duplicate_candidates(found, actor)]


def _extension_out(ext: Extension) -> dict:
    return {
        "id": ext.pk,
        "order_id": ext.order_id,
        "tracking_no": ext.order.request.tracking_no,
        "days": ext.days,
        "reason": ext.reason,
        "requested_at": ext.requested_at,
        "approved": ext.approved,
        "decision_note": ext.decision_note,
    }


@router.get(
    "/dispatch/extensions",
    response={200: list[ExtensionOut], **ERRORS},
    summary="Extension requests",
    description="Extension requests waiting for a dispatcher's decision, oldest first.",
)
def extensions(request):
    _dispatcher(request)
    return [_extension_out(e) for e in queries.pending_extensions()]


@router.post(
    "/extensions/{extension_id}/decide",
    response={200: ExtensionOut, **ERRORS},
    summary="Approve or refuse an extension",
    description="Approving adds the working days to the order's finish limit; refusing needs a note.",
)
def decide_extension(request, extension_id: int, payload: DecideExtensionIn):
    actor = _dispatcher(request)
    ext = Extension.objects.filter(pk=extension_id).select_related("order__request__city__pack").first()
    if ext is None:
        raise Http404(f"no extension {extension_id}")
    actions.decide_extension(ext, approve=payload.approve, note=payload.note, actor=actor)
    return _extension_out(ext)


def _arbitration_out(a: Arbitration) -> dict:
    return {
        "id": a.pk,
        "tracking_no": a.request.tracking_no,
        "opened_at": a.opened_at,
        "units": a.units,
        "reason": a.reason,
        "decided_at": a.decided_at,
        "decision": a.decision,
    }


@router.get(
    "/dispatch/arbitrations",
    response={200: list[ArbitrationOut], **ERRORS},
    summary="Arbitrations",
    description="Requests returned repeatedly between units, waiting for the city-level decision.",
)
def arbitrations(request, open_only: bool = True):
    _dispatcher(request)
    qs = (
        queries.open_arbitrations()
        if open_only
        else Arbitration.objects.select_related("request").order_by("opened_at", "id")
    )
    return [_arbitration_out(a) for a in qs]


@router.post(
    "/arbitrations/{arbitration_id}/decide",
    response={200: ArbitrationOut, **ERRORS},
    summary="Decide an arbitration",
    description="Name the unit that must handle it; it is dispatched.",
)
def decide_arbitration(request, arbitration_id: int, payload: DecideArbitrationIn):
    actor = _dispatcher(request)
    arbitration = Arbitration.objects.filter(pk=arbitration_id).select_related("request__city__pack").first()
    if arbitration is None:
        raise Http404(f"no arbitration {arbitration_id}")
    unit = _unit(arbitration.request.city, payload.unit, field="unit")
    actions.decide_arbitration(
        arbitration, kind=payload.unit.kind, unit=unit, decision=payload.decision, actor=actor
    )
    return _arbitration_out(arbitration)


@router.get(
    "/follow-up/queue",
    response={200: list[RequestOut], **ERRORS},
    summary="The follow-up queue",
    description="Replied requests (and merged duplicates of replied ones) waiting for the citizen's "
    "answer, oldest reply first. Dispatchers only.",
)
def follow_up_queue(request, limit: int = Query(100, ge=1, le=500)):
    actor = actor_of(request)
    if not queries.is_dispatcher(actor):
        raise PermissionDenied("only a hotline dispatcher may do this")
    qs = queries.follow_up_queue().select_related(
        "district", "street", "community", "category", "suggested_category", "merged_into"
    )
    return [request_out(actor, r) for r in qs[:limit]]
