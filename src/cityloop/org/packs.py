"""Reading and checking a city pack (a folder of GeoJSON plus YAML/CSV) before anything is stored.

``load_pack`` returns a :class:`Pack` or raises :class:`PackInvalid` listing every problem with the
file, the line or feature, the field and the rule, so a broken pack is fixed in one round.
"""

from __future__ import annotations

import csv
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
import yaml
from shapely.geometry import shape
from shapely.validation import explain_validity

BUILTIN_DIR = Path(__file__).resolve().parent / "packs"
LEVELS = ("city", "district", "street", "community")
PARENT_LEVEL = {"district": "city", "street": "district", "community": "street"}
ROUTES = ("direct", "street")
CALENDARS = ("cn", "weekday")
# The city's targets for the three rates, in percent, when its pack.yaml names none (``targets``): the
# leaders' one-page brief sets the results against them. Defaults, not an official standard.
DEFAULT_TARGETS = {"response": 95.0, "resolution": 90.0, "satisfaction": 90.0}
LANGUAGES = ("zh-hans", "en")

# Sections of pack.yaml that another app owns (the brain's ``detectors``): name → its check, which
# returns the cleaned value and its problems as (field within the section, message). The app
# registers it in its ready(), so org checks a pack without knowing what the section means.
SectionCheck = Callable[[Any], tuple[Any, list[tuple[str, str]]]]
SECTIONS: dict[str, SectionCheck] = {}


def register_section(name: str, check: SectionCheck) -> None:
    SECTIONS[name] = check


@dataclass(frozen=True)
class PackError:
    file: str
    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.where}: {self.field}: {self.message}"


class PackInvalid(Exception):
    def __init__(self, errors: list[PackError]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s) in the city pack")


@dataclass
class Area:
    code: str
    name: str
    name_en: str
    level: str
    parent: str | None
    geometry: Any  # shapely geometry


@dataclass
class Pack:
    path: Path
    meta: dict[str, Any]
    areas: list[Area]
    departments: list[dict[str, str]]
    categories: list[dict[str, str]]
    responsibilities: list[dict[str, str]]
    gazetteer: list[dict[str, str]] = field(default_factory=list)
    device_cases: list[dict[str, str]] = field(default_factory=list)
    # residents per street (街乡) code, from the optional population.csv (the 治理类街乡 list divides by it)
    population: dict[str, int] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.meta["code"]

    @property
    def city(self) -> Area:
        return next(a for a in self.areas if a.level == "city")


def resolve(path_or_name: str | Path) -> Path:
    """A pack folder: a path, or the name of a pack that ships inside CityLoop (``nyc``, ``beijing``)."""
    candidate = Path(path_or_name)
    if candidate.is_dir():
        return candidate
    builtin = BUILTIN_DIR / str(path_or_name)
    if builtin.is_dir():
        return builtin
    known = ", ".join(sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / "pack.yaml").exists()))
    raise FileNotFoundError(f"no city pack at {str(path_or_name)!r} (built-in packs: {known})")


def _read_table(
    folder: Path, stem: str, errors: list[PackError], *, required: bool = True
) -> list[dict[str, str]]:
    """Rows of ``stem.csv`` or ``stem.yaml``/``.yml`` as dicts of strings, each with its ``_where``."""
    for suffix in (".csv", ".yaml", ".yml"):
        path = folder / f"{stem}{suffix}"
        if not path.exists():
            continue
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return [
                    {
                        **{k: (v or "").strip() for k, v in row.items() if k},
                        "_where": f"line {n}",
                        "_file": path.name,
                    }
                    for n, row in enumerate(csv.DictReader(handle), start=2)
                ]
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            errors.append(PackError(path.name, "-", "-", f"not valid YAML: {exc}"))
            return []
        if not isinstance(data, list):
            errors.append(PackError(path.name, "-", "-", "must be a list of mappings"))
            return []
        return [
            {
                **{str(k): "" if v is None else str(v).strip() for k, v in item.items()},
                "_where": f"item {n}",
                "_file": path.name,
            }
            for n, item in enumerate(data, start=1)
            if isinstance(item, dict)
        ]
    if required:
        errors.append(
            PackError(f"{stem}.csv", "-", "-", f"missing: the pack needs {stem}.csv or {stem}.yaml")
        )
    return []


