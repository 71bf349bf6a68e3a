"""Working-time arithmetic: pure functions, no I/O.

Deadlines in CityLoop count *working time* on a city's calendar: working days
(weekdays, minus statutory holidays, plus adjusted working weekends) and, within
a working day, office hours (default 09:00-12:00 and 13:30-18:00).

Everything here is pure and fast: a :class:`WorkCalendar` is a frozen value that
holds every fact the arithmetic needs, and the functions loop at most once per
calendar day (never per minute). Building a calendar for a city -- reading
holiday files, asking the ``chinese_calendar`` package -- is the I/O side and
lives in :mod:`cityloop.core.calendars`.

Time zones
----------
All datetimes passed in must be timezone-aware (a naive datetime raises
``ValueError``). The arithmetic runs in *the calendar's local time*:

* ``cal.tz`` when the calendar has one (``calendars.for_city("cn")`` uses
  ``Asia/Shanghai``), otherwise
* the tzinfo of the (first) datetime argument.

Inputs in any other zone are converted first; results are returned in that
local zone (they are the same instants, just expressed locally). Office hours
are wall-clock times in that zone. DST changes at night do not affect office
time; office hours that themselves span a DST jump are counted in wall-clock
time.

Unknown years
-------------
A ``"cn"`` calendar knows holidays and adjusted workdays for ``known_years``.
For any other year it counts plain weekdays (Mon-Fri) and calls
``cal.on_unknown_year(year)`` if set -- an injected callback with which the I/O
side logs a warning once per year; this module itself never logs.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "CALENDAR_KINDS",
    "WorkCalendar",
    "DeadlineState",
    "is_workday",
    "next_workday",
    "previous_workday",
    "is_office_time",
    "clock_start",
    "add_working_days",
    "add_working_hours",
    "working_time_between",
    "add_calendar_time",
    "deadline_state",
    "dates_in",
]

DEFAULT_OFFICE_HOURS: tuple[tuple[time, time], ...] = (
    (time(9, 0), time(12, 0)),
    (time(13, 30), time(18, 0)),
)
CALENDAR_KINDS = ("cn", "weekday")

_DAY = timedelta(days=1)
_ZERO = timedelta(0)


def _offset(t: time, *, end: bool) -> timedelta:
    """Time of day as an offset from midnight; an *end* of 00:00 means 24:00."""
    if t.tzinfo is not None:
        raise ValueError(f"office hours are local wall-clock times, got an aware time {t!r}")
    off = timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)
    if end and off == _ZERO:
        return _DAY
    return off


@dataclass(frozen=True)
class WorkCalendar:
    """Everything the working-time arithmetic needs to know about one city.

    ``kind``        ``"cn"`` (statutory holidays + adjusted workdays) or ``"weekday"`` (Mon-Fri).
    ``office_hours`` sorted, non-overlapping ``(open, close)`` wall-clock intervals of a
                    working day; a close of ``time(0)`` means midnight at the end of the day.
    ``holidays``    dates that are NOT working days although they may be Mon-Fri.
    ``workdays``    dates that ARE working days although they fall on Sat/Sun (调休上班).
    ``known_years`` years for which ``holidays``/``workdays`` are authoritative (``"cn"`` only);
                    other years count plain weekdays and trigger ``on_unknown_year``.
    ``tz``          local time zone for the arithmetic, or ``None`` to use the datetime's own.
    ``on_unknown_year`` optional callback ``(year) -> None`` (e.g. log once); not part of equality.
    """

    kind: str = "weekday"
    office_hours: tuple[tuple[time, time], ...] = DEFAULT_OFFICE_HOURS
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    known_years: frozenset[int] = frozenset()
    tz: tzinfo | None = None
    on_unknown_year: Callable[[int], None] | None = field(default=None, compare=False, repr=False)
    # derived: office intervals as offsets from midnight, and their total per working day
    _spans: tuple[tuple[timedelta, timedelta], ...] = field(init=False, compare=False, repr=False)
    _day_total: timedelta = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in CALENDAR_KINDS:
            raise ValueError(f"unknown calendar kind {self.kind!r}; expected one of {CALENDAR_KINDS}")
        hours = tuple((o, c) for o, c in self.office_hours)
        if not hours:
            raise ValueError("office_hours must contain at least one interval")
        spans = tuple((_offset(o, end=False), _offset(c, end=True)) for o, c in hours)
        prev_end = None
        for (o, c), (so, sc) in zip(hours, spans, strict=True):
            if sc <= so:
                raise ValueError(f"office interval {o}-{c} is empty or reversed")
            if prev_end is not None and so < prev_end:
                raise ValueError("office_hours must be sorted and must not overlap")
            prev_end = sc
        holidays, workdays = frozenset(self.holidays), frozenset(self.workdays)
        both = holidays & workdays
        if both:
            raise ValueError(f"dates listed as both holiday and workday: {sorted(both)[:5]}")
        object.__setattr__(self, "office_hours", hours)
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "workdays", workdays)
        object.__setattr__(self, "known_years", frozenset(self.known_years))
        object.__setattr__(self, "_spans", spans)
        object.__setattr__(self, "_day_total", sum((c - o for o, c in spans), _ZERO))

    @property
    def office_time_per_day(self) -> timedelta:
        """Office time in one working day (7.5 hours with the default hours)."""
        return self._day_total

    def covers(self, year: int) -> bool:
        """True if the calendar has authoritative holiday data for ``year`` (always for weekday)."""
        return self.kind == "weekday" or year in self.known_years


class DeadlineState(enum.StrEnum):
    OK = "ok"
    NEARLY_OVERDUE = "nearly_overdue"
    OVERDUE = "overdue"


# --------------------------------------------------------------------------- days


def is_workday(d: date, cal: WorkCalendar) -> bool:
    """True if ``d`` is a working day on ``cal``.

    Adjusted workdays win, then holidays, then Mon-Fri. For a ``"cn"`` calendar and a year
    outside ``known_years`` this is the plain weekday rule (and ``on_unknown_year`` is told).
    """
    if isinstance(d, datetime):
        d = d.date()
    if cal.kind == "cn" and cal.on_unknown_year is not None and d.year not in cal.known_years:
        cal.on_unknown_year(d.year)
    if d in cal.workdays:
        return True
    return d.weekday() < 5 and d not in cal.holidays


def next_workday(d: date, cal: WorkCalendar) -> date:
    """The first working day strictly after ``d``."""
    if isinstance(d, datetime):
        d = d.date()
    d += _DAY
    while not is_workday(d, cal):
        d += _DAY
    return d


def previous_workday(d: date, cal: WorkCalendar) -> date:
    """The last working day strictly before ``d``."""
    if isinstance(d, datetime):
        d = d.date()
    d -= _DAY
    while not is_workday(d, cal):
        d -= _DAY
    return d


# --------------------------------------------------------------------------- helpers


def _zone(cal: WorkCalendar, dt: datetime) -> tzinfo:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"working-time arithmetic needs a timezone-aware datetime, got {dt!r}")
    return cal.tz if cal.tz is not None else dt.tzinfo


def _local(dt: datetime, tz: tzinfo) -> tuple[date, timedelta]:
    """``dt`` as (local date, offset since local midnight), naive wall clock in ``tz``."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"working-time arithmetic needs a timezone-aware datetime, got {dt!r}")
    loc = dt.astimezone(tz)
    return loc.date(), timedelta(
        hours=loc.hour, minutes=loc.minute, seconds=loc.second, microseconds=loc.microsecond
    )


