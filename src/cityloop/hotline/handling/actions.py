"""Handling by the receiving unit: sign, return, notes, contacts, extensions, reply; and reveals."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cityloop.core import audit
from cityloop.core import rules as clock
from cityloop.core.actors import Actor, person, signed_in
from cityloop.hotline import notices, queries, rules
from cityloop.hotline.events import event, lock, set_status
from cityloop.hotline.followup.citizen import issue_rating_link, tell_citizen
from cityloop.hotline.handling import reply_quality
from cityloop.hotline.models import Channel, Extension, Order, OrderStatus, Request, Status


def _order_status(order: Order, target: str) -> str:
    rules.check_order_transition(order.status, target)
    before, order.status = order.status, target
    return before


@transaction.atomic
def sign_order(order: Order, *, actor: Actor) -> Order:
    """签收: the unit takes the order; signing after the response limit is recorded as late."""
    queries.require_unit_member(actor, order)
    lock(order.request, order)
    before = _order_status(order, OrderStatus.SIGNED)
    order.signed_at = timezone.now()
    order.save(update_fields=["status", "signed_at"])
    late = order.signed_at > order.response_due
    audit.record(actor, "order.sign", order, before=before, after=order.status, late=late)
    event(order.request, "signed", actor=actor, order=order, public=True, late=late)
    request = order.request
    if request.status == Status.DISPATCHED:
        set_status(request, Status.IN_PROGRESS, actor=actor, action="request.start")
    return order


@transaction.atomic
def return_order(order: Order, *, reason: str, actor: Actor) -> Order:
    """退单: the unit sends the order back to the dispatcher with a reason."""
    queries.require_unit_member(actor, order)
    if not (reason or "").strip():
        raise ValidationError({"reason": gettext_lazy("a return needs a reason the dispatcher can act on")})
    lock(order.request, order)
    before = _order_status(order, OrderStatus.RETURNED)
    order.returned_at, order.returned_reason = timezone.now(), reason.strip()
    order.save(update_fields=["status", "returned_at", "returned_reason"])
    audit.record(
        actor, "order.return", order, before=before, after=order.status, reason=order.returned_reason
    )
    request = order.request
    event(request, "returned", actor=actor, order=order, text=order.returned_reason)
    request.return_count += 1
    if (
        order.lead
        and not request.orders.filter(status__in=[OrderStatus.PENDING, OrderStatus.SIGNED]).exists()
    ):
        set_status(request, Status.NEW, actor=actor, action="request.back_to_dispatcher")
        from cityloop.hotline.handling.dispatch import open_arbitration_if_needed

        open_arbitration_if_needed(request, actor=actor)
    else:
        request.save(update_fields=["return_count", "updated_at"])
    return order


def _require_active(order: Order) -> None:
    if order.status not in (OrderStatus.PENDING, OrderStatus.SIGNED):
        raise ValidationError(
            {
                "order": _("the order is %(status)s; nothing more can be recorded")
                % {"status": order.get_status_display()}
            }
        )


@transaction.atomic
def add_note(order: Order, *, text: str, public: bool = False, actor: Actor) -> None:
    queries.require_unit_member(actor, order)
    lock(order.request, order)
    _require_active(order)
    if not (text or "").strip():
        raise ValidationError({"text": gettext_lazy("a progress note cannot be empty")})
    event(order.request, "note", actor=actor, order=order, text=text.strip(), public=public)
    audit.record(actor, "order.note", order, public=public)


@transaction.atomic
def record_contact(order: Order, *, channel: str, summary: str, actor: Actor) -> None:
    """Each contact with the citizen is recorded; the first one answers the response limit."""
    queries.require_unit_member(actor, order)
    lock(order.request, order)
    _require_active(order)
    if channel not in {"phone", "visit", "sms", "email"}:
        raise ValidationError({"channel": "one of phone, visit, sms, email"})
    if not (summary or "").strip():
        raise ValidationError({"summary": gettext_lazy("say what was agreed with the citizen")})
    now = timezone.now()
    request = order.request
    if request.first_response_at is None:
        request.first_response_at = now
        request.save(update_fields=["first_response_at", "updated_at"])
    event(
        request,
        "contact",
        actor=actor,
        order=order,
        text=summary.strip(),
        channel=channel,
        within_limit=now <= order.response_due,
    )
    audit.record(actor, "order.contact", order, channel=channel)


@transaction.atomic
def request_extension(order: Order, *, days: int, reason: str, actor: Actor) -> Extension:
    queries.require_unit_member(actor, order)
    lock(order.request, order)
    _require_active(order)
    if not isinstance(days, int) or not 1 <= days <= 30:
        raise ValidationError({"days": gettext_lazy("between 1 and 30 working days")})
    if not (reason or "").strip():
        raise ValidationError({"reason": gettext_lazy("an extension needs a reason")})
    if order.extensions.filter(approved__isnull=True).exists():
        raise ValidationError(
            {"order": gettext_lazy("an extension request is already waiting for the dispatcher")}
        )
    extension = Extension.objects.create(
        order=order,
        requested_by=signed_in(actor),
        requested_at=timezone.now(),
        days=days,
        reason=reason.strip(),
    )
    audit.record(actor, "extension.request", extension, days=days)
    event(order.request, "extension_requested", actor=actor, order=order, text=reason.strip(), days=days)
    return extension


@transaction.atomic
def decide_extension(extension: Extension, *, approve: bool, note: str = "", actor: Actor) -> Extension:
    queries.require_dispatcher(actor)
    lock(extension.order.request, extension.order, extension)
    if extension.approved is not None:
        raise ValidationError({"extension": gettext_lazy("already decided")})
    if not approve and not (note or "").strip():
        raise ValidationError({"note": gettext_lazy("say why the extension is refused")})
    extension.approved, extension.decided_at, extension.decision_note = approve, timezone.now(), note.strip()
    extension.decided_by = person(actor)
    extension.save(update_fields=["approved", "decided_at", "decision_note", "decided_by"])
    order = extension.order
    if approve:
        cal = queries.calendar_of(order.request.city)
        before = order.finish_due
        order.finish_due = clock.add_working_days(order.finish_due, extension.days, cal)
        order.save(update_fields=["finish_due"])
        audit.record(actor, "extension.approve", extension, before=before, after=order.finish_due)
    else:
        audit.record(actor, "extension.refuse", extension, note=note)
    event(order.request, "extension_decided", actor=actor, order=order, text=note, approved=approve)
    notices.extension_decided(extension, approved=approve)
    return extension


@transaction.atomic
def reply_order(order: Order, *, outcome: str, text: str, actor: Actor, sent_anyway: bool = False) -> Order:
    """办结: the unit's answer; when every active order has answered, the request awaits follow-up.

    A sensor case (channel brain) waits for the data instead: it closes only after verification.
    The reply's quality (答复意见质量) is scored and kept with it; ``sent_anyway`` records that the
    unit saw the check flag the reply and sent it unchanged.
    """
    queries.require_unit_member(actor, order)
    if outcome not in rules.OUTCOMES:
        raise ValidationError({"outcome": f"one of {', '.join(rules.OUTCOMES)}"})
    if not (text or "").strip():
        raise ValidationError({"text": gettext_lazy("the reply to the citizen cannot be empty")})
    lock(order.request, order)
    if order.status == OrderStatus.PENDING:
        raise ValidationError({"order": gettext_lazy("sign the order before replying")})
    before = _order_status(order, OrderStatus.REPLIED)
    now = timezone.now()
    order.replied_at, order.reply, order.outcome = now, text.strip(), outcome
    quality = reply_quality.score_order_reply(order, order.reply, at=now)
    order.reply_quality = quality.as_dict()
    order.save(update_fields=["status", "replied_at", "reply", "outcome", "reply_quality"])
    audit.record(
        actor,
        "order.reply",
        order,
        before=before,
        after=order.status,
        outcome=outcome,
        quality=quality.overall,
        flagged=quality.flagged,
        problems=quality.problems(),
        sent_anyway=bool(sent_anyway and quality.flagged),
    )
    request = order.request
    event(request, "replied", actor=actor, order=order, text=order.reply, public=True, outcome=outcome)
    if request.orders.filter(status__in=[OrderStatus.PENDING, OrderStatus.SIGNED]).exists():
        return order
    request.replied_at, request.outcome = now, outcome
    if request.first_response_at is None:
        request.first_response_at = now
    target = Status.AWAITING_VERIFICATION if request.channel == Channel.BRAIN else Status.REPLIED
    set_status(request, target, actor=actor, action="request.reply", outcome=outcome)
    if target == Status.REPLIED:
        tell_citizen(request, "request.replied", reply=order.reply)
        issue_rating_link(request, actor=actor)
    for duplicate in request.merged.all():
        duplicate.replied_at, duplicate.outcome = now, outcome
        duplicate.save(update_fields=["replied_at", "outcome", "updated_at"])
        event(
            duplicate,
            "replied",
            actor=actor,
            text=order.reply,
            public=True,
            outcome=outcome,
            via=request.tracking_no,
        )
        if duplicate.closed_at is None:
            issue_rating_link(duplicate, actor=actor)
    return order


def reveal_contact(request: Request, *, actor: Actor, reason: str) -> dict:
    """The caller's name and phone, for someone allowed to see them; every reveal is audited, with why."""
    if not queries.can_see_contact(actor, request):
        raise PermissionDenied("you may not see this caller's contact details")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": gettext_lazy("say why you need the caller's contact (the reason is recorded)")}
        )
    with transaction.atomic():
        audit.record(actor, "request.reveal_contact", request, reason=reason)
    return {"name": request.caller_name, "phone": request.caller_phone, "email": request.caller_email}


def nearly_overdue_window() -> timedelta:
    from django.conf import settings

    return timedelta(hours=settings.HOTLINE["nearly_overdue_hours"])
