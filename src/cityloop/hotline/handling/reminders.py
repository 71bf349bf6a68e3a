"""Reminders before an order's limits, and escalations after them, run by the scheduler.

Every minute the job looks at the active orders (pending or signed) whose limits are near or past:

* due soon: ``NOTIFY["remind_respond_hours"]`` before the response limit of an order not yet signed,
  and ``NOTIFY["remind_finish_days"]`` working days before the finish limit;
* overdue: the unit hears once when a limit passes;
* escalated: ``escalate_after_hours`` after that the unit's leaders hear, and after twice as long the
  district's leaders (the city's, for a city department).

Each message carries a key made of the order, the limit and its time, so the job can run as often
as it likes, from two schedulers at once, and each person hears each thing once; an extension moves
the finish limit, and the new one gets its own reminders.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cityloop.core import rules as clock
from cityloop.hotline import notices, queries
from cityloop.hotline.models import Order, OrderStatus
from cityloop.notify import actions as notify
from cityloop.notify import recipients, texts

ACTIVE = (OrderStatus.PENDING, OrderStatus.SIGNED)


def _limits(order: Order) -> list[tuple[str, datetime]]:
    """The limits still ahead of the unit: respond (until signed) and finish."""
    out = [("finish", order.finish_due)]
    if order.status == OrderStatus.PENDING:
        out.insert(0, ("respond", order.response_due))
    return out


def _escalation_targets(order: Order, level: int) -> tuple[str, list[recipients.To]]:
    if level == 1:
        unit_leaders = recipients.leaders(
            street_id=order.street_id or None, department_id=order.department_id or None
        )
        return "unit-leader", unit_leaders
    district = (
        order.street.parent if order.street is not None else getattr(order.department, "district", None)
    )
    if district is not None:
        return "district", recipients.leaders(street_id=district.pk)
    return "city", recipients.leaders()


def _notes_for(order: Order, now: datetime, soon_finish: datetime) -> list[notify.Note]:
    cfg = settings.NOTIFY
    soon_respond = now + timedelta(hours=cfg["remind_respond_hours"])
    escalate = timedelta(hours=cfg["escalate_after_hours"])
    request = order.request
    notes = []
    for what, due in _limits(order):
        stamp = due.isoformat(timespec="minutes")
        params = {
            "no": request.tracking_no,
            "unit": texts.named(order.unit),
            "what": what,
            "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M"),
        }
        about, link = ("request", request.tracking_no), notices.order_link(order)
        staff = notices.unit_people(order.street, order.department)
        if due > now:
            if due <= (soon_respond if what == "respond" else soon_finish):
                notes.append(
                    notify.Note(
                        "order.due_soon", staff, params, about, link, key=f"soon:{what}:{order.pk}:{stamp}"
                    )
                )
            continue
        notes.append(
            notify.Note("order.overdue", staff, params, about, link, key=f"late:{what}:{order.pk}:{stamp}")
        )
        for level in (1, 2):
            if now - due >= escalate * level:
                name, to = _escalation_targets(order, level)
                notes.append(
                    notify.Note(
                        "order.escalated",
                        tuple(to),
                        {**params, "level": name},
                        about,
                        link,
                        key=f"up{level}:{what}:{order.pk}:{stamp}",
                    )
                )
    return notes


def run(now: datetime | None = None) -> int:
    """Queue what is due; returns how many messages were written (0 when everything was told)."""
    now = now or timezone.now()
    horizon = now + timedelta(hours=settings.NOTIFY["remind_respond_hours"])
    days = int(settings.NOTIFY["remind_finish_days"])
    orders = (
        Order.objects.filter(status__in=ACTIVE)
        .filter(
            Q(status=OrderStatus.PENDING, response_due__lte=horizon)
            # a finish limit within the reminder's working days: at most that many days and a weekend away
            | Q(finish_due__lte=now + timedelta(days=days + 4))
        )
        .select_related("request", "request__city__pack", "street__parent", "department__district")
        .order_by("id")
    )
    written = 0
    soon_by_city: dict[int, datetime] = {}
    for order in orders.iterator(chunk_size=500):
        city = order.request.city
        if city.pk not in soon_by_city:
            soon_by_city[city.pk] = (
                clock.add_working_days(now, days, queries.calendar_of(city)) if days else now
            )
        notes = _notes_for(order, now, soon_by_city[city.pk])
        if notes:
            with transaction.atomic():
                written += len(notify.queue_many(notes))
    return written


def job() -> str:
    return f"{run()} reminder/escalation message(s) queued"
