"""Working-time arithmetic (cityloop.core.rules) and city calendars (cityloop.core.calendars).

Plain pytest + hypothesis; no database.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta, timezone
from fractions import Fraction
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityloop.core import calendars, rules
from cityloop.core.rules import (
    DeadlineState,
    WorkCalendar,
    add_calendar_time,
    add_working_days,
    add_working_hours,
    clock_start,
    deadline_state,
    is_office_time,
    is_workday,
    next_workday,
    previous_workday,
    working_time_between,
)

SH = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))
H = timedelta(hours=1)
US = timedelta(microseconds=1)

CN = calendars.for_city("cn")
WD = calendars.for_city("weekday")
CALS = {"cn": CN, "weekday": WD}

PROPS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

starts = st.datetimes(
    min_value=datetime(2004, 1, 1),
    max_value=datetime(2028, 12, 31, 23, 59),
    timezones=st.sampled_from([SH, CST, UTC, timezone(timedelta(hours=-5))]),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=1500))
positive = st.timedeltas(min_value=US, max_value=timedelta(hours=1500))
day_counts = st.integers(min_value=0, max_value=400)
cal_names = st.sampled_from(sorted(CALS))


def at(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=CST)


def in_office(dt: datetime, cal: WorkCalendar) -> bool:
    """End-inclusive: inside an office interval of a working day, or exactly at its close."""
    loc = dt.astimezone(cal.tz or dt.tzinfo)
    if not is_workday(loc.date(), cal):
        return False
    t = loc.time()
    return any(o <= t <= c for o, c in cal.office_hours)


@pytest.fixture
def fresh_calendars(monkeypatch):
    """No configured holiday folders except the shipped one, and nothing warned about yet."""
    monkeypatch.delenv("CITYLOOP_HOLIDAY_DIR", raising=False)
    monkeypatch.setattr(calendars, "_setting_dirs", lambda: [])
    calendars.clear_caches()
    yield
    calendars.clear_caches()


# --------------------------------------------------------------------------- the calendar itself


def test_cn_workdays_agree_with_chinese_calendar_for_every_covered_day():
    d, last = date(2004, 1, 1), date(2026, 12, 31)
    while d <= last:
        assert is_workday(d, CN) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)
    assert CN.known_years >= set(range(2004, 2027))


def test_2025_holiday_weeks_as_chinese_calendar_has_them():
    spring = [date(2025, 1, 28) + timedelta(days=i) for i in range(8)]  # 01-28 .. 02-04
    national = [date(2025, 10, 1) + timedelta(days=i) for i in range(8)]  # 10-01 .. 10-08
    for d in spring + national:
        assert not chinese_calendar.is_workday(d) and not is_workday(d, CN), d
    for d in (date(2025, 1, 26), date(2025, 2, 8), date(2025, 9, 28), date(2025, 10, 11)):
        assert d.weekday() >= 5
        assert chinese_calendar.is_workday(d) and is_workday(d, CN), d
    assert not is_workday(date(2025, 1, 27) - timedelta(days=2), CN)  # Sat 01-25 stays off
    assert next_workday(date(2025, 1, 27), CN) == date(2025, 2, 5)
    assert previous_workday(date(2025, 2, 5), CN) == date(2025, 1, 27)
    assert next_workday(date(2025, 9, 30), CN) == date(2025, 10, 9)
    assert next_workday(date(2025, 10, 10), CN) == date(2025, 10, 11)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_weekday_calendar_is_monday_to_friday(d):
    assert is_workday(d, WD) == (d.weekday() < 5)


def test_weekday_calendar_ignores_chinese_holidays():
    assert is_workday(date(2025, 1, 28), WD)  # Spring Festival, but a Tuesday
    assert not is_workday(date(2025, 1, 26), WD)  # adjusted workday in China, but a Sunday
    assert add_working_hours(at(2025, 1, 27, 17), 2, WD) == at(2025, 1, 28, 10)
    assert add_working_days(at(2025, 9, 30, 10), 1, WD) == at(2025, 10, 1, 18)


def test_calendar_validation():
    with pytest.raises(ValueError):
        WorkCalendar(kind="mars")
    with pytest.raises(ValueError):
        WorkCalendar(office_hours=())
    with pytest.raises(ValueError):
        WorkCalendar(office_hours=((time(12), time(9)),))
    with pytest.raises(ValueError):
        WorkCalendar(office_hours=((time(9), time(12)), (time(11), time(14))))
    with pytest.raises(ValueError):
        WorkCalendar(holidays=frozenset({date(2025, 1, 1)}), workdays=frozenset({date(2025, 1, 1)}))
    assert CN.office_time_per_day == timedelta(hours=7, minutes=30)
    assert CN == calendars.for_city("cn")  # cached and comparable


# --------------------------------------------------------------------------- pinned deadlines


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Spring Festival 2025: holidays 01-28..02-04, adjusted workdays Sun 01-26 and Sat 02-08
        (at(2025, 1, 27, 17), 2, at(2025, 2, 5, 10)),
        (at(2025, 1, 24, 17, 30), 1, at(2025, 1, 26, 9, 30)),  # Fri evening -> working Sunday
        (at(2025, 1, 25, 10), 1, at(2025, 1, 26, 10)),  # arrives Sat, works Sun
        (at(2025, 1, 30, 15), 7.5, at(2025, 2, 5, 18)),  # arrives in the holiday
        (at(2025, 2, 7, 17), 2, at(2025, 2, 8, 10)),  # Sat 02-08 is a workday
        # National Day 2025: holidays 10-01..10-08, adjusted workdays Sun 09-28 and Sat 10-11
        (at(2025, 9, 26, 17), 1.5, at(2025, 9, 28, 9, 30)),
        (at(2025, 9, 30, 17), 3, at(2025, 10, 9, 11)),
        (at(2025, 10, 3, 10), 1, at(2025, 10, 9, 10)),
        (at(2025, 10, 10, 17), 2, at(2025, 10, 11, 10)),
        # ordinary days: lunch break, end-inclusive close, weekend
        (at(2025, 3, 3, 11, 30), 1, at(2025, 3, 3, 14)),
        (at(2025, 3, 3, 9), 3, at(2025, 3, 3, 12)),
        (at(2025, 3, 3, 12, 15), 0.5, at(2025, 3, 3, 14)),
        (at(2025, 3, 7, 17), 2, at(2025, 3, 10, 10)),
        (at(2025, 3, 3, 7), timedelta(minutes=15), at(2025, 3, 3, 9, 15)),
    ],
)
def test_pinned_working_hours(start, hours, due):
    got = add_working_hours(start, hours, CN)
    assert got == due
    assert got.tzinfo == SH  # expressed in the calendar's zone
    span = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
    assert working_time_between(start, got, CN) == span


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (at(2025, 1, 27, 10), 1, at(2025, 2, 5, 18)),
        (at(2025, 1, 24, 10), 1, at(2025, 1, 26, 18)),  # working Sunday is day 1
        (at(2025, 1, 29, 10), 1, at(2025, 2, 5, 18)),  # arrives on a holiday: next workday is day 1
        (at(2025, 2, 5, 8), 3, at(2025, 2, 8, 18)),  # Thu, Fri, working Sat
        (at(2025, 9, 30, 10), 2, at(2025, 10, 10, 18)),
        (at(2025, 9, 30, 10), 3, at(2025, 10, 11, 18)),
        (at(2025, 10, 3, 23, 59), 1, at(2025, 10, 9, 18)),
        (at(2025, 3, 3, 23), 5, at(2025, 3, 10, 18)),
        (at(2025, 3, 3, 10), 0, at(2025, 3, 3, 10)),
    ],
)
def test_pinned_working_days(start, days, due):
    assert add_working_days(start, days, CN) == due


def test_timezones_are_converted_to_the_calendar_zone():
    utc_start = datetime(2025, 1, 27, 9, tzinfo=UTC)  # 17:00 in Beijing
    assert add_working_hours(utc_start, 2, CN) == at(2025, 2, 5, 10)
    # a weekday calendar without tz computes in the datetime's own zone
    ny = ZoneInfo("America/New_York")
    got = add_working_hours(datetime(2025, 3, 7, 17, tzinfo=ny), 2, WD)
    assert got == datetime(2025, 3, 10, 10, tzinfo=ny)  # across the DST change, wall clock
    with pytest.raises(ValueError):
        add_working_hours(datetime(2025, 3, 3, 9), 1, CN)


def test_clock_start_and_office_time():
    assert clock_start(at(2025, 1, 27, 19), CN) == at(2025, 2, 5, 9)
    assert clock_start(at(2025, 3, 3, 12, 30), CN) == at(2025, 3, 3, 13, 30)
    assert clock_start(at(2025, 3, 3, 10), CN) == at(2025, 3, 3, 10)
    assert is_office_time(at(2025, 3, 3, 9), CN)
    assert not is_office_time(at(2025, 3, 3, 12), CN)
    assert not is_office_time(at(2025, 10, 2, 10), CN)


def test_working_time_between_examples():
    assert working_time_between(at(2025, 3, 3, 8), at(2025, 3, 3, 20), CN) == timedelta(hours=7.5)
    assert working_time_between(at(2025, 3, 3, 20), at(2025, 3, 3, 8), CN) == -timedelta(hours=7.5)
    assert working_time_between(at(2025, 1, 27, 17), at(2025, 2, 5, 10), CN) == 2 * H
    assert working_time_between(at(2025, 10, 1), at(2025, 10, 8, 23), CN) == timedelta(0)
    # suspension: the clock stopped 2025-03-03 10:00 .. 03-04 10:00, i.e. 7.5 working hours
    due = at(2025, 3, 5, 18)
    paused = working_time_between(at(2025, 3, 3, 10), at(2025, 3, 4, 10), CN)
    assert add_working_hours(due, paused, CN) == at(2025, 3, 6, 18)


def test_custom_office_hours():
    cal = calendars.for_city("cn", office_hours=[("08:30", "12:00"), ("14:00", "17:30")])
    assert cal.office_time_per_day == timedelta(hours=7)
    assert add_working_hours(at(2025, 3, 3, 11), 2, cal) == at(2025, 3, 3, 15)
    assert add_working_days(at(2025, 3, 3, 11), 1, cal) == at(2025, 3, 4, 17, 30)
    allday = calendars.for_city("weekday", office_hours=[("00:00", "24:00")], tz=CST)
    assert add_working_hours(at(2025, 3, 7, 20), 10, allday) == at(2025, 3, 10, 6)


# --------------------------------------------------------------------------- properties


@PROPS
@given(cal_names, starts, durations, durations)
def test_more_hours_never_earlier(name, start, a, b):
    cal = CALS[name]
    assert add_working_hours(start, a, cal) <= add_working_hours(start, a + b, cal)


@PROPS
@given(cal_names, starts, day_counts, day_counts)
def test_more_days_never_earlier(name, start, a, b):
    cal = CALS[name]
    assert add_working_days(start, a, cal) <= add_working_days(start, a + b, cal)


@PROPS
@given(cal_names, starts, durations, durations)
def test_hours_compose(name, start, a, b):
    cal = CALS[name]
    assert add_working_hours(start, a + b, cal) == add_working_hours(add_working_hours(start, a, cal), b, cal)


@PROPS
@given(
    cal_names,
    starts,
    st.floats(min_value=0, max_value=1000, allow_nan=False),
    st.floats(min_value=0, max_value=1000, allow_nan=False),
)
def test_float_hours_compose_within_a_microsecond(name, start, a, b):
    cal = CALS[name]
    whole = add_working_hours(start, a + b, cal)
    stepwise = add_working_hours(add_working_hours(start, a, cal), b, cal)
    # Within a microsecond of *office time*: a whole that ends on Friday's close and a stepwise sum
    # 1 µs longer (Monday 09:00:00.000001) are 1 µs of work apart, though days apart on the wall.
    # Stepwise is never early. The float ``a + b`` rounds itself when it is not exact, which can move
    # the whole one more microsecond either way; that rounding is the caller's, not the calendar's.
    apart = working_time_between(whole, stepwise, cal)
    if Fraction(a) + Fraction(b) == Fraction(a + b):
        assert timedelta(0) <= apart <= US
    else:
        assert abs(apart) <= 2 * US


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (38.13896148166667, 0.7650124708333337),
        (3.4586902736111114, 0.37899744),
        (0.055789703611111116, 0.03175946888888889),
    ],
)
def test_hours_become_microseconds_from_the_floats_exact_value(a, b):
    # a + b is exact in these floats, but a * 3.6e9 computed in floats rounded: a then b came out
    # 2 µs late or 1 µs early (found by a search like hypothesis's)
    assert Fraction(a) + Fraction(b) == Fraction(a + b)
    start = at(2004, 1, 2, 9)
    whole = add_working_hours(start, a + b, CN)
    stepwise = add_working_hours(add_working_hours(start, a, CN), b, CN)
    assert working_time_between(whole, stepwise, CN) in (US * 0, US)
    assert add_working_hours(start, 1e-300, CN) == start + US  # never "no time at all"
    assert add_working_hours(start, 2.0, CN) == start + timedelta(hours=2)


def test_float_hours_that_end_on_a_close_compose_within_a_microsecond_of_office_time():
    # the counterexample hypothesis found: 45 h from New Year 2004 ends on Friday's close, and a tiny
    # second amount rounds up to 1 µs, which starts at Monday's opening.
    start, tiny = at(2004, 1, 1), 2.2250738585e-313
    whole = add_working_hours(start, 45.0 + tiny, CN)
    stepwise = add_working_hours(add_working_hours(start, 45.0, CN), tiny, CN)
    assert whole == at(2004, 1, 9, 18)
    assert stepwise == at(2004, 1, 12, 9) + US
    assert working_time_between(whole, stepwise, CN) == US


@PROPS
@given(cal_names, starts, positive)
def test_hour_deadlines_land_in_office_hours(name, start, h):
    cal = CALS[name]
    due = add_working_hours(start, h, cal)
    assert due > start
    assert in_office(due, cal)


@PROPS
@given(cal_names, starts, st.integers(min_value=1, max_value=400))
def test_day_deadlines_land_at_close_of_a_working_day(name, start, n):
    cal = CALS[name]
    due = add_working_days(start, n, cal)
    local_start = start.astimezone(cal.tz or start.tzinfo)
    assert is_workday(due.date(), cal)
    assert due.timetz().replace(tzinfo=None) == cal.office_hours[-1][1]
    assert due.date() > local_start.date()
    # exactly n working days in (start day, due day]
    d, count = local_start.date(), 0
    while d < due.date():
        d += timedelta(days=1)
        count += is_workday(d, cal)
    assert count == n


@PROPS
@given(cal_names, starts, durations)
def test_between_inverts_add(name, start, h):
    cal = CALS[name]
    assert working_time_between(start, add_working_hours(start, h, cal), cal) == h
    back = add_working_hours(start, -h, cal)
    assert back <= start
    assert working_time_between(back, start, cal) == h


@PROPS
@given(cal_names, starts, starts)
def test_between_is_antisymmetric_and_bounded(name, a, b):
    cal = CALS[name]
    ab = working_time_between(a, b, cal)
    assert ab == -working_time_between(b, a, cal)
    assert abs(ab) <= abs(b - a)


# --------------------------------------------------------------------------- years without data


def test_shipped_2027_file_is_unpublished():
    hf = calendars.load_holiday_file(calendars.SHIPPED_HOLIDAY_DIR / "cn-2027.yaml")
    assert hf.year == 2027 and hf.status == "unpublished"
    assert not hf.usable and not hf.holidays and not hf.workdays
    assert "2026-11-26" in hf.note


def test_2027_falls_back_to_weekdays_and_warns_once(fresh_calendars, caplog):
    caplog.set_level(logging.WARNING, logger="cityloop.core.calendars")
    cal = calendars.for_city("cn")
    assert 2027 not in cal.known_years
    # 2026-12-31 (Thu) is day 1, 2027-01-01 (Fri) counts as a plain weekday, Mon 01-04 is day 3
    assert add_working_days(at(2026, 12, 30, 10), 3, cal) == at(2027, 1, 4, 18)
    assert add_working_hours(at(2027, 2, 5, 17), 2, cal) == at(2027, 2, 8, 10)
    assert working_time_between(at(2027, 1, 1), at(2027, 12, 31, 23), cal) > timedelta(0)
    assert calendars.for_city("cn") is cal
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "2027" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "cn-2027.yaml" in warnings[0].getMessage()


@pytest.mark.parametrize("start", [at(1900, 3, 1, 10), at(2003, 12, 31, 17), at(2099, 12, 31, 17)])
def test_any_year_never_crashes(fresh_calendars, start):
    cal = calendars.for_city("cn")
    due = add_working_hours(start, 20, cal)
    assert in_office(due, cal)
    assert add_working_days(start, 10, cal) > start
    assert working_time_between(start, due, cal) == timedelta(hours=20)


def test_holiday_file_for_2027_is_used(fresh_calendars, tmp_path, caplog):
    (tmp_path / "cn-2027.yaml").write_text(
        "year: 2027\n"
        "status: published\n"
        "source: test\n"
        "holidays:\n"
        "  - 2027-01-01\n"
        "  - 2027-02-08..2027-02-12\n"
        "  - {from: 2027-10-01, to: 2027-10-07, name: National Day}\n"
        "workdays:\n"
        "  - 2027-02-20\n"
        "  - {date: 2027-10-09, name: adjusted}\n",
        encoding="utf-8",
    )
    caplog.set_level(logging.WARNING, logger="cityloop.core.calendars")
    cal = calendars.for_city("cn", holiday_dir=tmp_path)
    assert 2027 in cal.known_years
    assert not is_workday(date(2027, 1, 1), cal)
    # 12-31 is day 1, New Year's Day is skipped, Mon 01-04 is day 2
    assert add_working_days(at(2026, 12, 30, 10), 2, cal) == at(2027, 1, 4, 18)
    assert add_working_hours(at(2027, 2, 5, 17), 2, cal) == at(2027, 2, 15, 10)
    assert add_working_hours(at(2027, 2, 19, 17), 2, cal) == at(2027, 2, 20, 10)
    assert add_working_days(at(2027, 9, 30, 10), 2, cal) == at(2027, 10, 9, 18)
    assert not [r for r in caplog.records if "2027" in r.getMessage()]
    # the shipped calendar (without that folder) is unaffected
    assert is_workday(date(2027, 1, 1), calendars.for_city("cn"))


def test_environment_variable_points_at_a_city_folder(fresh_calendars, tmp_path, monkeypatch):
    (tmp_path / "cn-2027.yaml").write_text("status: published\nholidays: [2027-01-01]\n", encoding="utf-8")
    monkeypatch.setenv("CITYLOOP_HOLIDAY_DIR", str(tmp_path))
    assert not is_workday(date(2027, 1, 1), calendars.for_city("cn"))


@pytest.mark.parametrize(
    "text",
    [
        "status: unpublished\nholidays: [2027-01-01]\n",  # not published yet
        "status: published\nholidays: []\nworkdays: []\n",  # published but empty
        "",  # empty file
    ],
)
def test_unusable_file_counts_as_no_file(fresh_calendars, tmp_path, text):
    (tmp_path / "cn-2027.yaml").write_text(text, encoding="utf-8")
    cal = calendars.for_city("cn", holiday_dir=tmp_path)
    assert 2027 not in cal.known_years
    assert is_workday(date(2027, 1, 1), cal)


@pytest.mark.parametrize(
    "text",
    [
        "status: published\nholidays: [2027-13-01]\n",  # not a date
        "status: published\nholidays: [2028-01-03]\n",  # wrong year
        "status: published\nholidays: [2027-01-04]\nworkdays: [2027-01-04]\n",  # both
        "status: published\nworkdays: [2027-01-04]\n",  # a Monday is no adjusted workday
        "status: published\nholidays: [2027-02-12..2027-02-08]\n",  # reversed range
        "year: 2026\nstatus: published\nholidays: [2027-01-01]\n",  # year mismatch
        "status: [unclosed\n",  # not YAML
        "- 2027-01-01\n",  # not a mapping
    ],
)
def test_broken_file_is_logged_and_ignored(fresh_calendars, tmp_path, caplog, text):
    path = tmp_path / "cn-2027.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(calendars.HolidayFileError):
        calendars.load_holiday_file(path)
    caplog.set_level(logging.ERROR, logger="cityloop.core.calendars")
    cal = calendars.for_city("cn", holiday_dir=tmp_path)
    assert 2027 not in cal.known_years
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_file_overrides_package_year(fresh_calendars, tmp_path):
    (tmp_path / "cn-2025.yaml").write_text("status: published\nholidays: [2025-03-03]\n", encoding="utf-8")
    cal = calendars.for_city("cn", holiday_dir=tmp_path)
    assert not is_workday(date(2025, 3, 3), cal)
    assert is_workday(date(2025, 1, 28), cal)  # the package's 2025 arrangement was replaced
    assert is_workday(date(2024, 2, 12), CN) == is_workday(date(2024, 2, 12), cal)


# --------------------------------------------------------------------------- helpers


def test_add_calendar_time():
    assert add_calendar_time(at(2025, 1, 28, 10), 24) == at(2025, 1, 29, 10)
    ny = ZoneInfo("America/New_York")
    got = add_calendar_time(datetime(2025, 3, 8, 12, tzinfo=ny), timedelta(hours=24))
    assert got == datetime(2025, 3, 9, 13, tzinfo=ny)  # 24 real hours across the DST change


def test_deadline_state():
    due = at(2025, 3, 5, 18)
    assert deadline_state(at(2025, 3, 5, 18, 1), due) == "overdue"
    assert deadline_state(due, due) == DeadlineState.OK  # finishing exactly at due is on time
    assert deadline_state(at(2025, 3, 5, 10), due, warn_before=8) == "nearly_overdue"
    assert deadline_state(at(2025, 3, 5, 10), due, warn_before=7) == "ok"
    # working time: Fri 17:00 -> Mon 10:00 is only 2 working hours
    assert deadline_state(at(2025, 3, 7, 17), at(2025, 3, 10, 10), warn_before=2, cal=CN) == "nearly_overdue"
    assert deadline_state(at(2025, 3, 7, 17), at(2025, 3, 10, 10), warn_before=2) == "ok"
    start = at(2025, 3, 3, 9)  # 3 working days -> due 03-05 18:00, 22.5 working hours
    assert deadline_state(at(2025, 3, 5, 9), due, warn_fraction=0.6, start=start, cal=CN) == "nearly_overdue"
    assert deadline_state(at(2025, 3, 3, 18), due, warn_fraction=0.6, start=start, cal=CN) == "ok"
    with pytest.raises(ValueError):
        deadline_state(at(2025, 3, 3, 18), due, warn_fraction=0.6)


def test_rules_module_is_pure():
    src = open(rules.__file__, encoding="utf-8").read()
    for forbidden in ("import logging", "open(", "import os", "django", "chinese_calendar"):
        assert forbidden not in src.split('"""', 2)[2], forbidden
