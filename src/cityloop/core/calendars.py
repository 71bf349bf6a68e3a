"""Building a city's :class:`~cityloop.core.rules.WorkCalendar` (the I/O side).

Usage::

    from cityloop.core import calendars, rules

    cal = calendars.for_city("cn")                 # China, Asia/Shanghai, default office hours
    due = rules.add_working_days(received_at, 5, cal)

    cal = calendars.for_city("weekday", tz="Europe/Berlin",
                             office_hours=[("08:00", "12:00"), ("13:00", "16:30")])

For ``kind="cn"`` the calendar holds the statutory holidays and adjusted workdays that the
``chinese_calendar`` package knows (2004-2026 in version 1.11), plus every year for which a
*usable* holiday file ``cn-<year>.yaml`` exists (see ``holidays/README.md``). Holiday files are
looked up, in this order, in

1. the ``holiday_dir`` argument (a path, or a list of paths),
2. the Django setting ``CITYLOOP_HOLIDAY_DIR`` (only if Django settings are configured),
3. the environment variable ``CITYLOOP_HOLIDAY_DIR`` (``os.pathsep``-separated paths),
4. the folder shipped with CityLoop (``cityloop/core/holidays``);

for each year the first usable file wins, and a usable file also overrides the package's data
for its year (so a city can correct an error without waiting for a package release).

A year with neither package data nor a usable file counts plain weekdays (Mon-Fri); the first
time a calculation touches such a year, one warning is logged per year per process. This
module never raises because of a missing or broken holiday file: a broken file is logged as an
error and skipped.

Built calendars are cached (:func:`functools.lru_cache`); call :func:`clear_caches` after
editing holiday files in a running process (tests do this too).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from cityloop.core.rules import DEFAULT_OFFICE_HOURS, WorkCalendar, dates_in

__all__ = [
    "SHIPPED_HOLIDAY_DIR",
    "DEFAULT_TIME_ZONES",
    "HolidayFile",
    "HolidayFileError",
    "for_city",
    "load_holiday_file",
    "holiday_dirs",
    "package_years",
    "clear_caches",
]

log = logging.getLogger(__name__)

SHIPPED_HOLIDAY_DIR = Path(__file__).resolve().with_name("holidays")
DEFAULT_TIME_ZONES: dict[str, str | None] = {"cn": "Asia/Shanghai", "weekday": None}
USABLE_STATUSES = frozenset({"published"})

PathLike = str | os.PathLike[str]


class HolidayFileError(ValueError):
    """A holiday file that cannot be read or does not make sense."""


@dataclass(frozen=True)
class HolidayFile:
    path: Path
    year: int
    status: str
    note: str
    holidays: frozenset[date]
    workdays: frozenset[date]

    @property
    def usable(self) -> bool:
        """Published and not empty. An unpublished or empty file counts as no file at all."""
        return self.status in USABLE_STATUSES and bool(self.holidays or self.workdays)


# --------------------------------------------------------------------------- holiday files


def _parse_day(value: object, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise HolidayFileError(f"{where}: {value!r} is not a date (write YYYY-MM-DD)")


def _parse_items(items: object, where: str) -> frozenset[date]:
    """A list of dates, ``"YYYY-MM-DD..YYYY-MM-DD"`` ranges or ``{from, to, name}`` mappings."""
    if items is None:
        return frozenset()
    if not isinstance(items, list):
        raise HolidayFileError(f"{where}: expected a list, got {type(items).__name__}")
    parsed: list[date | tuple[date, date]] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if isinstance(item, dict):
            if "date" in item:
                parsed.append(_parse_day(item["date"], at))
            elif "from" in item and "to" in item:
                parsed.append((_parse_day(item["from"], at), _parse_day(item["to"], at)))
            else:
                raise HolidayFileError(f"{at}: a mapping needs 'date' or 'from' and 'to'")
        elif isinstance(item, str) and ".." in item:
            first, _, last = item.partition("..")
            parsed.append((_parse_day(first, at), _parse_day(last, at)))
        else:
            parsed.append(_parse_day(item, at))
    try:
        return dates_in(parsed)
    except ValueError as exc:
        raise HolidayFileError(f"{where}: {exc}") from None


def load_holiday_file(path: PathLike) -> HolidayFile:
    """Read and check one holiday file; raise :class:`HolidayFileError` if it is broken.

    Checks: the year in the name (``<kind>-<year>.yaml``) matches ``year:`` if given; every
    date lies in that year, or in the last week of the year before (a New Year arrangement may
    move a working Saturday into late December); no date is both holiday and workday; every
    adjusted workday is a Saturday or Sunday.
    """
    p = Path(path)
    try:
        with p.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError, ValueError) as exc:  # ValueError: e.g. 2027-13-01
        raise HolidayFileError(f"{p}: cannot read: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise HolidayFileError(f"{p}: expected a mapping with holidays/workdays/status")
    try:
        name_year = int(p.stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise HolidayFileError(f"{p}: file name must be <kind>-<year>.yaml") from None
    year = data.get("year", name_year)
    if year != name_year:
        raise HolidayFileError(f"{p}: year: {year!r} does not match the file name")
    status = str(data.get("status") or "unpublished").strip().lower()
    note = str(data.get("note") or "").strip()
    holidays = _parse_items(data.get("holidays"), f"{p.name}: holidays")
    workdays = _parse_items(data.get("workdays"), f"{p.name}: workdays")
    earliest = date(year - 1, 12, 24) if year > 1 else date(1, 1, 1)
    for d in sorted(holidays | workdays):
        if not (earliest <= d <= date(year, 12, 31)):
            raise HolidayFileError(f"{p.name}: {d} is outside {year}")
    both = holidays & workdays
    if both:
        raise HolidayFileError(f"{p.name}: listed as both holiday and workday: {sorted(both)}")
    weekday_workdays = sorted(d for d in workdays if d.weekday() < 5)
    if weekday_workdays:
        raise HolidayFileError(
            f"{p.name}: workdays lists only Saturdays/Sundays that become working days; "
            f"{weekday_workdays[0]} is a weekday"
        )
    return HolidayFile(p, year, status, note, holidays, workdays)


def _setting_dirs() -> list[str]:
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is a dependency, but rules may run without it
        return []
    try:
        if not settings.configured:
            return []
        value = getattr(settings, "CITYLOOP_HOLIDAY_DIR", None)
    except Exception:  # noqa: BLE001 - a broken settings module must not break deadlines
        return []
    if not value:
        return []
    if isinstance(value, str):
        return [d for d in value.split(os.pathsep) if d]
    if isinstance(value, os.PathLike):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def holiday_dirs(holiday_dir: PathLike | Sequence[PathLike] | None = None) -> tuple[str, ...]:
    """The folders searched for holiday files, in order (see the module docstring)."""
    dirs: list[str] = []
    if holiday_dir is not None:
        if isinstance(holiday_dir, str | os.PathLike):
            dirs.append(os.fspath(holiday_dir))
        else:
            dirs.extend(os.fspath(d) for d in holiday_dir)
    dirs.extend(_setting_dirs())
    env = os.environ.get("CITYLOOP_HOLIDAY_DIR", "")
    dirs.extend(d for d in env.split(os.pathsep) if d)
    dirs.append(os.fspath(SHIPPED_HOLIDAY_DIR))
    return _resolve_dirs(tuple(dirs))


@functools.lru_cache(maxsize=64)
def _resolve_dirs(dirs: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for d in dirs:
        seen.setdefault(str(Path(d).expanduser().resolve()), None)
    return tuple(seen)


def _usable_files(kind: str, dirs: Iterable[str]) -> dict[int, HolidayFile]:
    found: dict[int, HolidayFile] = {}
    for folder in dirs:
        base = Path(folder)
        if not base.is_dir():
            log.warning("holiday folder %s does not exist; ignoring it", base)
            continue
        for path in sorted([*base.glob(f"{kind}-*.yaml"), *base.glob(f"{kind}-*.yml")]):
            try:
                hf = load_holiday_file(path)
            except HolidayFileError as exc:
                log.error("ignoring broken holiday file: %s", exc)
                continue
            if hf.usable and hf.year not in found:
                found[hf.year] = hf
            elif not hf.usable:
                log.debug("holiday file %s is %s/empty; it counts as no file", path, hf.status)
    return found


# --------------------------------------------------------------------------- chinese_calendar


@functools.lru_cache(maxsize=1)
def _package_data() -> tuple[frozenset[int], frozenset[date], frozenset[date]]:
    """Years, holidays and adjusted workdays from ``chinese_calendar`` (empty if unavailable)."""
    try:
        import chinese_calendar
    except ImportError:
        log.error("the chinese_calendar package (PyPI: chinesecalendar) is not installed")
        return frozenset(), frozenset(), frozenset()
    holidays = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    if not holidays:
        return frozenset(), frozenset(), frozenset()
    years = frozenset(range(min(holidays).year, max(holidays).year + 1))
    return years, holidays, workdays


def package_years() -> frozenset[int]:
    """Years the installed ``chinese_calendar`` covers (2004-2026 for version 1.11)."""
    return _package_data()[0]


# --------------------------------------------------------------------------- unknown years

_warned: set[tuple[str, int]] = set()
_warned_lock = threading.Lock()


def _warn_unknown_year(kind: str, dirs: tuple[str, ...], year: int) -> None:
    key = (kind, year)
    if key in _warned:  # the hot path: one set lookup
        return
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    years = package_years()
    covered = f"{min(years)}-{max(years)}" if years else "no years"
    log.warning(
        "no %(kind)s holiday data for %(year)d (chinese_calendar covers %(covered)s; no published "
        "holiday file %(kind)s-%(year)d.yaml in %(dirs)s): counting plain weekdays Mon-Fri for "
        "%(year)d. Add the State Council's arrangement as %(kind)s-%(year)d.yaml "
        "(see cityloop/core/holidays/README.md).",
        {"kind": kind, "year": year, "covered": covered, "dirs": ", ".join(dirs)},
    )


# --------------------------------------------------------------------------- calendars


def _norm_time(value: time | str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in ("24:00", "24:00:00"):
            return time(0)
        return time.fromisoformat(text)
    raise TypeError(f"office hours need time objects or 'HH:MM' strings, got {value!r}")


def _norm_hours(office_hours: Iterable[Sequence[time | str]] | None) -> tuple[tuple[time, time], ...]:
    if office_hours is None:
        return DEFAULT_OFFICE_HOURS
    return tuple((_norm_time(o), _norm_time(c)) for o, c in office_hours)


def _norm_tz(kind: str, tz: tzinfo | str | None) -> tzinfo | None:
    if tz is None:
        name = DEFAULT_TIME_ZONES.get(kind)
        return ZoneInfo(name) if name else None
    if isinstance(tz, str):
        return ZoneInfo(tz)
    return tz


def for_city(
    kind: str = "cn",
    *,
    holiday_dir: PathLike | Sequence[PathLike] | None = None,
    office_hours: Iterable[Sequence[time | str]] | None = None,
    tz: tzinfo | str | None = None,
) -> WorkCalendar:
    """The working calendar for a city.

    ``kind``         ``"cn"`` (Chinese statutory holidays) or ``"weekday"`` (Mon-Fri only).
    ``holiday_dir``  extra folder(s) with ``<kind>-<year>.yaml`` files, searched first.
    ``office_hours`` ``[("09:00", "12:00"), ("13:30", "18:00")]`` (default) or time pairs.
    ``tz``           local zone (name or tzinfo); default ``Asia/Shanghai`` for ``"cn"`` and,
                     for ``"weekday"``, none (the datetimes' own zone is used).

    Cheap after the first call (cached). Raises ``ValueError`` only for a bad ``kind``,
    ``office_hours`` or ``tz``; never because of holiday data.
    """
    from cityloop.core.rules import CALENDAR_KINDS

    if kind not in CALENDAR_KINDS:
        raise ValueError(f"unknown calendar kind {kind!r}; expected one of {CALENDAR_KINDS}")
    return _build(kind, holiday_dirs(holiday_dir), _norm_hours(office_hours), _norm_tz(kind, tz))


@functools.lru_cache(maxsize=32)
def _build(
    kind: str, dirs: tuple[str, ...], office_hours: tuple[tuple[time, time], ...], tz: tzinfo | None
) -> WorkCalendar:
    if kind == "weekday":
        return WorkCalendar(kind="weekday", office_hours=office_hours, tz=tz)
    years, pkg_holidays, pkg_workdays = _package_data()
    files = _usable_files(kind, dirs)
    holidays, workdays = set(pkg_holidays), set(pkg_workdays)
    for year, hf in sorted(files.items()):
        if year in years:
            log.info("holiday file %s overrides chinese_calendar for %d", hf.path, year)
            # replace the package's arrangement for that year by the file's
            holidays = {d for d in holidays if d.year != year}
            workdays = {d for d in workdays if d.year != year}
        holidays -= hf.workdays
        workdays -= hf.holidays
        holidays |= hf.holidays
        workdays |= hf.workdays
    return WorkCalendar(
        kind=kind,
        office_hours=office_hours,
        holidays=frozenset(holidays),
        workdays=frozenset(workdays),
        known_years=frozenset(years) | frozenset(files),
        tz=tz,
        on_unknown_year=functools.partial(_warn_unknown_year, kind, dirs),
    )


def clear_caches() -> None:
    """Forget built calendars and which years were warned about (after editing holiday files)."""
    _build.cache_clear()
    _resolve_dirs.cache_clear()
    with _warned_lock:
        _warned.clear()
