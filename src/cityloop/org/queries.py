"""Reads about the city: locating points and text, finding who is responsible."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import shapely
from django.db.models import QuerySet

from cityloop.org.locator import Area, Locator
from cityloop.org.models import (
    Category,
    CityPack,
    Department,
    DeviceCaseRule,
    Jurisdiction,
    PlaceName,
    Responsibility,
)
from cityloop.org.packs import DEFAULT_TARGETS

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
    if wanted:
        found = city_by_code(wanted)
        if found is not None:
            return found
    return cities().first()


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
    """The nearest responsibility row on the category or its ancestors (the index's one rule), read
    for this category's own chain only: dispatching one request must not load the city's whole list."""
    parent_of: dict[int, int | None] = {}
    node: Category | None = category
    while node is not None and node.pk not in parent_of:
        parent_of[node.pk] = node.parent_id
        node = node.parent
    rows = Responsibility.objects.filter(category_id__in=list(parent_of)).select_related("department")
    return ResponsibilityIndex({r.category_id: r for r in rows}, parent_of).responsibility(category.pk)


# ------------------------------------------------------------------------------------------------
# The places, departments and categories other apps read. They never query org's tables themselves
# (import-linter's models-org contract): these return querysets they may narrow, order and count.


def places(city=None, *, level: str | None = None, levels=None) -> QuerySet[Jurisdiction]:
    """The city's jurisdictions (streets, districts, …), or every city's when ``city`` is None."""
    qs = Jurisdiction.objects.all()
    if city is not None:
        qs = qs.filter(city=city)
    if level is not None:
        qs = qs.filter(level=level)
    if levels is not None:
        qs = qs.filter(level__in=list(levels))
    return qs


def place(city, *, level: str | None = None, code: str | None = None, pk: int | None = None):
    """One jurisdiction of ``city`` by code or primary key, or None."""
    qs = places(city, level=level)
    if code is not None:
        qs = qs.filter(code=code)
    if pk is not None:
        qs = qs.filter(pk=pk)
    return qs.first()


def city_by_code(code: str) -> Jurisdiction | None:
    """A city by its own code or its pack's code (``beijing``, ``NYC``)."""
    qs = cities()
    return qs.filter(code=code).first() or qs.filter(pack__code=code).first()


def departments(city=None, **filters) -> QuerySet[Department]:
    qs = Department.objects.filter(**filters)
    return qs.filter(city=city) if city is not None else qs


def department(city=None, *, code: str | None = None, pk: int | None = None) -> Department | None:
    qs = departments(city)
    if code is not None:
        qs = qs.filter(code=code)
    if pk is not None:
        qs = qs.filter(pk=pk)
    return qs.first()


def unit(city, kind: str, *, code: str | None = None, pk: int | None = None):
    """A unit that receives orders: a street (``kind="street"``) or a department of ``city``, or None."""
    if kind == "street":
        return place(city, level="street", code=code, pk=pk)
    if kind == "department":
        return department(city, code=code, pk=pk)
    return None


def categories(city=None, **filters) -> QuerySet[Category]:
    qs = Category.objects.filter(**filters)
    return qs.filter(city=city) if city is not None else qs


def category(city, code: str) -> Category | None:
    return categories(city, code=code).first()


def category_parents(city=None) -> dict[int, int | None]:
    """Every category's parent (None for a top-level one), to roll counts up the tree."""
    return dict(categories(city).values_list("id", "parent_id"))


def responsibilities(**filters) -> QuerySet[Responsibility]:
    return Responsibility.objects.filter(**filters)


def pack_of(city) -> CityPack | None:
    return CityPack.objects.filter(city=city).first()


def targets(city) -> dict[str, float]:
    """The city's target for each of the three rates, in percent (its pack's, else the defaults)."""
    pack = pack_of(city)
    return {**DEFAULT_TARGETS, **((pack.targets if pack else None) or {})}


def place_names(city) -> QuerySet[PlaceName]:
    return PlaceName.objects.filter(city=city)


def device_case_rules(city_id: int) -> QuerySet[DeviceCaseRule]:
    return DeviceCaseRule.objects.filter(city_id=city_id)


def on_city_change(receiver, uid: str) -> None:
    """Call ``receiver(**kwargs)`` whenever a city, a place or a pack is saved or deleted (caches)."""
    from django.db.models.signals import post_delete, post_save

    for model in (Jurisdiction, CityPack):
        post_save.connect(receiver, sender=model, dispatch_uid=f"{uid}-save-{model.__name__}")
        post_delete.connect(receiver, sender=model, dispatch_uid=f"{uid}-delete-{model.__name__}")
