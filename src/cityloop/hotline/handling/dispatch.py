"""Dispatch (派单): the responsibility list proposes, the dispatcher decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cityloop.core import audit
from cityloop.core import rules as clock
from cityloop.core.actors import Actor, person
from cityloop.hotline import notices, queries, rules
from cityloop.hotline.events import event, lock, set_status
from cityloop.hotline.intake import learning
from cityloop.hotline.models import Arbitration, Order, OrderStatus, Request, Status
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Category


@transaction.atomic
def classify_request(request: Request, category: Category, *, actor: Actor) -> Request:
    """The dispatcher's choice of category; the classifier's suggestion stays beside it."""
    queries.require_dispatcher(actor)
    lock(request)
    if category.city_id != request.city_id:
        raise ValidationError({"category": "the category belongs to another city"})
    before = request.category.code if request.category_id else None
    request.category = category
    request.response_due, request.finish_due = _request_deadlines(request)
    request.save()
    event(request, "classified", actor=actor, category=category.code)
    audit.record(actor, "request.classify", request, before=before, after=category.code)
    learning.record_decision(request, actor=actor)
    return request


def _request_deadlines(request: Request):
    from cityloop.hotline.events import deadlines

    return deadlines(
        request.city,
        request.category or request.suggested_category,
        request.urgency,
        request.complex,
        request.created_at,
    )


def _route(request: Request, responsibility) -> list[rules.Target]:
    """Where the responsibility row (or none) sends this request."""
    if responsibility is None:
        return []
    return rules.route(
        responsible_department_id=responsibility.department_id,
        route_kind=responsibility.route,
        street_id=request.street_id,
    )


def suggest_targets(request: Request) -> list[rules.Target]:
    category = request.category or request.suggested_category
    return _route(request, org_queries.responsibility_for(category) if category is not None else None)


def suggestions_for(requests: list[Request]) -> dict[int, list[tuple[str, object, str]]]:
    """``resolve_targets(suggest_targets(r), r.city)`` for many requests in four queries, not seven each.

    A request whose suggested unit is not in its city gets ``[]`` (the page shows no suggestion), as
    ``resolve_targets`` refuses it.
    """
    if not requests:
        return {}
    index = org_queries.responsibility_index({r.city_id for r in requests})
    targets = {
        r.pk: _route(r, index.responsibility(r.category_id or r.suggested_category_id)) for r in requests
    }
    wanted = [t for found in targets.values() for t in found]
    streets, departments = org_queries.units_by_pk(
        {t.pk for t in wanted if t.kind == "street"}, {t.pk for t in wanted if t.kind != "street"}
    )
    answers: dict[int, list[tuple[str, object, str]]] = {}
    for r in requests:
        units: list[tuple[str, object, str]] = []
        for target in targets[r.pk]:
            unit = (streets if target.kind == "street" else departments).get(target.pk)
            if unit is None or unit.city_id != r.city_id:
                units = []
                break
            units.append((target.kind, unit, target.route))
        answers[r.pk] = units
    return answers


def resolve_targets(targets: list[rules.Target], city) -> list[tuple[str, object, str]]:
    units = []
    for target in targets:
        unit = org_queries.unit(city, "street" if target.kind == "street" else "department", pk=target.pk)
        if unit is None:
            raise ValidationError(
                {
                    "units": _("no %(kind)s with id %(id)s in this city")
                    % {"kind": target.kind, "id": target.pk}
                }
            )
        units.append((target.kind, unit, target.route))
    return units


@transaction.atomic
def dispatch_request(
    request: Request, *, units: list[tuple[str, object, str]], actor: Actor, note: str = ""
) -> list[Order]:
    """Send orders to one or more units; the first receiver leads a cross-unit case (首接负责)."""
    queries.require_dispatcher(actor)
    lock(request)  # a second dispatcher's click on a stale queue page is judged against the row as it is
    if not units:
        raise ValidationError({"units": gettext_lazy("choose at least one street or department")})
    keys = [(kind, unit.pk) for kind, unit, _ in units]
    if len(set(keys)) != len(keys):
        raise ValidationError({"units": gettext_lazy("a unit is listed twice")})
    if request.category_id is None and request.suggested_category_id is not None:
        request.category = request.suggested_category  # dispatching on the suggestion accepts it
    if request.category_id is None:
        raise ValidationError({"category": gettext_lazy("classify the request before dispatching it")})
    learning.record_decision(request, actor=actor)
    now = timezone.now()
    limits = queries.limits_for(request.category, request.urgency)
    cal = queries.calendar_of(request.city)
    respond = clock.add_working_hours(now, limits.respond_hours, cal)
    # The finish limit runs from the citizen's call; a reopened case gets a fresh limit from now.
    finish = request.finish_due
    if finish is None or request.reopen_count:
        days = limits.complex_finish_days if request.complex else limits.finish_days
        finish = clock.add_working_days(now, days, cal)
        request.finish_due = finish
    orders = []
    for position, (kind, unit, route) in enumerate(units):
        order = Order.objects.create(
            request=request,
            street=unit if kind == "street" else None,
            department=unit if kind == "department" else None,
            route="first_receiver" if len(units) > 1 and position == 0 else route,
            lead=position == 0,
            dispatched_at=now,
            dispatched_by=person(actor),
            response_due=respond,
            finish_due=finish,
        )
        orders.append(order)
        # The citizen sees where the case went; the dispatcher's note to the units stays internal.
        event(
            request,
            "dispatched",
            actor=actor,
            order=order,
            public=True,
            unit=str(unit),
            route=order.route,
            lead=order.lead,
        )
        if note.strip():
            event(request, "dispatch_note", actor=actor, order=order, public=False, text=note.strip())
    first_kind, first_unit, _route = units[0]
    request.lead_street = first_unit if first_kind == "street" else None
    request.lead_department = first_unit if first_kind == "department" else None
    set_status(
        request,
        Status.DISPATCHED,
        actor=actor,
        action="request.dispatch",
        units=[f"{kind}:{unit.pk}" for kind, unit, _ in units],
    )
    notices.new_orders(orders)
    return orders


def accept_suggestion(request: Request, *, actor: Actor) -> list[Order]:
    """One click: dispatch where the responsibility list points."""
    targets = suggest_targets(request)
    if not targets:
        raise ValidationError(
            {"units": gettext_lazy("no suggestion: the category has no responsible unit; choose one")}
        )
    return dispatch_request(request, units=resolve_targets(targets, request.city), actor=actor)


@dataclass
class BulkResult:
    dispatched: list[Request]
    skipped: list[tuple[Request, str]]


def bulk_dispatch(requests: list[Request], *, actor: Actor) -> BulkResult:
    """Accept the suggestion for each request; a request without one is skipped with the reason."""
    queries.require_dispatcher(actor)
    result = BulkResult([], [])
    for request in requests:
        try:
            accept_suggestion(request, actor=actor)
            result.dispatched.append(request)
        except ValidationError as exc:
            result.skipped.append((request, "; ".join(exc.messages)))
    return result


@transaction.atomic
def merge_requests(duplicate: Request, *, into: Request, actor: Actor) -> Request:
    """Handle a duplicate once: it follows the primary, and its citizen is still followed up."""
    queries.require_dispatcher(actor)
    if duplicate.pk == into.pk:
        raise ValidationError({"into": gettext_lazy("a request cannot be merged into itself")})
    lock(*sorted((duplicate, into), key=lambda r: r.pk))  # in key order: two merges never wait on each other
    if into.status == Status.MERGED:
        raise ValidationError(
            {"into": _("%(no)s is itself merged; merge into its primary") % {"no": into.tracking_no}}
        )
    if not into.is_open:
        raise ValidationError({"into": _("%(no)s is closed") % {"no": into.tracking_no}})
    duplicate.orders.filter(status__in=[OrderStatus.PENDING, OrderStatus.SIGNED]).update(
        status=OrderStatus.CANCELLED
    )
    duplicate.merged_into = into
    set_status(duplicate, Status.MERGED, actor=actor, action="request.merge", into=into.tracking_no)
    event(duplicate, "merged", actor=actor, public=True, text=into.tracking_no)
    event(into, "merged_in", actor=actor, text=duplicate.tracking_no)
    return duplicate


@transaction.atomic
def decide_arbitration(
    arbitration: Arbitration, *, kind: str, unit, decision: str, actor: Actor
) -> list[Order]:
    """The city-level dispatcher names the unit that must handle a bounced request."""
    queries.require_dispatcher(actor)
    lock(arbitration.request, arbitration)
    if arbitration.decided_at is not None:
        raise ValidationError({"arbitration": gettext_lazy("this arbitration was already decided")})
    if not decision.strip():
        raise ValidationError({"decision": gettext_lazy("give the reason for the decision")})
    arbitration.decided_at = timezone.now()
    arbitration.decided_by = person(actor)
    arbitration.decision = decision
    arbitration.save(update_fields=["decided_at", "decided_by", "decision"])
    audit.record(actor, "arbitration.decide", arbitration, after=f"{kind}:{unit.pk}", decision=decision)
    bounced = {
        o.unit_key: (("street", o.street) if o.street_id else ("department", o.department))
        for o in arbitration.request.orders.select_related("street", "department")
    }
    notices.arbitration_decided(arbitration, list(bounced.values()))
    return dispatch_request(
        arbitration.request, units=[(kind, unit, "arbitrated")], actor=actor, note=decision
    )


def open_arbitration_if_needed(request: Request, *, actor: Actor) -> Arbitration | None:
    from django.conf import settings

    returns = list(request.orders.filter(status=OrderStatus.RETURNED).order_by("returned_at"))
    if not rules.returns_need_arbitration(
        [o.unit_key for o in returns], limit=settings.HOTLINE["arbitration_after_returns"]
    ):
        return None
    if request.arbitrations.filter(decided_at__isnull=True).exists():
        return None
    arbitration = Arbitration.objects.create(
        request=request,
        opened_at=timezone.now(),
        units=sorted({o.unit_key for o in returns}),
        reason="; ".join(f"{o.unit}: {o.returned_reason}" for o in returns),
    )
    audit.record(actor, "arbitration.open", arbitration, units=arbitration.units)
    event(request, "arbitration", actor=actor, text=arbitration.reason)
    return arbitration
