"""The request detail page (``hotline:request-detail``): timeline, orders, and the forms each role may use."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render

from cityloop.brain import queries as brain_queries
from cityloop.core.permissions import Role
from cityloop.hotline import queries, rules
from cityloop.hotline.forms import ORDER_FORMS, ClassifyForm, DispatchForm, ExtensionDecisionForm, RevealForm
from cityloop.hotline.handling import reply_quality
from cityloop.hotline.handling.dispatch import resolve_targets, suggest_targets
from cityloop.hotline.models import Channel, Extension, OrderStatus, Request
from cityloop.hotline.views_common import categories_of, timer, unit_choices
from cityloop.notify import queries as notify_queries


def visible_request(request, pk) -> Request:
    """The request if this person may see it; 404 otherwise (existence is not confirmed to strangers)."""
    return get_object_or_404(
        queries.requests_for(request.user).select_related(
            "category",
            "suggested_category",
            "street",
            "district",
            "community",
            "lead_street",
            "lead_department",
            "merged_into",
        ),
        pk=pk,
    )


def suggested_units(req: Request) -> list[tuple[str, object, str]]:
    """Where the responsibility list would send the request: (kind, unit, route), or [] with no answer."""
    try:
        return resolve_targets(suggest_targets(req), req.city)
    except ValidationError:
        return []


def _order_row(order, user, bound: dict, checks: dict, staff: bool, staged: dict):
    active = order.status in (OrderStatus.PENDING, OrderStatus.SIGNED)
    due = order.response_due if order.status == OrderStatus.PENDING else order.finish_due
    mine = queries.is_unit_member(user, order)
    forms = {}
    if mine and active:
        for verb, form_class in ORDER_FORMS.items():
            given = bound.get((order.pk, verb))
            forms[verb] = given or form_class(prefix=f"o{order.pk}-{verb}")
    return {
        "order": order,
        "timer": timer(due) if active else None,
        "mine": mine,
        "active": active,
        "forms": forms,
        "extensions": list(order.extensions.order_by("requested_at")),
        # the check of a reply not yet sent (the unit's form), and the stored score of a sent one (staff)
        "check": _quality_view(checks[order.pk]) if order.pk in checks else None,
        # the reply's photos kept between the check and the send (reply_photos), with their thumbnails
        "staged": [
            {"token": p.token, "name": p.original, "src": p.data_url()} for p in staged.get(order.pk, [])
        ],
        "quality": _quality_view(order.reply_quality) if staff and order.reply_quality else None,
    }


def _quality_view(stored: dict) -> dict:
    return {
        "overall": stored.get("overall"),
        "flagged": stored.get("flagged"),
        "rows": reply_quality.explain(stored),
    }


def render_detail(
    request,
    req: Request,
    *,
    bound: dict | None = None,
    revealed: dict | None = None,
    reveal_form=None,
    reply_checks: dict | None = None,
    staged_photos: dict | None = None,
    status=200,
):
    """Render the detail page; ``bound`` holds forms that came back with errors, keyed by (order pk, verb)."""
    bound = bound or {}
    user = request.user
    staff = user.role != Role.CITIZEN or user.is_superuser
    dispatcher = queries.is_dispatcher(user)
    city = req.city
    masked = rules.masked_contact(
        req.caller_name, req.caller_phone, confidential=req.confidential and not dispatcher
    )
    orders = [
        _order_row(o, user, bound, reply_checks or {}, staff, staged_photos or {})
        for o in req.orders.select_related("street", "department").order_by("id")
    ]
    context = {
        "req": req,
        "staff": staff,
        "dispatcher": dispatcher,
        "orders": orders,
        "timeline": req.events.select_related("actor", "order__street", "order__department").order_by(
            "at", "id"
        )
        if staff
        else queries.public_timeline(req),
        "masked_name": masked[0],
        "masked_phone": masked[1],
        "can_reveal": queries.can_see_contact(user, req),
        "revealed": revealed,
        "reveal_form": reveal_form or RevealForm(auto_id="reveal-%s"),
        "response_timer": timer(req.response_due) if req.first_response_at is None and req.is_open else None,
        "finish_timer": timer(req.finish_due) if req.is_open and req.replied_at is None else None,
        "attachments": req.attachments.all(),
        "follow_ups": queries.answers(req),
        "supporters": queries.supporter_count(req),
        # a sensor or meter case: why each of its alarms fired, with the readings around it
        "brain_alarms": brain_queries.case_alarms(req.pk, user)
        if staff and req.channel == Channel.BRAIN
        else [],
    }
    if dispatcher:
        # who the city told what about this request (the citizen and the units), without the inboxes
        context["told"] = [
            {"m": m, "to": rules.masked_address(m.address) if m.channel in ("sms", "email") else m.address}
            for m in notify_queries.sent_about("request", req.tracking_no)
            if m.channel != "inbox"
        ]
        categories = categories_of(city)
        units = unit_choices(city)
        pending = Extension.objects.filter(order__request=req, approved__isnull=True).select_related(
            "order__street", "order__department", "requested_by"
        )
        context.update(
            {
                "classify_form": bound.get("classify")
                or ClassifyForm(
                    categories=categories, initial={"category": req.category.code if req.category_id else ""}
                ),
                "dispatch_form": bound.get("dispatch") or DispatchForm(units=units),
                "targets": suggested_units(req) if req.status == "new" else [],
                "duplicates": queries.duplicate_candidates(req, user) if req.status == "new" else [],
                "pending_extensions": [
                    (e, bound.get(("extension", e.pk)) or ExtensionDecisionForm(prefix=f"x{e.pk}"))
                    for e in pending
                ],
                "arbitrations": req.arbitrations.filter(decided_at__isnull=True),
                # opened from the queue: dispatching here goes back to it, in its order, the next one first
                "from_queue": request.GET.get("from") == "queue" or request.POST.get("next") == "queue",
                "queue_order": request.GET.get("order") or request.POST.get("order", ""),
            }
        )
    return render(request, "hotline/detail.html", context, status=status)


@login_required
def request_detail(request, pk):
    return render_detail(request, visible_request(request, pk))
