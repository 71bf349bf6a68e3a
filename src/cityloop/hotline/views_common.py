"""What every hotline page shares: error mapping, role gates, timers as words, unit pickers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from cityloop.core import permissions
from cityloop.hotline import rules
from cityloop.hotline.handling.actions import nearly_overdue_window
from cityloop.org import queries as org_queries

# The hotline's two guards, as declared in core.permissions (HotlineConfig declares the menu pages).
dispatcher_required = permissions.page(
    permissions.DISPATCH, denied="only a hotline dispatcher may open this page"
)
unit_required = permissions.page(permissions.UNITS, denied="only a street or a department has an inbox")


def current_city():
    city = org_queries.default_city()
    if city is None:
        raise Http404("no city has been imported yet")
    return city


@dataclass(frozen=True)
class Timer:
    state: str  # ok | nearly_overdue | overdue | none
    text: str
    due: datetime | None


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return gettext("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return gettext("%(h)d h %(m)d min") % {"h": hours, "m": mins}
    return ngettext("%(m)d minute", "%(m)d minutes", mins) % {"m": mins}


def timer(due, now=None) -> Timer:
    """A deadline as a countdown: "剩余 3 小时 20 分" or "超时 2 小时" (wall-clock time left)."""
    now = now or timezone.now()
    state = rules.timer_state(now, due, warn=nearly_overdue_window())
    if state == "none":
        return Timer(state, "", None)
    if state == "overdue":
        return Timer(
            state, gettext("overdue by %(span)s") % {"span": _span((now - due).total_seconds())}, due
        )
    return Timer(state, gettext("%(span)s left") % {"span": _span((due - now).total_seconds())}, due)


def categories_of(city):
    return org_queries.categories(city).order_by("code")


def unit_choices(city) -> list[tuple[str, list[tuple[str, str]]]]:
    streets = org_queries.places(city, level="street").order_by("code")
    departments = org_queries.departments(city).order_by("code")
    # grouped (<optgroup>): the streets, then the departments, each in code order
    return [
        (gettext("Streets"), [(f"street:{s.pk}", s.label) for s in streets]),
        (gettext("Departments"), [(f"department:{d.pk}", d.label) for d in departments]),
    ]


def resolve_unit(value: str, city):
    """``street:<pk>`` / ``department:<pk>`` → (kind, unit); None when it is not a unit of this city."""
    kind, _sep, pk = (value or "").partition(":")
    if not pk.isdigit():
        return None
    unit = org_queries.unit(city, kind, pk=int(pk))
    return (kind, unit) if unit is not None else None
