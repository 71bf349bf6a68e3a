"""The engine on the city's own intake: hotline requests in, hot issues out (docs/hot_issues.md).

A request is a message: its title the subject, its description the body, its filing time the time.
The caller is the citizen's account, else a keyed hash of the phone they gave (the same hash a
supporter's phone gets), else the request itself: one person calling five times is one voice.
Supporters ("this is my problem too", 这也是我的问题) count as likes. Merged duplicates are left out:
the request they were merged into already speaks for them.

Pages read ``hot_issues(first, last, district_id)``, cached for a few minutes per (period, district):
the run over a month of a big city's intake takes a second, a page must not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from cityloop.hotline.hotissues import heat as heat_rules
from cityloop.hotline.hotissues.engine import Issue, IssueEngine, Message, by_day
from cityloop.hotline.hotissues.places import extract_places
from cityloop.hotline.intake.support import phone_key
from cityloop.hotline.models import Channel, Request, Status

CACHE_SECONDS = 15 * 60  # longer than the warning job's period, which refreshes the default view
TOP = 30  # the pages show this many; the rest of the run is not kept


@dataclass(frozen=True)
class HotIssue:
    """One issue of a run, as the pages and the warning job read it (picklable, for the cache)."""

    key: int  # the pk of its first request: the same issue has the same key within one period
    rank: int
    heat: float
    messages: int
    callers: int
    likes: int
    label: str  # the place or group, as most of its messages write it
    place_key: str  # the place for matching requests (小区 and brands taken off), or the label
    description: str
    first: datetime
    last: datetime
    flagged: date | None  # the day the engine's early-warning rule first flagged it in this run
    warns_now: bool  # heat.warns() at the end of the period: growing now
    request_ids: tuple[int, ...]
    category_id: int | None  # the most common category of its requests
    district_id: int | None  # the district most of its requests are in
    street_id: int | None  # the street most of its requests are in (for a whistle)


def caller_of(citizen_id: int | None, phone: str, pk: int) -> str:
    if citizen_id:
        return f"u{citizen_id}"
    if phone.strip():
        return "p" + phone_key(phone)[:24]
    return ""  # the engine makes the request its own caller


def requests_in(first: date, last: date, district_id: int | None = None):
    """What people raised between ``first`` and ``last`` (whole days, city time): merged requests and the
    city brain's sensor cases left out (a device going silent is not people calling about a place)."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    rows = (
        Request.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(status=Status.MERGED)
        .exclude(channel=Channel.BRAIN)
    )
    if district_id:
        rows = rows.filter(district_id=district_id)
    return rows


def messages_of(rows) -> list[Message]:
    """Each request as the engine's message; supporters are its likes."""
    values = rows.annotate(n_supporters=Count("supporters")).values_list(
        "pk", "citizen_id", "caller_phone", "title", "description", "created_at", "n_supporters"
    )
    zone = timezone.get_current_timezone()
    return [
        Message(
            id=str(pk),
            user=caller_of(citizen_id, phone or "", pk),
            subject=title or "",
            body=description or "",
            # the engine splits days by the wall clock: the city's days, not UTC's
            time=timezone.localtime(created, zone).replace(tzinfo=None),
            likes=supporters,
        )
        for pk, citizen_id, phone, title, description, created, supporters in values
    ]


