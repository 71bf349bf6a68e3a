"""Shared parts of the hotline API: token auth with 403 for a wrong scope, lookups, and JSON shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from ninja import Schema

from cityloop.core import tokens
from cityloop.core.actors import Actor
from cityloop.core.doors.auth import BearerToken, HeaderToken
from cityloop.core.doors.inputs import When
from cityloop.hotline import queries, rules
from cityloop.hotline.handling.actions import nearly_overdue_window
from cityloop.hotline.models import Channel, Order, OrderStatus, Request, Status
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Category

SCOPE = "hotline"


def _check(auth, request, token: str):
    found = tokens.lookup(token, scope=auth.scope, read_only=request.method in ("GET", "HEAD"))
    if found is None:
        # A real token without the scope is a permission problem (403), not a missing login (401).
        if tokens.lookup(token) is not None:
            raise PermissionDenied(f"this token does not hold the {auth.scope!r} scope")
        return None
    request.api_token = found
    request.user = found.user
    return found


class HotlineBearer(BearerToken):
    def authenticate(self, request, token):
        return _check(self, request, token)


class HotlineHeader(HeaderToken):
    def authenticate(self, request, key):
        return _check(self, request, key or "")


AUTH = [HotlineBearer(SCOPE), HotlineHeader(SCOPE)]


def actor_of(request):
    return request.auth.user


def visible_request(actor: Actor, tracking_no: str) -> Request:
    """The request if ``actor`` may see it; 404 otherwise (not 403, so numbers cannot be probed)."""
    found = (
        queries.requests_for(actor)
        .filter(tracking_no=tracking_no)
        .select_related(
            "city__pack", "district", "street", "community", "category", "suggested_category", "merged_into"
        )
        .first()
    )
    if found is None:
        raise Http404(f"no request {tracking_no} that you may see")
    return found


def visible_order(actor: Actor, order_id: int) -> Order:
    """An order of a request ``actor`` may see (the action then checks it is the actor's unit)."""
    found = (
        Order.objects.filter(pk=order_id, request__in=queries.requests_for(actor).values("pk"))
        .select_related("request__city__pack", "street", "department")
        .first()
    )
    if found is None:
        raise Http404(f"no order {order_id} that you may see")
    return found


def utc(moment: datetime | None) -> datetime | None:
    # Freshly computed deadlines carry the city's zone, stored ones come back in UTC: one form for both,
    # so a replayed submit answers byte for byte what the first one did.
    return None if moment is None else moment.astimezone(UTC)


def place(unit) -> dict | None:
    return None if unit is None else {"code": unit.code, "name": unit.label}


def contact_visible(actor: Actor, request: Request) -> bool:
    """Shown in full to dispatchers and the citizen who filed it; others use the audited reveal."""
    if not actor.is_authenticated:
        return False
    return queries.is_dispatcher(actor) or (request.citizen_id is not None and request.citizen_id == actor.pk)


def contact(actor: Actor, request: Request, *, full: bool | None = None) -> dict:
    if full is None:
        full = contact_visible(actor, request)
    if full:
        return {
            "name": request.caller_name,
            "phone": request.caller_phone,
            "email": request.caller_email,
            "masked": False,
        }
    name, phone = rules.masked_contact(
        request.caller_name, request.caller_phone, confidential=request.confidential
    )
    return {
        "name": name,
        "phone": phone,
        "email": "",
        "masked": bool(request.caller_name or request.caller_phone or request.caller_email),
    }


def request_out(actor: Actor, request: Request, *, full_contact: bool | None = None) -> dict:
    return {
        "tracking_no": request.tracking_no,
        "status": request.status,
        "channel": request.channel,
        "title": request.title,
        "description": request.description,
        "address": request.address,
        "lon": request.lon,
        "lat": request.lat,
        "district": place(request.district),
        "street": place(request.street),
        "community": place(request.community),
        "category": request.category.code if request.category_id else None,
        "suggested_category": request.suggested_category.code if request.suggested_category_id else None,
        "suggestion_confidence": request.suggestion_confidence,
        "urgency": request.urgency,
        "kind": request.kind,
        "complex": request.complex,
        "confidential": request.confidential,
        "caller": contact(actor, request, full=full_contact),
        "created_at": utc(request.created_at),
        "response_due": utc(request.response_due),
        "finish_due": utc(request.finish_due),
        "merged_into": request.merged_into.tracking_no if request.merged_into_id else None,
        "attributes": request.attributes,
    }


def order_timer(order: Order, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if order.status == OrderStatus.PENDING:
        return rules.timer_state(now, order.response_due, warn=nearly_overdue_window())
    if order.status == OrderStatus.SIGNED:
        return rules.timer_state(now, order.finish_due, warn=nearly_overdue_window())
    return "none"


def order_out(order: Order) -> dict:
    unit = order.street or order.department
    return {
        "id": order.pk,
        "tracking_no": order.request.tracking_no,
        "unit_kind": "street" if order.street_id else "department",
        "unit": place(unit),
        "route": order.route,
        "lead": order.lead,
        "status": order.status,
        "dispatched_at": utc(order.dispatched_at),
        "response_due": utc(order.response_due),
        "finish_due": utc(order.finish_due),
        "timer": order_timer(order),
        "signed_at": utc(order.signed_at),
        "returned_reason": order.returned_reason,
        "replied_at": utc(order.replied_at),
        "reply": order.reply,
        "outcome": order.outcome,
    }


def event_out(event, *, public_view: bool = False) -> dict:
    return {
        "at": utc(event.at),
        "kind": event.kind,
        "text": event.text,
        "public": event.public,
        "actor": None if public_view or event.actor is None else event.actor.get_username(),
        "data": {} if public_view else event.data,
    }


class RequestFilters(Schema):
    """Filters shared by the list and the CSV export."""

    status: str | None = None
    category: str | None = None
    street: str | None = None
    district: str | None = None
    channel: str | None = None
    created_after: When | None = None
    created_before: When | None = None
    q: str | None = None


def filtered(actor: Actor, f: RequestFilters) -> QuerySet[Request]:
    """``queries.search_requests`` with the filters' codes resolved; an unknown code is a 400 naming it."""
    from django.core.exceptions import ValidationError

    city, errors, found = org_queries.default_city(), {}, {}
    if f.status and f.status not in Status.values:
        errors["status"] = f"one of {', '.join(Status.values)}"
    if f.channel and f.channel not in Channel.values:
        errors["channel"] = f"one of {', '.join(Channel.values)}"
    lookups = {
        "category": org_queries.categories(),
        "street": org_queries.places(level="street"),
        "district": org_queries.places(level="district"),
    }
    for name, qs in lookups.items():
        code = getattr(f, name)
        if code:
            found[name] = qs.filter(city=city, code=code).first()
            if found[name] is None:
                errors[name] = f"unknown {name} code {code!r}"
    if errors:
        raise ValidationError(errors)
    qs = queries.search_requests(
        actor,
        status=f.status or "",
        channel=f.channel or "",
        since=f.created_after,
        until=f.created_before,
        text=f.q or "",
        **found,
    )
    return qs.select_related(
        "district", "street", "community", "category", "suggested_category", "merged_into"
    )


def category_of(city, code: str, field: str = "category") -> Category:
    from django.core.exceptions import ValidationError

    found = org_queries.category(city, code)
    if found is None:
        raise ValidationError({field: f"unknown category code {code!r}"})
    return found
