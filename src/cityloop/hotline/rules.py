"""The hotline's rules, pure: the state machines, routing, limits, duplicates, masking."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError

from cityloop.hotline.models import OrderStatus, Status

# Request lifecycle. A returned order sends the request back to NEW (the dispatcher's queue).
TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.DISPATCHED, Status.MERGED, Status.CLOSED},
    Status.DISPATCHED: {
        Status.IN_PROGRESS,
        Status.NEW,
        Status.MERGED,
        Status.REPLIED,
        Status.AWAITING_VERIFICATION,
    },
    Status.IN_PROGRESS: {Status.REPLIED, Status.AWAITING_VERIFICATION, Status.NEW, Status.DISPATCHED},
    Status.REPLIED: {Status.CLOSED, Status.DISPATCHED},
    Status.AWAITING_VERIFICATION: {Status.CLOSED, Status.DISPATCHED},
    Status.CLOSED: {Status.DISPATCHED},  # reopened after follow-up, or a sensor problem came back
    Status.MERGED: set(),
}

ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.PENDING: {OrderStatus.SIGNED, OrderStatus.RETURNED, OrderStatus.CANCELLED},
    OrderStatus.SIGNED: {OrderStatus.REPLIED, OrderStatus.RETURNED, OrderStatus.CANCELLED},
    OrderStatus.RETURNED: set(),
    OrderStatus.REPLIED: set(),
    OrderStatus.CANCELLED: set(),
}


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, set()):
        raise ValidationError({"status": f"a request that is {current!r} cannot become {target!r}"})


def check_order_transition(current: str, target: str) -> None:
    if target not in ORDER_TRANSITIONS.get(current, set()):
        raise ValidationError({"status": f"an order that is {current!r} cannot become {target!r}"})


@dataclass(frozen=True)
class Limits:
    respond_hours: float
    finish_days: int
    complex_finish_days: int


DEFAULT_LIMITS = {"urgent": Limits(2, 7, 15), "normal": Limits(24, 7, 15)}


@dataclass(frozen=True)
class Target:
    """Where a request should go: a street or a department, and why."""

    kind: str  # "street" | "department"
    pk: int
    route: str  # direct | street | first_receiver
    reason: str


def route(
    *, responsible_department_id: int | None, route_kind: str | None, street_id: int | None
) -> list[Target]:
    """The responsibility list decides: 直派 to the department, local matters to the street.

    A local matter whose street is unknown falls back to the responsible department, which then
    owns it as first receiver; with no responsibility at all the dispatcher must choose.
    """
    if responsible_department_id is None:
        return []
    if route_kind == "street" and street_id is not None:
        return [Target("street", street_id, "street", "local matter: the street of the location handles it")]
    if route_kind == "street":
        return [
            Target(
                "department",
                responsible_department_id,
                "first_receiver",
                "local matter without a known street: the responsible department receives it first",
            )
        ]
    return [
        Target(
            "department",
            responsible_department_id,
            "direct",
            "the responsible department's own matter (直派)",
        )
    ]


def returns_need_arbitration(return_history: list[str], *, limit: int) -> bool:
    """True when the request has bounced between units ``limit`` times (the same unit counted again)."""
    return len(return_history) >= limit


def reopen_allowed(
    *, resolved: bool, satisfaction: str, reopen_count: int, reopen_on: set[str], limit: int
) -> bool:
    """Whether a follow-up answer reopens the case (rules and limit from settings)."""
    if reopen_count >= limit:
        return False
    return ("unresolved" in reopen_on and not resolved) or (
        "unsatisfied" in reopen_on and satisfaction == "unsatisfied"
    )


SATISFACTION = ("satisfied", "basic", "unsatisfied")
OUTCOMES = ("resolved", "partial", "explained", "unresolvable", "fixed")


EARTH_RADIUS_M = 6_371_008.8  # the mean radius
# A degree of latitude on that sphere. The box below used 111,320 m (a degree at the equator of the
# ellipsoid), which is 0.1 % longer than the haversine's degree: the box was too small and a duplicate
# 199.8-200 m away was never compared (the plain table test of the box found it).
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = EARTH_RADIUS_M
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def degree_box(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    """A lon/lat box that contains every point within ``metres`` (for an index-friendly prefilter)."""
    dlat = metres / METRES_PER_DEGREE * 1.000001  # never smaller than the circle, whatever the rounding
    dlon = metres / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat)))) * 1.000001
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def tracking_number(day: datetime, seq: int) -> str:
    """Readable and speakable on the phone: R + yymmdd + 5-digit daily sequence, e.g. R261126-00042."""
    return f"R{day:%y%m%d}-{seq:05d}"


def mask_phone(phone: str) -> str:
    """A hint of the number for staff, never its tail: the operator prefix of a mobile (``139****``).

    The tail is what identifies a person; staff who must call the citizen reveal the number (audited).
    """
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return ""
    if len(digits) == 11 and digits[0] == "1":  # a Chinese mobile: the prefix names the carrier only
        return digits[:3] + "****"
    return "****"


def mask_name(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def masked_address(address: str) -> str:
    """A phone number or e-mail address as the outbox shows it to staff: the identifying part hidden."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return mask_phone(address) if address else ""


def masked_contact(name: str, phone: str, *, confidential: bool) -> tuple[str, str]:
    """The caller as shown to staff who may not see them: a confidential caller not at all.

    The intake form promises a confidential caller is hidden from everyone but the dispatchers, so
    not even a surname or a carrier prefix is shown to them.
    """
    if confidential:
        return "", ""
    return mask_name(name), mask_phone(phone)


def timer_state(now: datetime, due: datetime | None, *, warn: timedelta) -> str:
    if due is None:
        return "none"
    if now > due:
        return "overdue"
    if due - now <= warn:
        return "nearly_overdue"
    return "ok"
