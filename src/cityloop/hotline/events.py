"""Shared pieces of the hotline's writes: events, deadlines, status changes."""

from __future__ import annotations

from django.utils import timezone

from cityloop.core import audit
from cityloop.core import rules as clock
from cityloop.hotline import queries, rules
from cityloop.hotline.models import Event, Request


def event(
    request: Request,
    kind: str,
    *,
    actor=None,
    order=None,
    text: str = "",
    public: bool = False,
    at=None,
    **data,
) -> Event:
    return Event.objects.create(
        request=request,
        order=order,
        at=at or timezone.now(),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        kind=kind,
        text=text,
        public=public,
        data=data,
    )


def set_status(request: Request, target: str, *, actor, action: str, **details) -> None:
    rules.check_transition(request.status, target)
    before = request.status
    request.status = target
    request.save()
    audit.record(actor, action, request, before=before, after=target, **details)


def deadlines(city, category, urgency: str, complex_case: bool, start):
    """(response due, finish due) counted in working time on the city's calendar."""
    limits = queries.limits_for(category, urgency)
    cal = queries.calendar_of(city)
    respond = clock.add_working_hours(start, limits.respond_hours, cal)
    finish = clock.add_working_days(
        start, limits.complex_finish_days if complex_case else limits.finish_days, cal
    )
    return respond, finish
