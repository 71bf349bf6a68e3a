"""The demo city: a built-in pack, one account per role, and whatever the pillars add."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction

from cityloop.core import actions, actors, audit
from cityloop.core import queries as core_queries
from cityloop.core.permissions import Role

if TYPE_CHECKING:
    from cityloop.core.models import User
from cityloop.org import actions as org_actions
from cityloop.org import packs, queries
from cityloop.org.models import CityPack, Department, Jurisdiction

DEMO_PASSWORD = "cityloop-demo"  # printed by `make demo`; a demo database is never a production one  # noqa: S105 (the documented demo login, printed by make demo)


@dataclass(frozen=True)
class Persona:
    username: str
    role: str
    full_name: str
    scope: str = ""  # "street" or "department"


PERSONAS = [
    Persona("citizen_wang", Role.CITIZEN, "王小明"),
    Persona("dispatcher_li", Role.DISPATCHER, "李调度"),
    Persona("street_chen", Role.STREET, "陈街道", scope="street"),
    Persona("dept_water_zhao", Role.DEPARTMENT, "赵水务", scope="department"),
    Persona("leader_sun", Role.LEADER, "孙领导"),
    Persona("admin_zhang", Role.ADMIN, "张管理"),
    Persona("auditor_qian", Role.AUDITOR, "钱审计"),
]

# The street official's street and the department's staff per demo city (fallback: the first one).
DEMO_STREET = {"beijing": "110105016", "nyc": "BK11"}  # 双井街道; Brooklyn Community District 11


def _demo_street(city: Jurisdiction, pack_code: str) -> Jurisdiction:
    streets = Jurisdiction.objects.filter(city=city, level="street")
    return streets.filter(code=DEMO_STREET.get(pack_code, "")).first() or streets.order_by("code").first()


def _demo_department(city: Jurisdiction) -> Department:
    departments = Department.objects.filter(city=city, level="city")
    for needle in ("水务", "Water", "Environmental Protection"):
        found = (
            departments.filter(name__contains=needle).first()
            or departments.filter(name_en__contains=needle).first()
        )
        if found:
            return found
    return departments.order_by("code").first()


DEMO_MARK = "demo.load"


def is_demo_or_empty() -> bool:
    """True for a database without accounts, or one the demo loaded before (it leaves a mark in the trail)."""

    return not core_queries.users().exists() or core_queries.ever_audited(DEMO_MARK)


@transaction.atomic
def load(pack_name: str = "beijing", *, stdout=None) -> list[tuple[Persona, User]]:
    """Import the pack (if this database does not have it yet) and create the demo accounts."""
    audit.record(actors.DEMO, DEMO_MARK, None, after={"pack": pack_name})
    pack_code = packs.load_pack(packs.resolve(pack_name)).code
    existing = CityPack.objects.filter(code=pack_code).select_related("city").first()
    if existing is None:
        city = org_actions.import_pack(packs.load_pack(pack_name), actor=actors.DEMO)
    else:
        city = existing.city
    queries.forget_cached_cities()
    street, department = _demo_street(city, pack_code), _demo_department(city)
    accounts = []
    for persona in PERSONAS:
        user = core_queries.user_named(persona.username)
        if user is None:
            user = actions.add_user(
                username=persona.username,
                password=DEMO_PASSWORD,
                role=persona.role,
                full_name=persona.full_name,
                phone="13800000000",
                # the demo's mail catcher (make demo) receives what the city e-mails each of them
                email=f"{persona.username}@demo.cityloop.localhost",
                street=street if persona.scope == "street" else None,
                department=department if persona.scope == "department" else None,
                actor=actors.DEMO,
                check_password=False,
            )
        accounts.append((persona, user))
    for extra in DEMO_EXTENSIONS:
        extra(city=city, stdout=stdout)
    return accounts


# Each pillar appends a callable(city=..., stdout=...) that adds its demo data idempotently.
DEMO_EXTENSIONS: list = []


def extend(loader) -> None:
    """Add a pillar's demo loader (from its ``AppConfig.ready()``; twice adds it once)."""
    if loader not in DEMO_EXTENSIONS:
        DEMO_EXTENSIONS.append(loader)


def open311_key() -> tuple[str, Path]:
    """The demo's Open311 app key (a token of the account open311_app), made once and kept in the data dir
    so every start prints the same one; a token's secret is never stored in the database."""
    from django.conf import settings

    path = Path(settings.DATA_DIR) / "demo-open311-key"
    if path.exists():
        return path.read_text(encoding="ascii").strip(), path
    app = core_queries.user_named("open311_app") or actions.add_user(
        username="open311_app",
        password=DEMO_PASSWORD,
        role=Role.CITIZEN,
        full_name="Open311 demo app",
        actor=actors.DEMO,
        check_password=False,
    )
    _token, secret = actions.create_token(
        user=app, name="README examples", scopes=["open311"], actor=actors.DEMO
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    return secret, path
