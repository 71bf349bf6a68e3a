"""Reads of the brain: devices, their readings, the pulse, alarms — scoped to who is asking."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
from django.db.models import Count, Q, QuerySet, Sum

from cityloop.brain.archive import archive
from cityloop.brain.models import Alarm, AlarmStatus, AlarmType, Checkpoint, Device, Hourly, RejectTally
from cityloop.core import config, permissions
from cityloop.core import queries as core_queries
from cityloop.core.actors import Actor
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Jurisdiction

NGSI_CONTEXT = ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]


# (value, label) of every alarm type, for the pages of other apps that name an alarm
ALARM_TYPES = AlarmType.choices


def can_see_brain(actor: Actor) -> bool:
    return permissions.has_role(actor, permissions.STAFF)


def devices_for(actor: Actor) -> QuerySet[Device]:
    qs = Device.objects.select_related("street", "district", "department")
    return core_queries.for_actor(qs, actor, street="street_id", department="department_id")


def alarms_for(actor: Actor) -> QuerySet[Alarm]:
    qs = Alarm.objects.select_related("device", "device__street", "device__department")
    return core_queries.for_actor(qs, actor, street="device__street_id", department="device__department_id")


def recent_readings(device: Device, *, hours: float = 48, now: float | None = None):
    """(ts seconds list, value list, consumption list) of the device's archived readings."""
    now = time.time() if now is None else now
    since_us = int((now - hours * 3600) * 1e6)
    tables = [
        archive.recent_readings(root, device.code, since_us=since_us) for root in config.brain_archive_dirs()
    ]
    table = pa.concat_tables(tables).sort_by("ts") if len(tables) > 1 else tables[0]
    table = table.slice(max(0, table.num_rows - archive.RECENT_LIMIT))  # the newest over every shard
    ts = [t.timestamp() for t in table.column("ts").to_pylist()]
    return ts, table.column("value").to_pylist(), table.column("consumption").to_pylist()


def latest_reading(device: Device) -> tuple[datetime, float] | None:
    found = [archive.latest_reading(root, device.code) for root in config.brain_archive_dirs()]
    return max((f for f in found if f is not None), key=lambda f: f[0], default=None)


