"""The receiving unit's side: its inbox of orders, and sign / return / notes / contacts / extensions /
reply."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from ninja import Query, Router, Status

from cityloop.core.queries import scope_of
from cityloop.hotline import actions, queries
from cityloop.hotline.api_common import AUTH, actor_of, order_out, visible_order
from cityloop.hotline.schemas import (
    ERRORS,
    ContactIn,
    ExtensionIn,
    ExtensionOut,
    NoteIn,
    OrderOut,
    ReplyIn,
    ReturnIn,
)

router = Router(auth=AUTH, tags=["orders"])


@router.get(
    "/orders",
    response={200: list[OrderOut], **ERRORS},
    summary="The unit's inbox",
    description="Orders received by the token user's street or department: `new` (awaiting "
    "signature, nearest response limit first), `in_progress` (signed, nearest finish limit "
    "first), `overdue` (past the response limit unsigned, or past the finish limit), "
    "`returned` (newest first); every order, newest first, without a filter.",
)
def inbox(
    request,
    filter: str | None = Query(None, description="new, in_progress, overdue or returned"),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0),
):
    actor = actor_of(request)
    scope = scope_of(actor)
    if scope.street_id is None and scope.department_id is None:
        raise PermissionDenied("only a street or a department has an inbox of orders")
    if filter and filter not in queries.INBOX_TABS:
        raise ValidationError({"filter": f"one of {', '.join(queries.INBOX_TABS)}"})
    if filter:
        qs = queries.inbox_orders(actor, filter)
    else:
        qs = (
            queries.orders_for_unit(actor)
            .select_related("request", "street", "department")
            .order_by("-dispatched_at", "-id")
        )
    return [order_out(o) for o in qs[offset : offset + limit]]


def _order(request, order_id: int):
    actor = actor_of(request)
    return actor, visible_order(actor, order_id)


@router.post(
    "/orders/{order_id}/sign",
    response={200: OrderOut, **ERRORS},
    summary="Sign for an order (签收)",
    description="The receiving unit takes the order; signing after the response limit is recorded as late.",
)
def sign(request, order_id: int):
    actor, order = _order(request, order_id)
    return order_out(actions.sign_order(order, actor=actor))


@router.post(
    "/orders/{order_id}/return",
    response={200: OrderOut, **ERRORS},
    summary="Return an order (退单)",
    description="Send the order back to the dispatcher with a reason; repeated returns between units "
    "open an arbitration.",
)
def return_(request, order_id: int, payload: ReturnIn):
    actor, order = _order(request, order_id)
    return order_out(actions.return_order(order, reason=payload.reason, actor=actor))


@router.post(
    "/orders/{order_id}/notes",
    response={201: OrderOut, **ERRORS},
    summary="Add a progress note",
    description="A note on the handling; `public` shows it on the citizen's track page.",
)
def note(request, order_id: int, payload: NoteIn):
    actor, order = _order(request, order_id)
    actions.add_note(order, text=payload.text, public=payload.public, actor=actor)
    return Status(201, order_out(order))


@router.post(
    "/orders/{order_id}/contacts",
    response={201: OrderOut, **ERRORS},
    summary="Record a contact",
    description="Each contact with the citizen is recorded; the first one answers the response limit.",
)
def contact(request, order_id: int, payload: ContactIn):
    actor, order = _order(request, order_id)
    actions.record_contact(order, channel=payload.channel, summary=payload.summary, actor=actor)
    return Status(201, order_out(order))


@router.post(
    "/orders/{order_id}/extensions",
    response={201: ExtensionOut, **ERRORS},
    summary="Ask for more time",
    description="An extension of the finish limit, in working days, needs a reason and a dispatcher's "
    "approval; one request may wait at a time.",
)
def extension(request, order_id: int, payload: ExtensionIn):
    actor, order = _order(request, order_id)
    ext = actions.request_extension(order, days=payload.days, reason=payload.reason, actor=actor)
    return Status(
        201,
        {
            "id": ext.pk,
            "order_id": order.pk,
            "tracking_no": order.request.tracking_no,
            "days": ext.days,
            "reason": ext.reason,
            "requested_at": ext.requested_at,
            "approved": ext.approved,
            "decision_note": ext.decision_note,
        },
    )


@router.post(
    "/orders/{order_id}/reply",
    response={200: OrderOut, **ERRORS},
    summary="Reply to the citizen (办结)",
    description="The unit's answer with its outcome; when every active order has replied the request "
    "waits for the follow-up (a sensor case waits for the data instead).",
)
def reply(request, order_id: int, payload: ReplyIn):
    actor, order = _order(request, order_id)
    return order_out(actions.reply_order(order, outcome=payload.outcome, text=payload.text, actor=actor))
