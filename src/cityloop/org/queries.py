"""Reads about the city: locating points and text, finding who is responsible."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import shapely

from cityloop.org.locator import Area, Locator
from cityloop.org.models import Category, Department, Jurisdiction, PlaceName, Responsibility

_cache: dict[int, Locator] = {}
_places: dict[int, dict[str, Jurisdiction]] = {}
_lock = threading.Lock()
_building = threading.Lock()


def forget_cached_cities() -> None:
    with _lock:
        _cache.clear()
        _places.clear()


def cities():
    return Jurisdiction.objects.filter(level="city").select_related("pack").order_by("code")


def default_city() -> Jurisdiction | None:
    """The deployment's city: ``CITYLOOP_CITY`` (a pack or city code), else the only/first one."""
    from django.conf import settings

    wanted = settings.CITYLOOP_CITY
    qs = cities()
    if wanted:
        found = qs.filter(code=wanted).first() or qs.filter(pack__code=wanted).first()
        if found is not None:
            return found
    return qs.first()


def locator_for(city: Jurisdiction) -> Locator:
    """The city's locator, built once per process from the stored shapes."""
    with _lock:
        found = _cache.get(city.pk)
    if found is not None:
        return found
    with _building:  # one thread builds (seconds for a big city) while the others wait for it
        with _lock:
            found = _cache.get(city.pk)
        if found is not None:
            return found
        return _build_locator(city)


def _build_locator(city: Jurisdiction) -> Locator:
    rows = (
        Jurisdiction.objects.filter(city=city)
        .exclude(geometry="")
        .values_list("code", "level", "parent__code", "geometry")
    )
    areas = [
        Area(code=code, level=level, parent=parent, geometry=shapely.from_geojson(geometry))
        for code, level, parent, geometry in rows
    ]
    built = Locator(areas)
    with _lock:
        _cache[city.pk] = built
    return built


@dataclass(frozen=True)
class Placement:
    district: Jurisdiction | None
    street: Jurisdiction | None
    community: Jurisdiction | None


def _jurisdictions(city: Jurisdiction) -> dict[str, Jurisdiction]:
    """The city's districts, streets and communities by code, loaded once per process (read-only use)."""
    with _lock:
        found = _places.get(city.pk)
    if found is None:
        found = {
            j.code: j
            for j in Jurisdiction.objects.filter(
                city=city, level__in=["district", "street", "community"]
            ).defer("geometry")
        }
        with _lock:
            _places[city.pk] = found
    return found


def _placement(city: Jurisdiction, codes: list[str | None]) -> Placement:
    found = _jurisdictions(city)
    district, street, community = (found.get(c) if c else None for c in codes)
    return Placement(district, street, community)


def locate(city: Jurisdiction, lon: float, lat: float) -> Placement | None:
    """District, street and community at lon/lat; None when the point is outside the city."""
    where = locator_for(city).locate(lon, lat)
    if where is None:
        return None
    return _placement(city, [where.district, where.street, where.community])


def locate_text(city: Jurisdiction, text: str) -> Placement | None:
    """Match address text against street/community names and the gazetteer (longest name wins)."""
    text = (text or "").strip()
    if not text:
        return None
    best: Jurisdiction | None = None
    candidates = list(
        Jurisdiction.objects.filter(city=city, level__in=["district", "street", "community"]).only(
            "id", "code", "name", "name_en", "level", "parent_id"
        )
    )
    names = [(j.name, j) for j in candidates] + [(j.name_en, j) for j in candidates if j.name_en]
    names += [
        (p.name, p.jurisdiction) for p in PlaceName.objects.filter(city=city).select_related("jurisdiction")
    ]
    lowered = text.lower()
    best_len = 0
    rank = {"district": 1, "street": 2, "community": 3}
    for name, jurisdiction in names:
        if len(name) < 2 or name.lower() not in lowered:
            continue
        key = (len(name), rank[jurisdiction.level])
        if best is None or key > (best_len, rank[best.level]):
            best, best_len = jurisdiction, len(name)
    if best is None:
        return None
    chain: dict[str, Jurisdiction] = {}
    node: Jurisdiction | None = best
    while node is not None and node.level != "city":
        chain[node.level] = node
        node = node.parent
    return Placement(chain.get("district"), chain.get("street"), chain.get("community"))


@dataclass
class ResponsibilityIndex:
    """The responsibility list of some cities in memory: answers ``responsibility_for`` without queries."""

    by_category: dict[int, Responsibility]
    parent_of: dict[int, int | None]

    def responsibility(self, category_id: int | None) -> Responsibility | None:
        seen = 0
        while category_id is not None and seen < 64:  # a category tree is a few levels deep
            found = self.by_category.get(category_id)
            if found is not None:
                return found
            category_id = self.parent_of.get(category_id)
            seen += 1
        return None


def responsibility_index(city_ids) -> ResponsibilityIndex:
    """Two queries for every page that routes many requests at once (the dispatch queue)."""
    ids = list(city_ids)
    parent_of: dict[int, int | None] = dict(
        Category.objects.filter(city_id__in=ids).values_list("pk", "parent_id")
    )
    rows = Responsibility.objects.filter(category__city_id__in=ids).select_related("department")
    return ResponsibilityIndex({r.category_id: r for r in rows}, parent_of)


def units_by_pk(street_ids, department_ids) -> tuple[dict[int, Jurisdiction], dict[int, Department]]:
    """Streets and departments by primary key, one query each (a request's suggested units)."""
    streets = {j.pk: j for j in Jurisdiction.objects.filter(pk__in=list(street_ids), level="street")}
    departments = {d.pk: d for d in Department.objects.filter(pk__in=list(department_ids))}
    return streets, departments


def responsibility_for(category: Category) -> Responsibility | None:
    """The nearest responsibility row on the category or its ancestors."""
    node: Category | None = category
    while node is not None:
        found = Responsibility.objects.filter(category=node).select_related("department").first()
        if found is not None:
            return found
        node = node.parent
    return None