def ngsi_ld(device: Device) -> dict:
    """The device as an NGSI-LD entity with its latest archived reading."""
    entity = {
        "id": f"urn:ngsi-ld:Device:{device.code}",
        "type": "Device",
        "deviceCategory": {"type": "Property", "value": device.type},
        "kind": {"type": "Property", "value": device.kind},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [device.lon, device.lat]},
        },
        "expectedInterval": {"type": "Property", "value": device.interval_s, "unitCode": "SEC"},
        "owner": {"type": "Relationship", "object": f"urn:ngsi-ld:Organization:{device.department.code}"},
        "active": {"type": "Property", "value": device.active},
    }
    for level in ("district", "street", "community"):
        place = getattr(device, level)
        if place is not None:
            entity[level] = {"type": "Property", "value": place.code, "name": place.name}
    latest = latest_reading(device)
    if latest is not None:
        at, value = latest
        entity["latestReading"] = {
            "type": "Property",
            "value": value,
            "observedAt": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
    entity["@context"] = NGSI_CONTEXT
    return entity


def pulse_hours(hours: int = 24, *, end: datetime | None = None) -> list[datetime]:
    """The last ``hours`` whole hours ending with the newest hour in the pulse (or now)."""
    newest = end or Hourly.objects.order_by("-hour").values_list("hour", flat=True).first()
    if newest is None:
        newest = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [newest - timedelta(hours=h) for h in range(hours - 1, -1, -1)]


def district_heat(city: Jurisdiction, hours: list[datetime], *, kind: str | None = None) -> dict:
    """The pulse per district and hour: {"districts": [...], "values": {(district id, hour): (consumption
    summed, readings counted)}}; a meter's figure is the sum, a sensor's the sum over the count."""
    districts = list(org_queries.places(city, level="district").order_by("code"))
    qs = Hourly.objects.filter(hour__gte=hours[0], hour__lte=hours[-1], district__in=districts)
    if kind:
        qs = qs.filter(kind=kind)
    values = {
        (r["district_id"], r["hour"]): (r["c"] or 0.0, r["n"] or 0)
        for r in qs.values("district_id", "hour").annotate(c=Sum("consumption"), n=Sum("readings"))
    }
    return {"districts": districts, "values": values}


def kind_trends(hours: list[datetime]) -> dict[str, tuple[list[float], list[int]]]:
    """Per kind, (consumption summed, readings counted) per hour: the trend lines. A meter's hour is
    its consumption; a sensor's "consumption" is the sum of its values, so its hour is the mean."""
    rows = (
        Hourly.objects.filter(hour__gte=hours[0], hour__lte=hours[-1])
        .values("kind", "hour")
        .annotate(c=Sum("consumption"), n=Sum("readings"))
    )
    index = {h: i for i, h in enumerate(hours)}
    out: dict[str, tuple[list[float], list[int]]] = {}
    for r in rows:
        if r["hour"] in index:
            sums, counts = out.setdefault(r["kind"], ([0.0] * len(hours), [0] * len(hours)))
            sums[index[r["hour"]]] += r["c"] or 0.0
            counts[index[r["hour"]]] += r["n"] or 0
    return dict(sorted(out.items()))


def pulse_totals(hours: list[datetime]) -> dict:
    agg = Hourly.objects.filter(hour__gte=hours[0], hour__lte=hours[-1]).aggregate(
        readings=Sum("readings"), alarms=Sum("alarms")
    )
    return {
        "readings": agg["readings"] or 0,
        "alarms": agg["alarms"] or 0,
        "devices": Device.objects.filter(active=True).count(),
        "open_alarms": Alarm.objects.exclude(status=AlarmStatus.CLOSED).count(),
        "rejects": RejectTally.objects.aggregate(n=Sum("count"))["n"] or 0,
    }


def live_alarms(actor: Actor, limit: int = 50) -> QuerySet[Alarm]:
    return alarms_for(actor).filter(~Q(status=AlarmStatus.CLOSED)).order_by("-last_ts")[:limit]


def alarm_positions(actor: Actor, *, district_id: int | None = None, limit: int = 200) -> list[dict]:
    """The live (not closed) alarms ``actor`` may see, newest first, with their device's position: what a
    map overlays. One query through the status index, at most ``limit`` rows; ``district_id`` narrows
    to the devices of one district. Each dict: code, lon, lat, kind, type, tracking_no, request_id."""
    if not can_see_brain(actor):
        return []
    qs = core_queries.for_actor(
        Alarm.objects.filter(~Q(status=AlarmStatus.CLOSED)),
        actor,
        street="device__street_id",
        department="device__department_id",
    )
    if district_id:
        qs = qs.filter(device__district_id=district_id)
    return [
        {
            "code": code,
            "lon": lon,
            "lat": lat,
            "kind": kind,
            "type": alarm_type,
            "tracking_no": tracking_no,
            "request_id": request_id,
        }
        for code, lon, lat, kind, alarm_type, tracking_no, request_id in qs.order_by("-last_ts").values_list(
            "device__code", "device__lon", "device__lat", "device__kind", "type", "tracking_no", "request_id"
        )[:limit]
    ]


def explained_alarms(alarms, *, charts: int = 0) -> list[dict]:
    """``{"alarm", "why", "chart"}`` per alarm: why it fired in the active language and, for the first
    ``charts`` of them, a small SVG of the device's readings around it (safe: escaped in svg.py)."""
    from django.utils.safestring import mark_safe

    from cityloop.brain import explain

    rows = []
    for n, alarm in enumerate(alarms):
        chart = ""
        if n < charts:
            moment = explain.alarm_moment(alarm)
            readings = recent_readings(
                alarm.device,
                hours=explain.CHART_HOURS_BEFORE + explain.CHART_HOURS_AFTER,
                now=moment + explain.CHART_HOURS_AFTER * 3600,
            )
            chart = mark_safe(explain.chart(alarm, readings))  # noqa: S308 - escaped in svg.py
        rows.append({"alarm": alarm, "why": explain.why(alarm), "chart": chart})
    return rows


def case_alarms(request_id: int, actor: Actor) -> list[dict]:
    """The alarms behind one hotline case (its request id) that ``actor`` may see, explained, with charts:
    what the hotline's request page shows of a sensor or meter case."""
    if not can_see_brain(actor):
        return []
    alarms = alarms_for(actor).filter(request_id=request_id).order_by("first_ts", "pk")
    return explained_alarms(alarms, charts=6)


def reject_counts() -> list[dict]:
    return list(RejectTally.objects.values("reason").annotate(n=Sum("count")).order_by("-n"))


def device_alarm_counts() -> dict[int, int]:
    return dict(Alarm.objects.values_list("device_id").annotate(n=Count("id")))


def open_alarm_counts() -> dict[str, int]:
    """Open alarms by type (the metrics endpoint)."""
    rows = Alarm.objects.filter(status=AlarmStatus.OPEN).order_by().values("type").annotate(n=Count("id"))
    return {row["type"]: row["n"] for row in rows}


def checkpoints() -> list[Checkpoint]:
    """Every shard's checkpoint: readings, rejects, stream sequence and when it was written."""
    return list(Checkpoint.objects.all())


def mqtt_broker_dropped() -> dict | None:
    """``{"dropped": n, "seen_at": epoch s, "worker": client id}``: the MQTT broker's count of messages it
    dropped since it started, as a brain worker last read it from $SYS; None when no worker has."""
    import json

    seen = []
    for root in config.brain_archive_dirs():  # the MQTT worker may keep its own brain folder
        try:
            seen.append(json.loads((root / "state" / "mqtt.json").read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            continue
    return max(seen, key=lambda s: s.get("seen_at") or 0, default=None)
