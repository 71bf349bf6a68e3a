"""A small city with two of everything, for tests that sweep every page and every role.

Two streets (D1S1 金融街 "own", D2S1 朝阳门 "other") and two departments (WATER "own", CITYMGMT
"other"); in each a request dispatched to it (so an order), a whistle blown by the street, and one
user of every role. ``build_city()`` runs inside a module-scoped database block (one setup per
module) and returns a ``CityFixture``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from cityloop.core.actors import SYSTEM

ROLES = (
    "anonymous",
    "citizen",
    "dispatcher",
    "street",
    "department",
    "leader",
    "admin",
    "auditor",
    "superuser",
)


@dataclass
class Side:
    """The objects of one street and one department."""

    request: object
    street_order: object
    dept_order: object
    whistle: object


@dataclass
class CityFixture:
    city: object
    users: dict[str, object]
    own: Side
    other: Side
    extra: dict[str, object] = field(default_factory=dict)


def build_city(tiny_pack, places) -> CityFixture:
    from cityloop.core.actions import add_user
    from cityloop.hotline import actions
    from cityloop.hotline.actions import Submission
    from cityloop.hotline.models import Channel
    from cityloop.org.actions import import_pack
    from cityloop.org.models import Department, Jurisdiction
    from cityloop.org.packs import load_pack
    from tests.conftest import PERSONA_PASSWORD

    city = import_pack(load_pack(tiny_pack), actor=SYSTEM)
    streets = {code: Jurisdiction.objects.get(city=city, code=code) for code in ("D1S1", "D2S1")}
    depts = {code: Department.objects.get(city=city, code=code) for code in ("WATER", "CITYMGMT")}

    def user(name, role, **scope):
        return add_user(
            username=name,
            password=PERSONA_PASSWORD,
            role=role,
            full_name=name,
            actor=SYSTEM,
            check_password=False,
            **scope,
        )

    users = {
        "citizen": user("m_citizen", "citizen"),
        "citizen_other": user("m_citizen_other", "citizen"),
        "dispatcher": user("m_dispatcher", "dispatcher"),
        "street": user("m_street", "street", street=streets["D1S1"]),
        "street_other": user("m_street_other", "street", street=streets["D2S1"]),
        "department": user("m_department", "department", department=depts["WATER"]),
        "department_other": user("m_department_other", "department", department=depts["CITYMGMT"]),
        "leader": user("m_leader", "leader"),
        "admin": user("m_admin", "admin"),
        "auditor": user("m_auditor", "auditor"),
    }
    su = user("m_superuser", "admin")
    su.is_superuser = su.is_staff = True
    su.save(update_fields=["is_superuser", "is_staff"])
    users["superuser"] = su
    from cityloop.core.actions import create_token
    from cityloop.core.tokens import SCOPES

    # Every role's API token holds every scope: the views, not the scopes, must keep each role in its place.
    tokens = {
        role: create_token(user=u, name=f"{role} app", scopes=sorted(SCOPES), actor=SYSTEM)[1]
        for role, u in users.items()
    }

    def side(place, street, dept, citizen, official):
        lon, lat = places[place]
        request, _ = actions.submit_request(
            Submission(
                description="楼里停水了，一整天没有水",
                caller_name="王小明",
                caller_phone="13812345678",
                lon=lon,
                lat=lat,
                category_code="02.01.01",
            ),
            city=city,
            channel=Channel.WEB,
            citizen=citizen,
            actor=SYSTEM,
        )
        orders = actions.dispatch_request(
            request,
            units=[("department", dept, "direct"), ("street", street, "street")],
            actor=users["dispatcher"],
        )
        dept_order = next(o for o in orders if o.department_id)
        street_order = next(o for o in orders if o.street_id)
        whistle = actions.blow_whistle(
            street=street,
            departments=[dept],
            title="地下管网渗漏",
            need="水务查漏",
            urgent=True,
            finish_due=timezone.now() + timedelta(days=3),
            actor=official,
        )
        return Side(request=request, street_order=street_order, dept_order=dept_order, whistle=whistle)

    own = side("D1S1C1", streets["D1S1"], depts["WATER"], users["citizen"], users["street"])
    other = side("D2S1", streets["D2S1"], depts["CITYMGMT"], users["citizen_other"], users["street_other"])
    return CityFixture(city=city, users=users, own=own, other=other, extra={"tokens": tokens})


# --- every URL pattern, with its path arguments filled from one side's objects -------------------------

_ROUTE_ARG = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_ARG = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def url_patterns() -> list[tuple[str, str]]:
    """(namespaced name, route) of every URL pattern, from the resolver itself."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found: list[tuple[str, str]] = []

    def walk(resolver, prefix: str, ns: str) -> None:
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                walk(p, prefix + str(p.pattern), ns + (f"{p.namespace}:" if p.namespace else ""))
            elif isinstance(p, URLPattern):
                found.append((ns + (p.name or str(p.pattern)), prefix + str(p.pattern)))

    walk(get_resolver(), "", "")
    # A name two patterns share (Ninja's operation ids, e.g. two "submit"s) is told apart by its route.
    counts: dict[str, int] = {}
    for name, _ in found:
        counts[name] = counts.get(name, 0) + 1
    return [(name if counts[name] == 1 or "<" in name else f"{name}@{route}", route) for name, route in found]


def _object_for(name: str, arg: str, side: Side):
    """The value of one path argument on one side."""
    request, whistle = side.request, side.whistle
    if arg in ("tracking_no", "request_id"):
        return request.tracking_no
    if arg == "order_id":
        return side.dept_order.pk
    if arg == "fmt":
        return "json"
    if arg == "pk":
        if ":order" in name or name.endswith((":sign",)):
            return side.dept_order.pk
        if name.startswith("whistles:"):
            return whistle.pk
        if (
            name.startswith("hotline:")
            and "request" in name
            or name
            in (
                "hotline:classify",
                "hotline:dispatch",
                "hotline:merge",
                "hotline:reveal",
                "hotline:new-access-code",
            )
        ):
            return request.pk
        return request.pk
    if arg == "verb":
        return "reply"
    if arg == "step":
        return "x"
    if arg == "kind":
        return "street"
    if arg == "path":
        return "nothing-here"
    return "X1"


def fill(name: str, route: str, side: Side) -> str:
    """The concrete URL of a pattern for one side's objects."""
    if route.count("^") or "(?P<" in route:
        path = _REGEX_ARG.sub(lambda m: str(_object_for(name, m.group(1), side)), route)
        path = path.replace("^", "").replace("$", "").replace("\\.", ".")
    else:
        path = _ROUTE_ARG.sub(lambda m: str(_object_for(name, m.group(1), side)), route)
    return "/" + path


def has_args(route: str) -> bool:
    return bool(_ROUTE_ARG.search(route) or _REGEX_ARG.search(route))