def _check_meta(folder: Path, errors: list[PackError]) -> dict[str, Any]:
    path = folder / "pack.yaml"
    if not path.exists():
        errors.append(PackError("pack.yaml", "-", "-", "missing: every pack starts with pack.yaml"))
        return {}
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        errors.append(PackError("pack.yaml", "-", "-", f"not valid YAML: {exc}"))
        return {}
    for key in ("code", "name", "timezone", "calendar"):
        if not str(meta.get(key) or "").strip():
            errors.append(PackError("pack.yaml", "-", key, "is required"))
    if meta.get("calendar") and meta["calendar"] not in CALENDARS:
        errors.append(PackError("pack.yaml", "-", "calendar", f"must be one of {', '.join(CALENDARS)}"))
    if meta.get("timezone"):
        try:
            zoneinfo.ZoneInfo(str(meta["timezone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append(
                PackError("pack.yaml", "-", "timezone", f"{meta['timezone']!r} is not an IANA time zone")
            )
    meta.setdefault("default_language", "zh-hans" if meta.get("country") == "CN" else "en")
    if meta["default_language"] not in LANGUAGES:
        errors.append(
            PackError("pack.yaml", "-", "default_language", f"must be one of {', '.join(LANGUAGES)}")
        )
    meta.setdefault("country", "")
    meta.setdefault("name_en", meta.get("name", ""))
    meta.setdefault("synthetic_shapes", False)
    meta.setdefault("notes", "")
    meta.setdefault("sources", [])
    meta.setdefault("population_illustrative", False)
    meta.setdefault("population_note", "")
    if not isinstance(meta["population_illustrative"], bool):
        errors.append(PackError("pack.yaml", "-", "population_illustrative", "must be true or false"))
    meta["targets"] = _check_targets(meta.get("targets"), errors)
    for name, check in sorted(SECTIONS.items()):
        meta[name], problems = check(meta.get(name))
        errors += [
            PackError("pack.yaml", "-", f"{name}.{where}" if where else name, m) for where, m in problems
        ]
    return meta


def _check_targets(given: Any, errors: list[PackError]) -> dict[str, float]:
    """``targets``: the city's target for each rate in percent (``response: 95``); missing ones default."""
    targets = dict(DEFAULT_TARGETS)
    if given is None:
        return targets
    if not isinstance(given, dict):
        errors.append(
            PackError("pack.yaml", "-", "targets", "must be a mapping of rate → percent, e.g. response: 95")
        )
        return targets
    for key, value in given.items():
        name = f"targets.{key}"
        if key not in DEFAULT_TARGETS:
            errors.append(
                PackError(
                    "pack.yaml", "-", name, f"is not a rate with a target ({', '.join(DEFAULT_TARGETS)})"
                )
            )
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
            errors.append(
                PackError("pack.yaml", "-", name, f"must be a percent above 0 and at most 100, not {value!r}")
            )
            continue
        targets[key] = float(value)
    return targets


def _check_areas(folder: Path, errors: list[PackError]) -> list[Area]:
    path = folder / "jurisdictions.geojson"
    if not path.exists():
        errors.append(PackError("jurisdictions.geojson", "-", "-", "missing"))
        return []
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        errors.append(PackError(path.name, f"line {exc.lineno}", "-", f"not valid JSON: {exc.msg}"))
        return []
    areas: list[Area] = []
    seen: dict[str, int] = {}
    for n, feature in enumerate(collection.get("features") or [], start=1):
        props = feature.get("properties") or {}
        code = str(props.get("code") or "").strip()
        where = f"feature {n}" + (f" ({code})" if code else "")
        if not code:
            errors.append(PackError(path.name, where, "code", "is required"))
            continue
        if code in seen:
            errors.append(
                PackError(path.name, where, "code", f"duplicate code {code!r} (also feature {seen[code]})")
            )
            continue
        seen[code] = n
        level = props.get("level")
        if level not in LEVELS:
            errors.append(
                PackError(path.name, where, "level", f"must be one of {', '.join(LEVELS)}, not {level!r}")
            )
            continue
        if not str(props.get("name") or "").strip():
            errors.append(PackError(path.name, where, "name", "is required"))
        try:
            geometry = shape(feature.get("geometry") or {})
        except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException) as exc:
            errors.append(PackError(path.name, where, "geometry", f"cannot be read: {exc}"))
            continue
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
            errors.append(
                PackError(
                    path.name,
                    where,
                    "geometry",
                    f"must be a non-empty (Multi)Polygon, not {geometry.geom_type}",
                )
            )
            continue
        if not geometry.is_valid:
            errors.append(
                PackError(path.name, where, "geometry", f"invalid polygon: {explain_validity(geometry)}")
            )
            continue
        parent = props.get("parent")
        areas.append(
            Area(
                code=code,
                name=str(props.get("name") or "").strip(),
                name_en=str(props.get("name_en") or "").strip(),
                level=level,
                parent=str(parent).strip() if parent not in (None, "") else None,
                geometry=geometry,
            )
        )
    by_code = {a.code: a for a in areas}
    cities = [a for a in areas if a.level == "city"]
    if len(cities) != 1:
        errors.append(
            PackError(path.name, "-", "level", f"a pack holds exactly one city feature, found {len(cities)}")
        )
    for area in areas:
        where = f"feature {seen[area.code]} ({area.code})"
        if area.level == "city":
            if area.parent:
                errors.append(PackError(path.name, where, "parent", "the city has no parent"))
            continue
        if area.parent is None:
            errors.append(
                PackError(
                    path.name, where, "parent", f"a {area.level} needs a parent {PARENT_LEVEL[area.level]}"
                )
            )
        elif area.parent not in by_code:
            errors.append(PackError(path.name, where, "parent", f"unknown parent {area.parent!r}"))
        elif by_code[area.parent].level != PARENT_LEVEL[area.level]:
            errors.append(
                PackError(
                    path.name,
                    where,
                    "parent",
                    f"a {area.level}'s parent must be a {PARENT_LEVEL[area.level]}, "
                    f"but {area.parent!r} is a {by_code[area.parent].level}",
                )
            )
    return areas


def _check_departments(rows, district_codes: set[str], errors) -> list[dict[str, str]]:
    seen: set[str] = set()
    for row in rows:
        code, where = row.get("code", ""), row["_where"]
        if not code:
            errors.append(PackError(row["_file"], where, "code", "is required"))
            continue
        if code in seen:
            errors.append(PackError(row["_file"], where, "code", f"duplicate code {code!r}"))
        seen.add(code)
        if not row.get("name"):
            errors.append(PackError(row["_file"], where, "name", "is required"))
        level = row.get("level") or "city"
        row["level"] = level
        if level not in ("city", "district"):
            errors.append(PackError(row["_file"], where, "level", f"must be city or district, not {level!r}"))
        elif level == "district" and row.get("district") not in district_codes:
            errors.append(
                PackError(
                    row["_file"],
                    where,
                    "district",
                    f"a district department needs a known district code, not {row.get('district')!r}",
                )
            )
    return rows


def _check_categories(rows, errors) -> list[dict[str, str]]:
    by_code: dict[str, dict[str, str]] = {}
    for row in rows:
        code, where = row.get("code", ""), row["_where"]
        if not code:
            errors.append(PackError(row["_file"], where, "code", "is required"))
            continue
        if code in by_code:
            errors.append(PackError(row["_file"], where, "code", f"duplicate code {code!r}"))
            continue
        if not row.get("name"):
            errors.append(PackError(row["_file"], where, "name", "is required"))
        by_code[code] = row
    for code, row in by_code.items():
        depth, parent, chain = 1, row.get("parent") or "", {code}
        while parent:
            if parent not in by_code:
                errors.append(PackError(row["_file"], row["_where"], "parent", f"unknown parent {parent!r}"))
                break
            if parent in chain:
                errors.append(PackError(row["_file"], row["_where"], "parent", "the parents form a cycle"))
                break
            chain.add(parent)
            depth += 1
            parent = by_code[parent].get("parent") or ""
        if depth > 3:
            errors.append(
                PackError(row["_file"], row["_where"], "parent", "the category tree has at most 3 levels")
            )
        row["depth"] = str(depth)
    return list(by_code.values())


def _check_responsibilities(rows, categories, department_codes, errors) -> list[dict[str, str]]:
    category_codes = {c["code"] for c in categories}
    covered: set[str] = set()
    for row in rows:
        where = row["_where"]
        if row.get("category") not in category_codes:
            errors.append(
                PackError(row["_file"], where, "category", f"unknown category {row.get('category')!r}")
            )
            continue
        if row["category"] in covered:
            errors.append(
                PackError(row["_file"], where, "category", f"duplicate row for {row['category']!r}")
            )
        if row.get("department") not in department_codes:
            errors.append(
                PackError(row["_file"], where, "department", f"unknown department {row.get('department')!r}")
            )
            continue
        row["route"] = row.get("route") or "direct"
        if row["route"] not in ROUTES:
            errors.append(PackError(row["_file"], where, "route", f"must be one of {', '.join(ROUTES)}"))
            continue
        covered.add(row["category"])
    parents = {c["code"]: c.get("parent") or "" for c in categories}
    has_children = {p for p in parents.values() if p}
    for category in categories:
        if category["code"] in has_children:
            continue
        node = category["code"]
        while node and node not in covered:
            node = parents.get(node, "")
        if not node:
            errors.append(
                PackError(
                    category["_file"],
                    category["_where"],
                    "responsibility",
                    f"category {category['code']!r} ({category.get('name')}) has no responsible "
                    "department (none on it or its parents)",
                )
            )
    return rows


# What the city brain's devices measure and the alarms its detectors raise (brain/models.py's choices;
# tests/brain check the two lists stay equal). ``*`` matches any.
DEVICE_KINDS = ("water", "power", "gas", "noise", "air", "manhole", "water_level", "other")
ALARM_TYPES = ("leak", "stuck", "zero", "spike", "silent", "anomaly")


def _check_device_cases(rows, categories, department_codes, errors) -> list[dict[str, str]]:
    category_codes = {c.get("code") for c in categories}
    seen: set[tuple[str, str]] = set()
    for row in rows:
        where = row["_file"], row["_where"]
        kind, alarm = row.get("kind", ""), row.get("alarm", "")
        if kind != "*" and kind not in DEVICE_KINDS:
            errors.append(
                PackError(*where, "kind", f"{kind!r} is not a device kind ({', '.join(DEVICE_KINDS)}, *)")
            )
        if alarm != "*" and alarm not in ALARM_TYPES:
            errors.append(
                PackError(*where, "alarm", f"{alarm!r} is not an alarm type ({', '.join(ALARM_TYPES)}, *)")
            )
        if row.get("category") not in category_codes:
            errors.append(PackError(*where, "category", f"unknown category {row.get('category')!r}"))
        if row.get("department") and row["department"] not in department_codes:
            errors.append(PackError(*where, "department", f"unknown department {row['department']!r}"))
        if (kind, alarm) in seen:
            errors.append(PackError(*where, "alarm", f"a second rule for {kind} × {alarm}"))
        seen.add((kind, alarm))
    return rows


def _check_population(rows, areas: list[Area], meta: dict[str, Any], errors) -> dict[str, int]:
    """``population.csv``: ``jurisdiction,population`` — residents of each street, a whole number above 0.

    Optional, and a street may be left out: it is then listed as "no population", never ranked by a
    guess. Where the figures come from (source and year, or that they are made up) is ``pack.yaml``'s
    ``population_note``, which every page showing a per-10,000 figure repeats.
    """
    levels = {a.code: a.level for a in areas}
    found: dict[str, int] = {}
    for row in rows:
        where = row["_file"], row["_where"]
        code, value = row.get("jurisdiction", ""), row.get("population", "")
        if code not in levels:
            errors.append(PackError(*where, "jurisdiction", f"unknown jurisdiction {code!r}"))
            continue
        if levels[code] != "street":
            errors.append(
                PackError(
                    *where,
                    "jurisdiction",
                    f"population is given per street (街乡); {code!r} is a {levels[code]}",
                )
            )
            continue
        if code in found:
            errors.append(PackError(*where, "jurisdiction", f"a second population for {code!r}"))
            continue
        try:
            number = int(value.replace(",", "").replace("_", ""))
        except ValueError:
            number = 0
        if number <= 0:
            errors.append(
                PackError(*where, "population", f"must be a whole number of residents above 0, not {value!r}")
            )
            continue
        found[code] = number
    if found and meta and not str(meta.get("population_note") or "").strip():
        errors.append(
            PackError(
                "pack.yaml",
                "-",
                "population_note",
                "is required with population.csv: say where the figures come from (source, year)",
            )
        )
    return found


def load_pack(path_or_name: str | Path) -> Pack:
    folder = resolve(path_or_name)
    errors: list[PackError] = []
    meta = _check_meta(folder, errors)
    areas = _check_areas(folder, errors)
    districts = {a.code for a in areas if a.level == "district"}
    departments = _check_departments(_read_table(folder, "departments", errors), districts, errors)
    categories = _check_categories(_read_table(folder, "categories", errors), errors)
    responsibilities = _check_responsibilities(
        _read_table(folder, "responsibilities", errors),
        categories,
        {d.get("code") for d in departments},
        errors,
    )
    gazetteer = _read_table(folder, "gazetteer", errors, required=False)
    device_cases = _check_device_cases(
        _read_table(folder, "device_cases", errors, required=False),
        categories,
        {d.get("code") for d in departments},
        errors,
    )
    area_codes = {a.code for a in areas}
    for row in gazetteer:
        if row.get("jurisdiction") not in area_codes:
            errors.append(
                PackError(
                    row["_file"],
                    row["_where"],
                    "jurisdiction",
                    f"unknown jurisdiction {row.get('jurisdiction')!r}",
                )
            )
        if not row.get("name"):
            errors.append(PackError(row["_file"], row["_where"], "name", "is required"))
    population = _check_population(
        _read_table(folder, "population", errors, required=False), areas, meta, errors
    )
    if errors:
        raise PackInvalid(errors)
    return Pack(
        folder, meta, areas, departments, categories, responsibilities, gazetteer, device_cases, population
    )
