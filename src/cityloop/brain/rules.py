"""Pure rules of the brain: device rows, the closed loop's states, verification. No I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from cityloop.brain.models import AlarmStatus, DeviceType, Kind

MIN_INTERVAL_S, MAX_INTERVAL_S = 10, 7 * 86400
DEVICE_COLUMNS = (
    "code",
    "type",
    "kind",
    "lon",
    "lat",
    "department",
    "interval_s",
    "installed_at",
    "active",
    "gateway",
)
REQUIRED_COLUMNS = ("code", "type", "kind", "lon", "lat", "department", "interval_s")

# Which department owns a kind of device, by words in the department's name (Chinese, English).
OWNER_HINTS = {
    Kind.WATER: ("水务", "Water", "Environmental Protection"),
    Kind.POWER: ("电力", "发展改革", "城市管理", "Urban Management", "Management", "Buildings"),
    Kind.GAS: ("燃气", "城市管理", "Urban Management", "Management", "Buildings"),
    Kind.NOISE: ("生态环境", "环境", "Ecology", "Environmental Protection", "Management"),
    Kind.AIR: ("生态环境", "环境", "Ecology", "Health", "Environmental Protection", "Management"),
    Kind.MANHOLE: ("城市管理", "交通", "Transport", "Urban Management", "Management"),
}


@dataclass(frozen=True)
class DeviceRow:
    code: str
    type: str
    kind: str
    lon: float
    lat: float
    department: str
    interval_s: int
    installed_at: datetime | None
    active: bool
    gateway: str = ""


def parse_device_row(row: dict[str, str]) -> tuple[DeviceRow | None, list[str]]:
    """A CSV row as typed values, or the list of ``field: rule`` errors."""
    errors: list[str] = []
    get = {k: (row.get(k) or "").strip() for k in DEVICE_COLUMNS}
    for name in REQUIRED_COLUMNS:
        if not get[name]:
            errors.append(f"{name}: required")
    code = get["code"]
    # a NUL is refused by MQTT topics and PostgreSQL alike; no control character belongs in a code
    if code and (len(code) > 64 or any(c in " /#+" or not c.isprintable() for c in code)):
        errors.append(
            "code: at most 64 printable characters, without spaces, '/', '#' or '+' (an MQTT topic level)"
        )
    if get["type"] and get["type"] not in DeviceType.values:
        errors.append(f"type: must be one of {', '.join(DeviceType.values)}")
    if get["kind"] and get["kind"] not in Kind.values:
        errors.append(f"kind: must be one of {', '.join(Kind.values)}")
    lon = lat = math.nan
    for name in ("lon", "lat"):
        if get[name]:
            try:
                value = float(get[name])
                if not math.isfinite(value):
                    raise ValueError
            except ValueError:
                errors.append(f"{name}: must be a number")
                continue
            limit = 180 if name == "lon" else 90
            if not -limit <= value <= limit:
                errors.append(f"{name}: must be between -{limit} and {limit}")
            if name == "lon":
                lon = value
            else:
                lat = value
    interval = 0
    if get["interval_s"]:
        try:
            interval = int(get["interval_s"])
            if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
                errors.append(f"interval_s: must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S} seconds")
        except ValueError:
            errors.append("interval_s: must be a whole number of seconds")
    installed = None
    if get["installed_at"]:
        try:
            installed = datetime.fromisoformat(get["installed_at"].replace("Z", "+00:00"))
            if installed.tzinfo is None:
                installed = installed.replace(tzinfo=UTC)
        except ValueError:
            errors.append("installed_at: must be an ISO 8601 date or time")
    active = True
    if get["active"]:
        if get["active"].lower() not in {"1", "0", "true", "false", "yes", "no"}:
            errors.append("active: must be true or false")
        active = get["active"].lower() in {"1", "true", "yes"}
    gateway = get["gateway"]
    if gateway and (
        len(gateway) > 64 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in gateway)
    ):
        errors.append("gateway: letters, digits, '-' and '_', at most 64 (it is an MQTT topic level)")
    if errors:
        return None, errors
    return DeviceRow(
        code, get["type"], get["kind"], lon, lat, get["department"], interval, installed, active, gateway
    ), []


# The closed loop.  Events: a new alarm; the department replied "fixed" (the case is awaiting
# verification); a normal reading; the verification period has passed.
TRANSITIONS = {
    (AlarmStatus.OPEN, "fixed"): AlarmStatus.AWAITING,
    (AlarmStatus.AWAITING, "alarm"): AlarmStatus.OPEN,  # the problem is back: reopen the case
    (AlarmStatus.AWAITING, "verified"): AlarmStatus.CLOSED,
    (AlarmStatus.CLOSED, "alarm"): AlarmStatus.OPEN,  # back within the reopen window
}


def next_status(status: str, event: str) -> str:
    found = TRANSITIONS.get((AlarmStatus(status), event))
    if found is None:
        raise ValueError(f"an alarm that is {status} cannot take the event {event!r}")
    return found


def verified(normal_since: datetime | None, latest_normal: datetime | None, hours: float) -> bool:
    """True once the readings have been normal for ``hours`` (measured in reading time)."""
    if normal_since is None or latest_normal is None:
        return False
    return (latest_normal - normal_since).total_seconds() >= hours * 3600


def case_title(kind_label: str, alarm_label: str, code: str) -> str:
    return f"{alarm_label}: {kind_label} {code}"


@dataclass(frozen=True)
class AlarmEvent:
    """One alarm from the detectors, ready for the closed loop (``actions.alarms.record_alarms``)."""

    device_idx: int
    type: str
    ts: float  # reading time, epoch seconds
    value: float
    score: float
    evidence: dict
    received_at: float  # wall clock when the triggering batch arrived


# What one unit of consumption is for each kind of meter (the pulse's heat map and its legend).
KIND_UNITS = {"water": "m³", "power": "kWh", "gas": "m³", "water_level": "m", "noise": "dB"}
