"""Who the hotline tells what (through notify's outbox), called inside each action's transaction.

Units hear about their orders through their staff (inbox, and e-mail or text as each person chose)
and their duty group's robots; citizens hear about their own request on the phone or e-mail they
gave, in the language they filed in. Times are written in the city's time zone.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from cityloop.notify import actions as notify
from cityloop.notify import recipients, texts


def _local(at: datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def _unit_fields(street=None, department=None) -> dict:
    if street is not None:
        return {"street_id": street.pk}
    return {"department_id": department.pk if department is not None else None}


def unit_people(street=None, department=None) -> tuple[recipients.To, ...]:
    """A unit's staff and its duty-group robots."""
    unit = street if street is not None else department
    to = recipients.unit_staff(**_unit_fields(street, department))
    if unit is not None:
        to += recipients.robots(unit.code)
    return tuple(to)


def order_link(order) -> str:
    return f"/hotline/requests/{order.request_id}/"


def new_orders(orders) -> None:
    notes = []
    for order in orders:
        request = order.request
        if request.channel == "brain":
            # a sensor case: the unit's duty group hears which device raised what
            evidence = request.evidence or {}
            notes.append(
                notify.Note(
                    "brain.case",
                    unit_people(order.street, order.department),
                    {
                        "no": request.tracking_no,
                        "unit": texts.named(order.unit),
                        "device": evidence.get("device", request.source_ref),
                        "alarm": evidence.get("type") or request.title,
                    },
                    ("request", request.tracking_no),
                    order_link(order),
                )
            )
            continue
        notes.append(
            notify.Note(
                "order.new",
                unit_people(order.street, order.department),
                {
                    "no": request.tracking_no,
                    "unit": texts.named(order.unit),
                    "category": texts.named(request.category or request.suggested_category),
                    "respond_due": _local(order.response_due),
                },
                ("request", request.tracking_no),
                order_link(order),
                urgent=request.urgency == "urgent",
            )
        )
    notify.queue_many(notes)


def whistle_summons(whistle, departments) -> None:
    notes = [
        notify.Note(
            "whistle.summons",
            unit_people(department=d),
            {
                "no": whistle.request.tracking_no if whistle.request_id else f"W{whistle.pk}",
                "street": texts.named(whistle.street),
                "unit": texts.named(d),
                "deadline": _local(whistle.report_due),
            },
            ("whistle", str(whistle.pk)),
            "/whistles/summonses/",
        )
        for d in departments
    ]
    notify.queue_many(notes)


def extension_decided(extension, *, approved: bool) -> None:
    order = extension.order
    notify.queue(
        "extension.decided",
        unit_people(order.street, order.department),
        {
            "no": order.request.tracking_no,
            "unit": texts.named(order.unit),
            "decision": "approved" if approved else "refused",
            "note": extension.decision_note,
        },
        about=("request", order.request.tracking_no),
        link=order_link(order),
    )


def arbitration_decided(arbitration, units) -> None:
    """Every unit that bounced the request hears the decision (the chosen one also gets its order)."""
    to: list[recipients.To] = []
    for kind, unit in units:
        to += unit_people(unit if kind == "street" else None, unit if kind == "department" else None)
    notify.queue(
        "arbitration.decided",
        to,
        {"no": arbitration.request.tracking_no, "decision": arbitration.decision},
        about=("request", arbitration.request.tracking_no),
    )
