"""Replay real 311 history (Los Angeles MyLA311, NYC 311) as requests, so rates run on real data.

Works on a freshly migrated database: the city, its agencies and request types are created from
what the file holds, and locations stay points when no polygons are known. Bad rows are reported
with their line number; good rows are kept. Re-running skips rows already loaded.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import transaction

from cityloop.core import audit, calendars
from cityloop.core import rules as clock
from cityloop.core.actors import Actor
from cityloop.hotline.models import Channel, Order, OrderStatus, Request, Status
from cityloop.org import actions as org_actions
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Jurisdiction


@dataclass(frozen=True)
class Format:
    city_code: str
    city_name: str
    timezone: str
    id_col: str
    created_col: str
    closed_col: str
    agency_col: str
    agency_name_col: str | None
    type_col: str
    address_col: str
    lat_col: str
    lon_col: str
    date_formats: tuple[str, ...]
    prefix: str


LA = Format(
    "LA",
    "Los Angeles",
    "America/Los_Angeles",
    "SRNumber",
    "CreatedDate",
    "ClosedDate",
    "Owner",
    None,
    "RequestType",
    "Address",
    "Latitude",
    "Longitude",
    ("%m/%d/%Y %I:%M:%S %p",),
    "LA",
)
NYC = Format(
    "NYC",
    "New York City",
    "America/New_York",
    "unique_key",
    "created_date",
    "closed_date",
    "agency",
    "agency_name",
    "complaint_type",
    "incident_address",
    "latitude",
    "longitude",
    ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%m/%d/%Y %I:%M:%S %p"),
    "NYC",
)
FORMATS = (LA, NYC)


def detect(header: list[str]) -> Format:
    for fmt in FORMATS:
        needed = {fmt.id_col, fmt.created_col, fmt.closed_col, fmt.agency_col, fmt.type_col}
        if needed <= set(header):
            return fmt
    raise ValueError(
        "not a known 311 export: expected the columns of MyLA311 (SRNumber, CreatedDate, Owner, "
        "RequestType, ClosedDate, …) or NYC 311 (unique_key, created_date, agency, complaint_type, …)"
    )


@dataclass
class ReplayReport:
    loaded: int = 0
    skipped_existing: int = 0
    closed: int = 0
    open: int = 0
    located: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    agencies_created: int = 0
    types_created: int = 0


def _parse_time(value: str, fmt: Format, tz: ZoneInfo) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    for pattern in fmt.date_formats:
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=tz)
        except ValueError:
            continue
    raise ValueError(f"date {value!r} is not in the expected format")


def _coordinate(value: str, low: float, high: float, name: str) -> float | None:
    if not (value or "").strip():
        return None
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high or number == 0:
        raise ValueError(f"{name} {value!r} is out of range")
    return number


def _city_for(fmt: Format, city_code: str | None, actor: Actor) -> Jurisdiction:
    if city_code:
        found = org_queries.city_by_code(city_code)
        if found is None:
            raise ValueError(f"--city {city_code!r}: no such city in the database")
        return found
    return org_actions.add_shapeless_city(
        code=fmt.city_code,
        name=fmt.city_name,
        timezone=fmt.timezone,
        country="US",
        language="en",
        notes="created by `cityloop hotline replay`; no shapes known",
        actor=actor,
    )


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from enumerate(csv.DictReader(handle), start=2)


def replay(
    path: Path,
    *,
    city_code: str | None = None,
    actor: Actor,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    fmt = detect(header)
    report = ReplayReport()
    with transaction.atomic():
        city = _city_for(fmt, city_code, actor)
        tz = ZoneInfo(getattr(getattr(city, "pack", None), "timezone", None) or fmt.timezone)
        cal = calendars.for_city(getattr(getattr(city, "pack", None), "calendar", None) or "weekday", tz=tz)
        departments = {d.code: d for d in org_queries.departments(city)}
        categories = {c.name: c for c in org_queries.categories(city, depth=1)}
        has_shapes = org_queries.places(city, level="street").exclude(geometry="").exists()
        existing = set(
            Request.objects.filter(city=city, channel=Channel.REPLAY).values_list("tracking_no", flat=True)
        )
        pending: list[tuple[Request, str]] = []
        type_agencies: dict[str, Counter] = {}

        def flush() -> None:
            if not pending:
                return
            if has_shapes:
                _locate(city, [r for r, _ in pending], report)
            Request.objects.bulk_create([r for r, _ in pending], batch_size=batch_size)
            saved = {
                r.tracking_no: r.pk
                for r in Request.objects.filter(
                    city=city, tracking_no__in=[r.tracking_no for r, _ in pending]
                ).only("pk", "tracking_no")
            }
            Order.objects.bulk_create(
                [
                    Order(
                        request_id=saved[r.tracking_no],
                        department=departments[agency],
                        route="direct",
                        lead=True,
                        status=OrderStatus.REPLIED if r.closed_at else OrderStatus.SIGNED,
                        dispatched_at=r.created_at,
                        signed_at=r.created_at,
                        response_due=r.created_at,
                        finish_due=r.finish_due,
                        replied_at=r.closed_at,
                    )
                    for r, agency in pending
                ],
                batch_size=batch_size,
            )
            if progress:
                progress(len(pending))
            pending.clear()

        for line, row in _rows(path):
            try:
                ref = (row.get(fmt.id_col) or "").strip()
                if not ref:
                    raise ValueError(f"{fmt.id_col} is empty")
                tracking = f"{fmt.prefix}-{ref}"[:20]
                if tracking in existing:
                    report.skipped_existing += 1
                    continue
                created = _parse_time(row.get(fmt.created_col, ""), fmt, tz)
                if created is None:
                    raise ValueError(f"{fmt.created_col} is empty")
                closed = _parse_time(row.get(fmt.closed_col, ""), fmt, tz)
                if closed is not None and closed < created:
                    raise ValueError(f"{fmt.closed_col} is before {fmt.created_col}")
                agency = (row.get(fmt.agency_col) or "").strip()
                kind = (row.get(fmt.type_col) or "").strip()
                if not agency or not kind:
                    raise ValueError(f"{fmt.agency_col if not agency else fmt.type_col} is empty")
                lat = _coordinate(row.get(fmt.lat_col, ""), -90, 90, fmt.lat_col)
                lon = _coordinate(row.get(fmt.lon_col, ""), -180, 180, fmt.lon_col)
            except ValueError as exc:
                report.errors.append((line, str(exc)))
                continue
            if agency not in departments:
                name = (row.get(fmt.agency_name_col) or agency).strip() if fmt.agency_name_col else agency
                departments[agency] = org_actions.add_replayed_department(
                    city, code=agency, name=name, actor=actor
                )
                report.agencies_created += 1
            if kind not in categories:
                categories[kind] = org_actions.add_replayed_category(
                    city, code=f"T{len(categories) + 1:03d}", name=kind, actor=actor
                )
                report.types_created += 1
            type_agencies.setdefault(kind, Counter())[agency] += 1
            existing.add(tracking)
            request = Request(
                city=city,
                tracking_no=tracking,
                channel=Channel.REPLAY,
                source_ref=ref,
                status=Status.CLOSED if closed else Status.IN_PROGRESS,
                title=kind[:200],
                description=" — ".join(v for v in (kind, (row.get("descriptor") or "").strip()) if v),
                address=(row.get(fmt.address_col) or "").strip()[:300],
                lon=lon,
                lat=lat,
                category=categories[kind],
                created_at=created,
                finish_due=clock.add_working_days(created, 7, cal),
                replied_at=closed,
                closed_at=closed,
                outcome="resolved" if closed else "",
                lead_department=departments[agency],
            )
            pending.append((request, agency))
            report.loaded += 1
            report.closed += int(closed is not None)
            report.open += int(closed is None)
            if len(pending) >= batch_size:
                flush()
        flush()
        for kind, counter in type_agencies.items():
            org_actions.set_default_responsibility(
                categories[kind], departments[counter.most_common(1)[0][0]], actor=actor
            )
        audit.record(
            actor,
            "request.replay",
            city,
            file=path.name,
            loaded=report.loaded,
            rejected=len(report.errors),
            agencies_created=report.agencies_created,
            types_created=report.types_created,
        )
    return report


def _locate(city, requests: list[Request], report: ReplayReport) -> None:
    import numpy as np

    located = [r for r in requests if r.lon is not None and r.lat is not None]
    if not located:
        return
    batch = org_queries.locator_for(city).locate_many(
        np.array([r.lon for r in located]), np.array([r.lat for r in located])
    )
    codes = {j.code: j for j in org_queries.places(city, levels=["district", "street", "community"])}
    for i, request in enumerate(located):
        location = batch.location(i)
        if location is None:
            continue
        request.district = codes.get(location.district) if location.district else None
        request.street = codes.get(location.street) if location.street else None
        request.community = codes.get(location.community) if location.community else None
        report.located += int(request.street is not None)
