"""Who hears an event, and by which channels: citizens by their own phone or e-mail, staff by the
in-app inbox plus the channels they chose, duty groups by their unit's robots."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model

from cityloop.notify.models import Preference


@dataclass(frozen=True)
class To:
    channel: str
    address: str
    user_id: int | None = None
    language: str = ""


def citizen(phone: str = "", email: str = "", language: str = "") -> list[To]:
    """The citizen's own contact for their own case: the phone if they gave one, else the e-mail."""
    if phone:
        return [To("sms", phone, language=language)]
    if email:
        return [To("email", email, language=language)]
    return []


def people(users) -> list[To]:
    """Each user's inbox, plus e-mail and text as their preferences say (e-mail on by default, and
    text for a citizen's account with a phone)."""
    users = [u for u in users if u.is_active]
    prefs = {p.user_id: p for p in Preference.objects.filter(user__in=[u.pk for u in users])}
    out: list[To] = []
    for user in users:
        pref = prefs.get(user.pk)
        language = (pref.language if pref else "") or settings.LANGUAGE_CODE
        out.append(To("inbox", str(user.pk), user.pk, language))
        if user.email and (pref.email if pref else True):
            out.append(To("email", user.email, user.pk, language))
        # a citizen's own phone by default (they gave it for this); staff text only when they ask
        if user.phone and (pref.sms if pref is not None else user.role == "citizen"):
            out.append(To("sms", user.phone, user.pk, language))
    return out


def unit_staff(*, street_id: int | None = None, department_id: int | None = None) -> list[To]:
    """Everyone who works for the unit (a street's officials, a department's staff)."""
    User = get_user_model()
    if street_id:
        users = User.objects.filter(street_id=street_id, role="street")
    elif department_id:
        users = User.objects.filter(department_id=department_id, role="department")
    else:
        return []
    return people(users)


def leaders(*, street_id: int | None = None, department_id: int | None = None) -> list[To]:
    """The leaders of a unit (a leader assigned to that street, district or department); with no unit
    given, the city's leaders (leaders assigned to none)."""
    User = get_user_model()
    users = User.objects.filter(role="leader")
    if street_id:
        users = users.filter(street_id=street_id)
    elif department_id:
        users = users.filter(department_id=department_id)
    else:
        users = users.filter(street__isnull=True, department__isnull=True)
    return people(users)


def dispatchers() -> list[To]:
    return people(get_user_model().objects.filter(role="dispatcher"))


def robots(unit_code: str) -> list[To]:
    """The duty-group robots (WeCom, DingTalk) configured for the unit."""
    try:
        config = importlib.import_module("cityloop.notify.channels.config")
    except ImportError:  # the robots' configuration lands with the channels
        return []

    out = []
    for name, robot in (config.channel_settings().get("robots") or {}).items():
        if unit_code in (robot.get("units") or []):
            out.append(To(robot["kind"], name, language=robot.get("language") or settings.LANGUAGE_CODE))
    return out
