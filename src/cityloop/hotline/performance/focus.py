"""治理类街乡: the streets put on the month's list for focused governance (docs/metrics.md).

Beijing lists, every month, the streets and townships with the most requests per resident, and
gives them focused governance. Here:

- a street's figure is its **requests received** in the month — every type of request (enquiry,
  help, complaint, report, suggestion), merged duplicates once — which is the dashboard's
  "received" and the rates' denominator, so the list, the dashboard and the rankings never count
  differently; Beijing's 万人诉求比 likewise counts all requests, not only those filed as 投诉;
- **per 10,000 residents** = received × 10,000 ÷ the street's population (the pack's
  ``population.csv``);
- the **list** = the ``HOTLINE["governance_streets_top"]`` streets (default 10) with the highest
  figure per 10,000 among those with a population and at least ``HOTLINE["rank_min_received"]``
  requests (default 5, the rankings' minimum: a street of 2,000 people with three requests is not a
  governance problem); ties go to the street with more requests, then by code;
- a street **without population** is shown as such, with its count and rates, and never ranked;
- the **change** is against the previous month: the figure per 10,000 and the three rates
  (response, resolution, satisfaction, from rates.py), and whether the street was on last month's
  list too (one listed month after month is the one to look at first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from django.conf import settings

from cityloop.hotline.performance import rates, stats
from cityloop.hotline.performance.rates import Counts
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Jurisdiction

THREE_RATES = ("response", "resolution", "satisfaction")


def per_10k(received: int, population: int | None) -> float | None:
    if not population:
        return None
    return received * 10_000 / population


@dataclass
class StreetRow:
    street: Jurisdiction
    district: Jurisdiction | None
    population: int | None
    counts: Counts
    previous: Counts
    rank: int | None = None  # the place on the list, None when not on it
    listed_before: bool = False  # on the previous month's list too

    @property
    def received(self) -> int:
        return self.counts.received

    @property
    def per_10k(self) -> float | None:
        return per_10k(self.counts.received, self.population)

    @property
    def previous_per_10k(self) -> float | None:
        return per_10k(self.previous.received, self.population)

    @property
    def per_10k_change(self) -> float | None:
        if self.per_10k is None or self.previous_per_10k is None:
            return None
        return self.per_10k - self.previous_per_10k

    @property
    def rates(self) -> dict[str, float | None]:
        return {name: rates.RATE_FUNCTIONS[name](self.counts) for name in THREE_RATES}

    @property
    def previous_rates(self) -> dict[str, float | None]:
        return {name: rates.RATE_FUNCTIONS[name](self.previous) for name in THREE_RATES}

    @property
    def rate_changes(self) -> dict[str, float | None]:
        now, before = self.rates, self.previous_rates
        changes: dict[str, float | None] = {}
        for name in THREE_RATES:
            after, earlier = now[name], before[name]
            changes[name] = None if after is None or earlier is None else after - earlier
        return changes


@dataclass
class FocusList:
    month: date
    previous: date
    listed: list[StreetRow]
    no_population: list[StreetRow]  # streets with requests this month and no population, by count
    top: int
    min_received: int
    streets: int  # streets in scope
    with_population: int
    population_note: str = ""
    population_illustrative: bool = False
    below_minimum: int = 0  # streets with a population but too few requests to be listed
    rows: list[StreetRow] = field(default_factory=list)  # every street in scope, for the full table


def _ranked(rows: list[StreetRow], top: int, min_received: int) -> list[StreetRow]:
    eligible = [r for r in rows if r.population and r.counts.received >= min_received]
    eligible.sort(key=lambda r: (-(r.per_10k or 0.0), -r.counts.received, r.street.code))
    return eligible[:top]


def focus_list(city, month: date, *, district_id: int | None = None) -> FocusList:
    """The month's list of 治理类街乡, with last month beside it (reads the monthly counts only)."""
    hotline: dict = settings.HOTLINE
    top, min_received = int(hotline["governance_streets_top"]), int(hotline["rank_min_received"])
    previous = stats.previous_month(month)
    qs = org_queries.places(city, level="street")
    if district_id:
        qs = qs.filter(parent_id=district_id)
    streets = {
        s.pk: s
        for s in qs.select_related("parent").only(
            "id", "code", "name", "name_en", "level", "population", "parent__name", "parent__name_en"
        )
    }
    now = stats.counts_by_unit("street", [month], unit_ids=list(streets))
    before = stats.counts_by_unit("street", [previous], unit_ids=list(streets))
    rows = [
        StreetRow(s, s.parent, s.population, now.get(pk, Counts()), before.get(pk, Counts()))
        for pk, s in streets.items()
    ]
    listed = _ranked(rows, top, min_received)
    for position, row in enumerate(listed, start=1):
        row.rank = position
    before_rows = [StreetRow(r.street, r.district, r.population, r.previous, Counts()) for r in rows]
    listed_before = {r.street.pk for r in _ranked(before_rows, top, min_received)}
    for row in listed:
        row.listed_before = row.street.pk in listed_before
    no_population = sorted(
        (r for r in rows if not r.population and r.counts.received),
        key=lambda r: (-r.counts.received, r.street.code),
    )
    pack = org_queries.pack_of(city)
    return FocusList(
        month=month,
        previous=previous,
        listed=listed,
        no_population=no_population,
        top=top,
        min_received=min_received,
        streets=len(rows),
        with_population=sum(1 for r in rows if r.population),
        population_note=pack.population_note if pack else "",
        population_illustrative=bool(pack and pack.population_illustrative),
        below_minimum=sum(1 for r in rows if r.population and 0 < r.counts.received < min_received),
        rows=rows,
    )