def _aware(d: date, off: timedelta, tz: tzinfo) -> datetime:
    """Local wall-clock ``d`` + ``off`` (which may be 24:00) as an aware datetime."""
    return (datetime.combine(d, time()) + off).replace(tzinfo=tz)


def _as_timedelta(amount: float | timedelta, unit: str = "hours") -> timedelta:
    if isinstance(amount, timedelta):
        return amount
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise TypeError(f"expected a number of {unit} or a timedelta, got {amount!r}")
    if unit == "hours" and amount and math.isfinite(amount):
        # Round away from zero to whole microseconds: a positive amount never becomes "no time at all"
        # (which would skip the move to the next office opening), and a + b stays within 1 µs of
        # adding a then b — a deadline may be 1 µs late, never early. In integers, from the float's
        # exact value: the float product ``amount * 3.6e9`` rounds too, and then a then b could come out
        # 1 µs early or 2 µs late (hypothesis found 376.61663602083337 h + 0.594468711666667 h).
        numerator, denominator = abs(amount).as_integer_ratio()
        micros = -(-numerator * 3_600_000_000 // denominator)
        return timedelta(microseconds=micros if amount > 0 else -micros)
    return timedelta(**{unit: amount})


# --------------------------------------------------------------------------- office time


def is_office_time(dt: datetime, cal: WorkCalendar) -> bool:
    """True if ``dt`` is inside office hours (open-inclusive, close-exclusive) of a working day."""
    tz = _zone(cal, dt)
    d, t = _local(dt, tz)
    if not is_workday(d, cal):
        return False
    return any(o <= t < c for o, c in cal._spans)


def clock_start(dt: datetime, cal: WorkCalendar) -> datetime:
    """When the working clock actually starts for a request arriving at ``dt``.

    ``dt`` itself if it is office time, otherwise the next office opening.
    """
    tz = _zone(cal, dt)
    d, t = _local(dt, tz)
    while True:
        if is_workday(d, cal):
            for o, c in cal._spans:
                if t < c:
                    return dt.astimezone(tz) if t >= o else _aware(d, o, tz)
        d, t = d + _DAY, _ZERO


def add_working_days(start: datetime, days: int, cal: WorkCalendar) -> datetime:
    """Deadline of ``days`` working days from ``start``: close of office on the Nth working day.

    The start day itself is never counted (the day of receipt does not count, whatever the
    hour); day 1 is the first working day strictly after the start's local date. So a request
    arriving on a holiday or weekend starts counting from the next working day (which is day 1),
    and a request arriving on Monday at 08:00 with 1 working day is due Tuesday at close.

    The result is the end of the last office interval of day N (18:00 by default), in local
    time. ``days == 0`` returns ``start`` unchanged; negative ``days`` raise ``ValueError``.
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, got {days!r}")
    if days < 0:
        raise ValueError("add_working_days needs days >= 0")
    tz = _zone(cal, start)
    if days == 0:
        return start.astimezone(tz)
    d, _ = _local(start, tz)
    for _ in range(days):
        d = next_workday(d, cal)
    return _aware(d, cal._spans[-1][1], tz)


def add_working_hours(start: datetime, hours: float | timedelta, cal: WorkCalendar) -> datetime:
    """``start`` plus ``hours`` of office time on working days.

    ``hours`` is a number of hours or a timedelta. A positive amount returns the earliest
    instant at which that much office time has elapsed since ``start``: a start outside office
    hours begins at the next office opening, and a deadline that exactly uses up an interval
    lands on its close (12:00, not 13:30). A negative amount goes backwards (landing on an
    opening rather than on the previous close). Zero returns ``start`` (in local time).

    Invariants: ``working_time_between(start, add_working_hours(start, h)) == h`` and
    ``add_working_hours(start, a + b) == add_working_hours(add_working_hours(start, a), b)``
    for ``a, b >= 0``.
    """
    delta = _as_timedelta(hours)
    tz = _zone(cal, start)
    if delta == _ZERO:
        return start.astimezone(tz)
    d, t = _local(start, tz)
    spans = cal._spans
    if delta > _ZERO:
        remaining = delta
        while True:
            if is_workday(d, cal):
                if t == _ZERO and remaining > cal._day_total:
                    remaining -= cal._day_total  # a whole working day, skip the interval loop
                else:
                    for o, c in spans:
                        if t >= c:
                            continue
                        begin = max(t, o)
                        avail = c - begin
                        if remaining <= avail:
                            return _aware(d, begin + remaining, tz)
                        remaining -= avail
            d, t = d + _DAY, _ZERO
    else:
        remaining = -delta
        while True:
            if is_workday(d, cal):
                if t == _DAY and remaining > cal._day_total:
                    remaining -= cal._day_total
                else:
                    for o, c in reversed(spans):
                        if t <= o:
                            continue
                        end = min(t, c)
                        avail = end - o
                        if remaining <= avail:
                            return _aware(d, end - remaining, tz)
                        remaining -= avail
            d, t = d - _DAY, _DAY


def working_time_between(a: datetime, b: datetime, cal: WorkCalendar) -> timedelta:
    """Office time on working days between instants ``a`` and ``b``; negative if ``b < a``.

    Use it for countdowns (``working_time_between(now, due, cal)``) and for clock suspension
    (extend a deadline by ``working_time_between(suspended_at, resumed_at, cal)`` with
    :func:`add_working_hours`).
    """
    tz = _zone(cal, a)
    _zone(cal, b)
    if b < a:
        return -working_time_between(b, a, cal)
    da, ta = _local(a, tz)
    db, tb = _local(b, tz)
    total = _ZERO
    d = da
    while d <= db:
        if is_workday(d, cal):
            lo = ta if d == da else _ZERO
            hi = tb if d == db else _DAY
            if lo == _ZERO and hi == _DAY:
                total += cal._day_total
            else:
                for o, c in cal._spans:
                    s, e = max(o, lo), min(c, hi)
                    if e > s:
                        total += e - s
        d += _DAY
    return total


def add_calendar_time(start: datetime, delta: float | timedelta) -> datetime:
    """``start`` plus elapsed (not working) time, e.g. a 24-hour first-response limit.

    ``delta`` is hours or a timedelta; the addition is done on absolute time (so 24 hours is
    24 real hours even across a DST change) and the result keeps ``start``'s time zone.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"add_calendar_time needs a timezone-aware datetime, got {start!r}")
    return (start.astimezone(UTC) + _as_timedelta(delta)).astimezone(start.tzinfo)


# --------------------------------------------------------------------------- countdown flags


def deadline_state(
    now: datetime,
    due: datetime,
    *,
    warn_before: float | timedelta | None = None,
    warn_fraction: float | None = None,
    start: datetime | None = None,
    cal: WorkCalendar | None = None,
) -> DeadlineState:
    """Countdown flag for a deadline: ``"ok"``, ``"nearly_overdue"`` or ``"overdue"``.

    * ``"overdue"`` when ``now > due`` (finishing exactly at ``due`` is on time).
    * ``"nearly_overdue"`` when the time left is at most ``warn_before`` (hours or timedelta),
      or when at least ``warn_fraction`` (0..1) of the allowed time ``start -> due`` has gone.
      With ``cal`` both are measured in working time, without it in elapsed time.
    * ``"ok"`` otherwise (also when no warning threshold is given).

    The result is a ``StrEnum``, so it compares equal to the plain strings.
    """
    if now > due:
        return DeadlineState.OVERDUE

    def span(x: datetime, y: datetime) -> timedelta:
        return working_time_between(x, y, cal) if cal is not None else y - x

    left = span(now, due)
    if warn_before is not None and left <= _as_timedelta(warn_before):
        return DeadlineState.NEARLY_OVERDUE
    if warn_fraction is not None:
        if start is None:
            raise ValueError("warn_fraction needs the start of the clock")
        if not 0 <= warn_fraction <= 1:
            raise ValueError("warn_fraction must be between 0 and 1")
        allowed = span(start, due)
        if allowed <= _ZERO or (allowed - left) >= allowed * warn_fraction:
            return DeadlineState.NEARLY_OVERDUE
    return DeadlineState.OK


def dates_in(items: Iterable[date | tuple[date, date]]) -> frozenset[date]:
    """Expand dates and inclusive ``(first, last)`` ranges into a set of dates (pure helper)."""
    out: set[date] = set()
    for item in items:
        if isinstance(item, tuple):
            first, last = item
            if last < first:
                raise ValueError(f"date range {first}..{last} is reversed")
            d = first
            while d <= last:
                out.add(d)
                d += _DAY
        else:
            out.add(item)
    return frozenset(out)