def _most(values) -> int | None:
    counted = Counter(v for v in values if v is not None)
    return min(counted.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counted else None


def _place_key(label: str) -> str:
    places = extract_places(label)
    return places[-1].key if places else label


def summarise(issues: list[Issue], until: datetime) -> list[HotIssue]:
    """The pages' view of the engine's issues: counts, place, category and units of their requests."""
    ids = [int(m.id) for issue in issues for m in issue.messages]
    units = {
        pk: (category, district, street)
        for pk, category, district, street in Request.objects.filter(pk__in=ids).values_list(
            "pk", "category_id", "district_id", "street_id"
        )
    }
    out = []
    for rank, issue in enumerate(issues, start=1):
        pks = tuple(int(m.id) for m in issue.messages)
        rows = [units.get(pk, (None, None, None)) for pk in pks]
        out.append(
            HotIssue(
                key=min(pks),
                rank=rank,
                heat=round(issue.heat, 2),
                messages=issue.terms.messages,
                callers=issue.terms.callers,
                likes=issue.terms.likes,
                label=issue.label,
                place_key=_place_key(issue.label),
                description=issue.description,
                first=issue.messages[0].time,
                last=issue.messages[-1].time,
                flagged=issue.flagged,
                warns_now=heat_rules.warns([(m.time, m.caller) for m in issue.messages], until),
                request_ids=pks,
                category_id=_most(r[0] for r in rows),
                district_id=_most(r[1] for r in rows),
                street_id=_most(r[2] for r in rows),
            )
        )
    return out


def run(first: date, last: date, district_id: int | None = None, *, top: int | None = TOP) -> list[HotIssue]:
    """The engine over the requests of the period (no cache): the hottest ``top`` issues (None: all).

    The engine is fed day by day as ``find_issues`` does, but asked only for the issues wanted: an
    issue's description (its most central message) is the costly part of reading it.
    """
    engine = IssueEngine()
    for day in by_day(messages_of(requests_in(first, last, district_id))):
        engine.add_day(day)
    until = datetime.combine(last, time.max)
    return summarise(engine.issues(top=top), min(until, timezone.localtime().replace(tzinfo=None)))


def cache_key(first: date, last: date, district_id: int | None, *, everything: bool = False) -> str:
    return f"hotline:hotissues:{first:%Y%m%d}:{last:%Y%m%d}:{district_id or 0}{':all' if everything else ''}"


def hot_issues(
    first: date, last: date, district_id: int | None = None, *, everything: bool = False
) -> list[HotIssue]:
    """``run`` cached for ``CACHE_SECONDS`` per (period, district): the top ``TOP``, or ``everything``
    (an issue the early warning named may not be in the top). The warning job keeps the default period
    (the last ``RECENT_DAYS`` days, every district) warm."""
    key = cache_key(first, last, district_id, everything=everything)
    found = cache.get(key)
    if found is None:
        found = run(first, last, district_id, top=None if everything else TOP)
        cache.set(key, found, CACHE_SECONDS)
    return found


def find_issue(first: date, last: date, district_id: int | None, key: int) -> HotIssue | None:
    """The issue of the period with this key or holding this request: in the top list, else in all."""
    return find(hot_issues(first, last, district_id), key) or find(
        hot_issues(first, last, district_id, everything=True), key
    )


def find(issues: list[HotIssue], key: int) -> HotIssue | None:
    """The issue with this key, or the one that holds this request."""
    for issue in issues:
        if issue.key == key:
            return issue
    for issue in issues:
        if key in issue.request_ids:
            return issue
    return None


def timeline(issue: HotIssue, first: date, last: date) -> tuple[list[str], list[float | None]]:
    """Requests per day over the period (per week for a period longer than two months)."""
    rows = Request.objects.filter(pk__in=issue.request_ids).values_list("created_at", flat=True)
    days = [timezone.localtime(t).date() for t in rows]
    step = 7 if (last - first).days > 62 else 1
    buckets = max(1, (last - first).days // step + 1)
    counts = [0.0] * buckets
    for d in days:
        i = (d - first).days // step
        if 0 <= i < buckets:
            counts[i] += 1
    labels = [f"{first + timedelta(days=i * step):%m-%d}" for i in range(buckets)]
    return labels, list(counts)


RECENT_DAYS = 30  # the early warning's window, and the pages' default period


def recent_issues() -> list[HotIssue]:
    """Every issue of the last ``RECENT_DAYS`` days up to now, for the warning job: a growing issue is
    warned about before it reaches the top list. The top ones go into the pages' cache on the way."""
    today = timezone.localdate()
    first = today - timedelta(days=RECENT_DAYS - 1)
    issues = run(first, today, top=None)
    cache.set(cache_key(first, today, None), issues[:TOP], CACHE_SECONDS)
    cache.set(cache_key(first, today, None, everything=True), issues, CACHE_SECONDS)
    return issues
