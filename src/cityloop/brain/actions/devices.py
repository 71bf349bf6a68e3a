"""Writes to the device registry: register devices (one, many, or from CSV), switch them on and off.

A CSV import is all-or-nothing: every line is checked first, and if any line is bad nothing is
stored and every bad line is reported (``line N: field: rule``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cityloop.brain import engine as engines
from cityloop.brain import rules
from cityloop.brain.models import Device
from cityloop.core import audit, permissions
from cityloop.core.actors import Actor, is_system
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Department, Jurisdiction

REGISTRY_ROLES = permissions.ADMIN


@dataclass
class ImportReport:
    created: list[Device] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "line N: field: rule"

    @property
    def ok(self) -> bool:
        return not self.errors


def _require_registrar(actor: Actor) -> None:
    # the system itself (demo loader, management commands run by the operator)
    if is_system(actor):
        return
    permissions.require(actor, REGISTRY_ROLES, "only an administrator may change the device registry")


def _check_rows(city: Jurisdiction, rows: list[dict], first_line: int) -> tuple[list, list[str], list]:
    parsed: list[tuple[int, rules.DeviceRow]] = []
    errors: list[str] = []
    for n, row in enumerate(rows, start=first_line):
        found, row_errors = rules.parse_device_row(row)
        errors += [f"line {n}: {e}" for e in row_errors]
        if found is not None:
            parsed.append((n, found))
    # Codes and departments are checked on every line, even one with other problems.
    raw = [
        (n, (row.get("code") or "").strip(), (row.get("department") or "").strip())
        for n, row in enumerate(rows, start=first_line)
    ]
    seen: dict[str, int] = {}
    for n, code, _ in raw:
        if code and code in seen:
            errors.append(f"line {n}: code: {code} is repeated (first on line {seen[code]})")
        seen.setdefault(code, n)
    existing = set(Device.objects.filter(code__in=list(seen)).values_list("code", flat=True))
    departments = {d.code: d for d in org_queries.departments(city)}
    for n, code, department in raw:
        if code in existing:
            errors.append(f"line {n}: code: {code} is already registered")
        if department and department not in departments:
            errors.append(f"line {n}: department: no department with code {department!r} in {city.code}")
    placed: list = []
    if parsed:
        lon = np.array([r.lon for _, r in parsed])
        lat = np.array([r.lat for _, r in parsed])
        located = org_queries.locator_for(city).locate_many(lon, lat)
        levels = {level: located.codes(level) for level in ("district", "street", "community")}
        for i, (n, _r) in enumerate(parsed):
            if not located.inside[i]:
                errors.append(f"line {n}: lon/lat: the point ({lon[i]}, {lat[i]}) is outside {city.code}")
            placed.append(tuple(levels[level][i] for level in ("district", "street", "community")))
    errors.sort(key=lambda e: int(e.split(":")[0].split()[1]))
    return list(zip(parsed, placed, strict=True)), errors, [departments]


@transaction.atomic
def register_devices(
    *, city: Jurisdiction, rows: list[dict], actor: Actor, first_line: int = 1
) -> ImportReport:
    """Register every row or none; each row's problems are reported with its line number."""
    _require_registrar(actor)
    checked, errors, (departments,) = _check_rows(city, rows, first_line)
    if errors:
        return ImportReport(errors=errors)
    areas = {
        j.code: j
        for j in org_queries.places(city).filter(code__in={c for _, placed in checked for c in placed if c})
    }
    # idx stays dense; two concurrent importers collide on its unique constraint instead of sharing one.
    start = Device.objects.aggregate(m=Max("idx"))["m"]
    next_idx = 0 if start is None else start + 1
    now = timezone.now()
    devices = []
    for k, ((_, r), (district, street, community)) in enumerate(checked):
        devices.append(
            Device(
                code=r.code,
                idx=next_idx + k,
                type=r.type,
                kind=r.kind,
                lon=r.lon,
                lat=r.lat,
                city=city,
                district=areas.get(district),
                street=areas.get(street),
                community=areas.get(community),
                department=departments[r.department],
                interval_s=r.interval_s,
                installed_at=r.installed_at or now,
                active=r.active,
                gateway=r.gateway,
            )
        )
    Device.objects.bulk_create(devices, batch_size=2000)
    _registry_changed()
    audit.record(
        actor,
        "device.register",
        ("brain.device", f"{devices[0].code}..{devices[-1].code}"),
        after={"count": len(devices), "idx": [next_idx, next_idx + len(devices) - 1]},
    )
    return ImportReport(created=devices)


def import_devices_csv(*, city: Jurisdiction, text: str, actor: Actor) -> ImportReport:
    """Import a CSV with a header line naming the columns of :data:`rules.DEVICE_COLUMNS`."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in rules.REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return ImportReport(errors=[f"line 1: header: missing column(s) {', '.join(missing)}"])
    return register_devices(city=city, rows=list(reader), actor=actor, first_line=2)


def _registry_changed() -> None:
    """This process's engines read the registry again: now, and once the change is committed."""
    engines.devices_changed()
    transaction.on_commit(engines.devices_changed)


@transaction.atomic
def set_device_active(device: Device, active: bool, *, actor: Actor) -> Device:
    _require_registrar(actor)
    before = device.active
    device.active = active
    device.save(update_fields=["active"])
    _registry_changed()
    audit.record(
        actor, "device.activate" if active else "device.deactivate", device, before=before, after=active
    )
    return device


def register_device(
    *,
    city: Jurisdiction,
    code: str,
    type: str,
    kind: str,
    lon: float,
    lat: float,
    department: Department,
    interval_s: int,
    actor: Actor,
    installed_at: datetime | None = None,
) -> Device:
    """One device; raises ValidationError naming the field and the rule."""
    report = register_devices(
        city=city,
        actor=actor,
        rows=[
            {
                "code": code,
                "type": type,
                "kind": kind,
                "lon": str(lon),
                "lat": str(lat),
                "department": department.code,
                "interval_s": str(interval_s),
                "installed_at": installed_at.isoformat() if installed_at else "",
            }
        ],
    )
    if not report.ok:
        raise ValidationError({e.split(": ")[1]: e.split(": ", 2)[2] for e in report.errors})
    return report.created[0]
