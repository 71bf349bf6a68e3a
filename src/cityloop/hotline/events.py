"""Shared pieces of the hotline's writes: events, deadlines, status changes."""

from __future__ import annotations

from django.utils import timezone

from cityloop.core import audit
from cityloop.core import rules as clock
from cityloop.core.actors import Actor, person
from cityloop.hotline import queries, rules
from cityloop.hotline.models import Event, Request


def event(
    request: Request,
    kind: str,
    *,
    actor: Actor,
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
        actor=person(actor),
        kind=kind,
        text=text,
        public=public,
        data=data,
    )


def set_status(request: Request, target: str, *, actor: Actor, action: str, **details) -> None:
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


def lock(*rows) -> None:
    """Re-read ``rows`` in place under a row lock (``SELECT … FOR UPDATE``), inside the action's transaction.

    A page loads a row, the person thinks, then posts; another action may have changed it meanwhile.
    Locking and re-reading first means the rules judge the row as it is now (a second sign is refused,
    not stored twice), and ``save(update_fields=…)`` writes back only what this action changed. Pass a
    request before its orders: every action locks in that order, so two never wait on each other. On
    SQLite the transaction itself takes the write lock (``transaction_mode`` IMMEDIATE); the re-read is
    what matters there.
    """
    for row in rows:
        # refresh_from_db forgets the related rows it holds; keep those whose key did not change, so an
        # order keeps the caller's request object (locked and re-read just before it) and both stay in step
        kept = [
            (field, field.get_cached_value(row))
            for field in row._meta.concrete_fields
            if field.is_relation and field.is_cached(row)
        ]
        row.refresh_from_db(from_queryset=type(row).objects.select_for_update())
        for field, related in kept:
            if related is not None and getattr(row, field.attname) == related.pk:
                field.set_cached_value(row, related)
