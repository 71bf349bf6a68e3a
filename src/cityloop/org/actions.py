"""Writes to the city model."""

from __future__ import annotations

from django.db import transaction

from cityloop.core import audit
from cityloop.core.actors import Actor
from cityloop.core.queries import require_admin
from cityloop.org import packs
from cityloop.org.models import (
    Category,
    CityPack,
    Department,
    DeviceCaseRule,
    Jurisdiction,
    PlaceName,
    Responsibility,
)

_LEVEL_RANK = {level: rank for rank, level in enumerate(packs.LEVELS)}


def _require_admin(actor: Actor) -> None:
    require_admin(actor, to="import a city pack")


@transaction.atomic
def add_shapeless_city(
    *, code: str, name: str, timezone: str, country: str, language: str, notes: str, actor: Actor
) -> Jurisdiction:
    """A city without a pack (replayed 311 history of a city not imported): no shapes, weekday calendar.

    Found again by its code, so a second replay adds nothing; audited like a pack import.
    """
    _require_admin(actor)
    found = Jurisdiction.objects.filter(level="city", code=code).first()
    if found is not None:
        return found
    city = Jurisdiction.objects.create(code=code, name=name, name_en=name, level="city")
    city.city = city
    city.save(update_fields=["city"])
    CityPack.objects.create(
        city=city,
        code=code.lower(),
        country=country,
        timezone=timezone,
        calendar="weekday",
        default_language=language,
        notes=notes,
    )
    audit.record(actor, "city.add_shapeless", city, code=code, notes=notes)
    return city


def add_replayed_department(city: Jurisdiction, *, code: str, name: str, actor: Actor) -> Department:
    """An agency met in replayed history (311 records name agencies the pack may not have)."""
    _require_admin(actor)
    return Department.objects.create(city=city, code=code[:40], name=name, name_en=name, level="city")


def add_replayed_category(city: Jurisdiction, *, code: str, name: str, actor: Actor) -> Category:
    """A first-level category for a complaint type met in replayed history."""
    _require_admin(actor)
    return Category.objects.create(city=city, code=code, name=name, name_en=name, depth=1)


def set_default_responsibility(category: Category, department: Department, *, actor: Actor) -> Responsibility:
    """The department that answers for a category, unless the category already has one (直派)."""
    _require_admin(actor)
    found, _created = Responsibility.objects.get_or_create(
        category=category, defaults={"department": department, "route": "direct"}
    )
    return found


@transaction.atomic
def import_pack(pack: packs.Pack, *, actor: Actor) -> Jurisdiction:
    """Create or update a city from a checked pack, all or nothing.

    Rows are matched by code, so re-importing a corrected pack updates names and shapes in place
    and keeps every request that points at them; responsibilities and place names are replaced.
    """
    _require_admin(actor)
    city_area = pack.city
    # The city row points at itself once it exists, so find it by level and code.
    city = Jurisdiction.objects.filter(level="city", code=city_area.code).first() or Jurisdiction(
        code=city_area.code
    )
    for name, value in _area_fields(city_area, parent=None).items():
        setattr(city, name, value)
    city.save()
    if city.city_id != city.pk:
        city.city = city
        city.save(update_fields=["city"])
    by_code = {city.code: city}
    counts = {"jurisdictions": 1}
    for area in sorted(pack.areas, key=lambda a: _LEVEL_RANK[a.level]):
        if area.level == "city":
            continue
        fields = _area_fields(area, parent=by_code[area.parent])
        # a street the corrected pack no longer gives a population loses it: no stale figure stays
        fields["population"] = pack.population.get(area.code)
        obj, _ = Jurisdiction.objects.update_or_create(city=city, code=area.code, defaults=fields)
        by_code[area.code] = obj
        counts["jurisdictions"] += 1
    before = CityPack.objects.filter(city=city).values_list("sections", flat=True).first() or {}
    sections = {name: pack.meta[name] for name in sorted(packs.SECTIONS) if pack.meta.get(name)}
    CityPack.objects.update_or_create(
        city=city,
        defaults={
            "sections": sections,
            "code": pack.code,
            "country": pack.meta.get("country", ""),
            "timezone": pack.meta["timezone"],
            "calendar": pack.meta["calendar"],
            "default_language": pack.meta["default_language"],
            "synthetic_shapes": bool(pack.meta.get("synthetic_shapes")),
            "notes": pack.meta.get("notes", ""),
            "sources": list(pack.meta.get("sources") or []),
            "population_note": str(pack.meta.get("population_note") or ""),
            "population_illustrative": bool(pack.meta.get("population_illustrative")),
            "targets": dict(pack.meta.get("targets") or {}),
        },
    )
    departments = {}
    for row in pack.departments:
        departments[row["code"]], _ = Department.objects.update_or_create(
            city=city,
            code=row["code"],
            defaults={
                "name": row["name"],
                "name_en": row.get("name_en", ""),
                "level": row["level"],
                "district": by_code[row["district"]] if row["level"] == "district" else None,
            },
        )
    categories: dict[str, Category] = {}
    for row in sorted(pack.categories, key=lambda r: int(r["depth"])):
        categories[row["code"]], _ = Category.objects.update_or_create(
            city=city,
            code=row["code"],
            defaults={
                "name": row["name"],
                "name_en": row.get("name_en", ""),
                "depth": int(row["depth"]),
                "parent": categories[row["parent"]] if row.get("parent") else None,
            },
        )
    Responsibility.objects.filter(category__city=city).delete()
    Responsibility.objects.bulk_create(
        [
            Responsibility(
                category=categories[r["category"]], department=departments[r["department"]], route=r["route"]
            )
            for r in pack.responsibilities
        ]
    )
    DeviceCaseRule.objects.filter(city=city).delete()
    DeviceCaseRule.objects.bulk_create(
        [
            DeviceCaseRule(
                city=city,
                kind=r["kind"],
                alarm=r["alarm"],
                category=categories[r["category"]],
                department=departments[r["department"]] if r.get("department") else None,
            )
            for r in pack.device_cases
        ]
    )
    PlaceName.objects.filter(city=city).delete()
    PlaceName.objects.bulk_create(
        [
            PlaceName(city=city, name=row["name"], jurisdiction=by_code[row["jurisdiction"]])
            for row in pack.gazetteer
        ]
    )
    counts.update(
        departments=len(departments),
        categories=len(categories),
        responsibilities=len(pack.responsibilities),
        place_names=len(pack.gazetteer),
        device_case_rules=len(pack.device_cases),
        populations=len(pack.population),
    )
    audit.record(actor, "city.import", city, after=counts, pack=pack.code)
    for name in sorted(set(before) | set(sections)):
        if before.get(name) != sections.get(name):  # e.g. a detector re-tuned for a device kind
            audit.record(
                actor,
                f"city.pack.{name}",
                city,
                before=before.get(name),
                after=sections.get(name),
                pack=pack.code,
            )
    from cityloop.org import queries

    transaction.on_commit(queries.forget_cached_cities)
    return city


def _area_fields(area: packs.Area, *, parent: Jurisdiction | None) -> dict:
    import shapely

    min_lon, min_lat, max_lon, max_lat = area.geometry.bounds
    return {
        "name": area.name,
        "name_en": area.name_en,
        "level": area.level,
        "parent": parent,
        "geometry": shapely.to_geojson(area.geometry),
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
    }
