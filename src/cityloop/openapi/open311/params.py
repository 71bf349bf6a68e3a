"""Reading query and form parameters: W3 datetimes, the jurisdiction, date windows, paging.

"Optional" follows the spec: a parameter sent empty counts as not sent.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from cityloop.openapi.open311 import config
from cityloop.openapi.open311.render import Open311Error
from cityloop.org import queries as org_queries

DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Dates a hotline can have; beyond them arithmetic on the window (± 90 days, time zones) overflows.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
# A page beyond this is an attack or a bug, and its offset would overflow the database's integer.
MAX_PAGE = 1_000_000


def value(params, name: str) -> str:
    """The stripped value, '' when absent or empty."""
    return (params.get(name) or "").strip()


def city_tz(city) -> ZoneInfo:
    pack = getattr(city, "pack", None)
    return ZoneInfo(pack.timezone if pack is not None else settings.TIME_ZONE)


def parse_w3(text: str, field: str, tz: ZoneInfo) -> datetime:
    """A W3C-note datetime with Z or an offset; a bare date means its midnight in the city's time zone."""
    if DATE_ONLY.match(text):
        try:
            parsed = datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)
        except ValueError:
            raise Open311Error(400, (field, f"{text!r} is not a valid date")) from None
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise Open311Error(
                400, (field, f"{text!r} is not a W3C datetime such as 2010-01-01T00:00:00Z")
            ) from None
        if parsed.tzinfo is None:
            raise Open311Error(400, (field, f"{text!r} needs a time zone: Z or an offset such as +08:00"))
    try:
        in_range = EARLIEST <= parsed <= LATEST
    except OverflowError:  # e.g. year 1 with a positive offset
        in_range = False
    if not in_range:
        raise Open311Error(400, (field, f"{text!r} is outside 1970-01-01 to 9000-01-01"))
    return parsed


def jurisdiction(params):
    """The city the request is about.

    With one city hosted the parameter is optional; with several it is required (400). When given it
    must name a hosted city by its code, pack code or a configured alias (404 otherwise): a client
    asking for ``nyc`` must not silently get Beijing's catalogue.
    """
    hosted = list(org_queries.cities())
    wanted = value(params, "jurisdiction_id")
    if not hosted:
        raise Open311Error(404, ("jurisdiction_id", "this server hosts no city yet"))
    if len(hosted) == 1 and not wanted:
        return hosted[0]
    if not wanted:
        raise Open311Error(
            400,
            (
                "jurisdiction_id",
                "required: this server hosts several cities (" + ", ".join(c.code for c in hosted) + ")",
            ),
        )
    wanted = config.get("jurisdiction_aliases").get(wanted, wanted)
    for city in hosted:
        pack = getattr(city, "pack", None)
        if wanted.lower() in {city.code.lower(), (pack.code.lower() if pack is not None else "")}:
            return city
    raise Open311Error(
        404,
        (
            "jurisdiction_id",
            f"{wanted!r} is not a jurisdiction of this server (known: "
            + ", ".join(c.code for c in hosted)
            + ")",
        ),
    )


def window(
    params,
    tz: ZoneInfo,
    *,
    start_name: str = "start_date",
    end_name: str = "end_date",
    default_to_recent: bool = True,
) -> tuple[datetime | None, datetime | None]:
    """(start, end) spanning at most the configured days; neither given → the most recent ones."""
    days = config.get("max_range_days")
    span = timedelta(days=days)
    start_text, end_text = value(params, start_name), value(params, end_name)
    start = parse_w3(start_text, start_name, tz) if start_text else None
    end = parse_w3(end_text, end_name, tz) if end_text else None
    if start is not None and end is not None:
        if end < start:
            raise Open311Error(400, (end_name, f"must not be before {start_name}"))
        if end - start > span:
            raise Open311Error(
                400, (end_name, f"the range from {start_name} to {end_name} spans more than {days} days")
            )
        return start, end
    if start is not None:
        return start, min(start + span, LATEST)
    if end is not None:
        return max(end - span, EARLIEST), end
    if not default_to_recent:
        return None, None
    now = timezone.now()
    return now - span, now


def paging(params) -> tuple[int, int]:
    """(page, page_size): the page_size extension is capped at the spec's 1,000 results."""
    limit = config.get("max_page_size")
    out = []
    for name, default in (("page", 1), ("page_size", limit)):
        text = value(params, name)
        if not text:
            out.append(default)
            continue
        # isdigit() is true for '²' and other digits int() refuses: only ASCII 0-9, and at most 7 of them.
        if not (text.isascii() and text.isdigit()) or len(text) > 7 or not 1 <= int(text) <= MAX_PAGE:
            raise Open311Error(400, (name, f"must be a whole number from 1 to {MAX_PAGE}, not {text!r}"))
        out.append(int(text))
    if out[1] > limit:
        raise Open311Error(400, ("page_size", f"at most {limit}"))
    return out[0], out[1]


def flag(params, name: str) -> bool:
    text = value(params, name).lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise Open311Error(400, (name, f"true or false, not {text!r}"))


def comma_list(params, name: str) -> list[str]:
    """A comma list; the parameter may also be repeated (``status=open&status=closed``)."""
    raw = params.getlist(name) if hasattr(params, "getlist") else [params.get(name) or ""]
    found = [part.strip() for text in raw for part in (text or "").split(",") if part.strip()]
    limit = config.get("max_page_size")
    if len(found) > limit:  # one SQL parameter each: PostgreSQL takes at most 65,535
        raise Open311Error(400, (name, f"at most {limit} values (got {len(found)})"))
    return found
