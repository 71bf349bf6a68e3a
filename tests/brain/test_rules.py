"""brain/rules.py as plain tables: device rows, the closed loop's states, verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityloop.brain import rules
from cityloop.brain.models import AlarmStatus

GOOD = {
    "code": "WM-0001",
    "type": "meter",
    "kind": "water",
    "lon": "116.43",
    "lat": "39.89",
    "department": "WATER",
    "interval_s": "900",
}


def test_a_good_row_becomes_a_typed_device_with_defaults():
    row, errors = rules.parse_device_row(GOOD)
    assert errors == []
    assert row == rules.DeviceRow("WM-0001", "meter", "water", 116.43, 39.89, "WATER", 900, None, True, "")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code": ""}, "code: required"),
        ({"department": " "}, "department: required"),
        ({"code": "WM 1"}, "code: at most 64 printable characters"),
        ({"code": "WM/1"}, "code: at most 64 printable characters"),
        ({"code": "W+#"}, "code: at most 64 printable characters"),
        ({"code": "W" * 65}, "code: at most 64 printable characters"),
        (
            {"code": "WM\x001"},
            "code: at most 64 printable characters",
        ),  # a NUL: MQTT and PostgreSQL refuse it
        ({"code": "WM\n1"}, "code: at most 64 printable characters"),
        ({"code": "WM\x1b1"}, "code: at most 64 printable characters"),
        ({"code": "WM\x851"}, "code: at most 64 printable characters"),  # NEL
        ({"type": "camera"}, "type: must be one of meter, sensor"),
        ({"kind": "heat"}, "kind: must be one of"),
        ({"lon": "east"}, "lon: must be a number"),
        ({"lat": "nan"}, "lat: must be a number"),
        ({"lon": "inf"}, "lon: must be a number"),
        ({"lon": "180.5"}, "lon: must be between -180 and 180"),
        ({"lat": "-91"}, "lat: must be between -90 and 90"),
        ({"interval_s": "9"}, "interval_s: must be between 10 and 604800 seconds"),
        ({"interval_s": "604801"}, "interval_s: must be between 10 and 604800 seconds"),
        ({"interval_s": "1.5"}, "interval_s: must be a whole number of seconds"),
        ({"installed_at": "yesterday"}, "installed_at: must be an ISO 8601 date or time"),
        ({"active": "maybe"}, "active: must be true or false"),
        ({"gateway": "gw 1"}, "gateway: letters, digits"),
        ({"gateway": "网关"}, "gateway: letters, digits"),
    ],
)
def test_a_bad_row_names_the_field_and_the_rule(changes, error):
    row, errors = rules.parse_device_row({**GOOD, **changes})
    assert row is None
    assert any(e.startswith(error) for e in errors), errors


def test_every_bad_field_is_reported_at_once():
    _row, errors = rules.parse_device_row({**GOOD, "type": "x", "lon": "x", "interval_s": "x"})
    assert [e.split(":")[0] for e in errors] == ["type", "lon", "interval_s"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T08:00:00Z", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01T08:00:00+08:00", datetime(2026, 3, 1, 0, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),  # a date without a zone is UTC
    ],
)
def test_installation_times_are_read_with_their_zone(value, expected):
    row, _errors = rules.parse_device_row({**GOOD, "installed_at": value})
    assert row is not None and row.installed_at == expected


@pytest.mark.parametrize(
    ("value", "active"),
    [("1", True), ("TRUE", True), ("yes", True), ("0", False), ("false", False), ("No", False)],
)
def test_active_takes_the_usual_spellings(value, active):
    row, _errors = rules.parse_device_row({**GOOD, "active": value})
    assert row is not None and row.active is active


EVENTS = ("alarm", "fixed", "verified", "normal")
LOOP = {
    ("open", "fixed"): "awaiting",
    ("awaiting", "alarm"): "open",
    ("awaiting", "verified"): "closed",
    ("closed", "alarm"): "open",
}


@pytest.mark.parametrize(("status", "event"), [(s, e) for s in AlarmStatus.values for e in EVENTS])
def test_an_alarm_moves_only_along_the_closed_loop(status, event):
    if (status, event) in LOOP:
        assert rules.next_status(status, event) == LOOP[(status, event)]
    else:
        with pytest.raises(ValueError, match=f"cannot take the event {event!r}"):
            rules.next_status(status, event)


T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "latest", "hours", "expected"),
    [
        (None, T0, 24, False),
        (T0, None, 24, False),
        (T0, T0 + timedelta(hours=23, minutes=59), 24, False),
        (T0, T0 + timedelta(hours=24), 24, True),
        (T0, T0 + timedelta(minutes=30), 0.5, True),
        (T0, T0, 0, True),
    ],
)
def test_a_fix_is_verified_after_the_readings_stayed_normal_long_enough(since, latest, hours, expected):
    assert rules.verified(since, latest, hours) is expected


def test_a_case_title_names_the_alarm_the_device_kind_and_its_code():
    assert rules.case_title("Water", "Leak", "WM-0001") == "Leak: Water WM-0001"


def test_the_demo_knows_an_owner_for_every_kind_it_places():
    from cityloop.brain.models import Kind

    # water level and "other" devices come only from a city's own registry, with their department
    assert set(rules.OWNER_HINTS) == set(Kind.values) - {Kind.WATER_LEVEL, Kind.OTHER}
