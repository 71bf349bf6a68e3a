"""Services (the city's leaf categories) and their Open311 service definitions.

Attribute definitions live beside the city pack, in ``open311.yaml`` (or the file named for the
pack in ``OPEN311["definition_files"]``)::

    services:
      "02.01.01":
        type: realtime            # realtime (default) | batch (answers with a token)
        keywords: [no water]      # added to the names of the category and its parents
        service_notice: ...       # returned after a POST and with each request
        attributes:
          - code: FLOOR
            datatype: number      # string number datetime text singlevaluelist multivaluelist
            required: true
            description: Which floor has no water?
            datatype_description: a whole number
            values: [{key: k, name: n}]   # the two list datatypes only
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from django.core.exceptions import ImproperlyConfigured

from cityloop.openapi.open311 import config
from cityloop.org import packs
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Category

DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
TYPES = ("realtime", "batch")
MAX_VALUE_LENGTH = 4000


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    required: bool
    description: str
    datatype_description: str
    order: int
    variable: bool = True
    values: tuple[tuple[str, str], ...] = ()

    def as_open311(self) -> dict:
        return {
            "variable": self.variable,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": self.datatype_description or None,
            "order": self.order,
            "description": self.description,
            "values": [{"key": key, "name": name} for key, name in self.values],
        }


@dataclass(frozen=True)
class Definition:
    type: str = "realtime"
    keywords: tuple[str, ...] = ()
    description: str = ""
    service_notice: str = ""
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Service:
    category: Category
    code: str
    name: str
    description: str
    group: str
    keywords: str
    definition: Definition

    def as_open311(self) -> dict:
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": self.description,
            "metadata": bool(self.definition.attributes),
            "type": self.definition.type,
            "keywords": self.keywords,
            "group": self.group,
        }


def _problem(path: Path, where: str, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{path}: {where}: {message}")


def _attribute(path: Path, code: str, position: int, raw) -> Attribute:
    where = f"services.{code}.attributes[{position}]"
    if not isinstance(raw, dict) or not str(raw.get("code") or "").strip():
        raise _problem(path, where, "an attribute is a mapping with a code")
    datatype = raw.get("datatype")
    if datatype not in DATATYPES:
        raise _problem(path, where, f"datatype must be one of {', '.join(DATATYPES)}, not {datatype!r}")
    values = tuple(
        (str(v["key"]), str(v.get("name") or v["key"]))
        for v in raw.get("values") or []
        if isinstance(v, dict) and "key" in v
    )
    if datatype.endswith("valuelist") != bool(values):
        raise _problem(path, where, "values are given for the list datatypes, and only for them")
    if len({key for key, _ in values}) != len(values):
        raise _problem(path, where, "value keys must be unique")
    return Attribute(
        code=str(raw["code"]).strip(),
        datatype=datatype,
        required=bool(raw.get("required", False)),
        description=str(raw.get("description") or "").strip(),
        datatype_description=str(raw.get("datatype_description") or "").strip(),
        order=int(raw.get("order") or position + 1),
        variable=bool(raw.get("variable", True)),
        values=values,
    )


def read_file(path: Path) -> dict[str, Definition]:
    """Every definition in one file, checked; a broken file names the service and the rule."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        raise _problem(path, "-", "the file holds a mapping 'services' of service code → definition")
    found: dict[str, Definition] = {}
    for code, raw in services.items():
        code, raw = str(code), raw or {}
        if raw.get("type", "realtime") not in TYPES:
            raise _problem(path, f"services.{code}.type", f"one of {', '.join(TYPES)}")
        attributes = tuple(_attribute(path, code, n, a) for n, a in enumerate(raw.get("attributes") or []))
        codes = [a.code for a in attributes]
        orders = [a.order for a in attributes]
        if len(set(codes)) != len(codes) or len(set(orders)) != len(orders):
            raise _problem(path, f"services.{code}.attributes", "attribute codes and orders must be unique")
        keywords = raw.get("keywords") or []
        found[code] = Definition(
            type=raw.get("type", "realtime"),
            keywords=tuple(
                str(k) for k in (keywords if isinstance(keywords, list) else str(keywords).split(","))
            ),
            description=str(raw.get("description") or "").strip(),
            service_notice=str(raw.get("service_notice") or "").strip(),
            attributes=tuple(sorted(attributes, key=lambda a: a.order)),
        )
    return found


_files: dict[Path, tuple[float, dict[str, Definition]]] = {}


def definition_file(city) -> Path | None:
    pack = getattr(city, "pack", None)
    if pack is None:
        return None
    configured = config.get("definition_files").get(pack.code)
    if configured:
        return Path(configured)
    try:
        folder = packs.resolve(pack.code)
    except FileNotFoundError:
        return None
    candidate = folder / "open311.yaml"
    return candidate if candidate.exists() else None


def definitions_for(city) -> dict[str, Definition]:
    path = definition_file(city)
    if path is None:
        return {}
    mtime = path.stat().st_mtime
    cached = _files.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, read_file(path))
        _files[path] = cached
    return cached[1]


def services_for(city) -> list[Service]:
    """Every leaf category is a service; its level-1 ancestor is the group."""
    categories = {c.pk: c for c in org_queries.categories(city)}
    parents = {c.parent_id for c in categories.values() if c.parent_id}
    definitions = definitions_for(city)
    services = []
    for category in sorted(categories.values(), key=lambda c: c.code):
        if category.pk in parents:
            continue
        chain = [category]
        while chain[-1].parent_id in categories:
            chain.append(categories[chain[-1].parent_id])
        chain.reverse()
        definition = definitions.get(category.code, Definition())
        words: list[str] = []
        for word in [n for c in chain for n in (c.name, c.name_en)] + list(definition.keywords):
            word = word.strip()
            if word and word not in words:
                words.append(word)
        services.append(
            Service(
                category=category,
                code=category.code,
                name=category.label,
                description=definition.description or " › ".join(c.label for c in chain),
                group=chain[0].label,
                keywords=", ".join(words),
                definition=definition,
            )
        )
    return services


def service_for(city, code: str) -> Service | None:
    return next((s for s in services_for(city) if s.code == code), None)


def clean_attributes(
    definition: Definition, given: dict[str, list[str]]
) -> tuple[dict, list[tuple[str, str]]]:
    """(cleaned values, problems) for ``attribute[code]`` / ``attribute[code][]`` input."""
    problems: list[tuple[str, str]] = []
    known = {a.code: a for a in definition.attributes if a.variable}
    for code in sorted(set(given) - set(known)):
        problems.append(
            (
                f"attribute[{code}]",
                "not an attribute of this service"
                + (f" (attributes: {', '.join(known)})" if known else " (it has none)"),
            )
        )
    cleaned: dict = {}
    for code, attribute in known.items():
        values = [v.strip() for v in given.get(code, []) if v.strip()]
        name = f"attribute[{code}]"
        if not values:
            if attribute.required:
                problems.append((name, "required"))
            continue
        if attribute.datatype != "multivaluelist" and len(values) > 1:
            problems.append((name, f"takes one value ({attribute.datatype}), got {len(values)}"))
            continue
        keys = {key for key, _ in attribute.values}
        if attribute.datatype.endswith("valuelist"):
            outside = [v for v in values if v not in keys]
            if outside:
                problems.append(
                    (name, f"{', '.join(map(repr, outside))} is not one of {', '.join(sorted(keys))}")
                )
                continue
            cleaned[code] = values if attribute.datatype == "multivaluelist" else values[0]
            continue
        text = values[0]
        if len(text) > MAX_VALUE_LENGTH:
            problems.append((name, f"at most {MAX_VALUE_LENGTH} characters"))
        elif attribute.datatype == "string" and ("\n" in text or "\r" in text):
            problems.append((name, "a string has no line breaks (use a text attribute for those)"))
        elif attribute.datatype == "number":
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                problems.append((name, f"must be a number, not {text!r}"))
            else:
                cleaned[code] = int(number) if number.is_integer() and "." not in text else number
        elif attribute.datatype == "datetime":
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                problems.append((name, f"must be an ISO 8601 datetime with a time zone, not {text!r}"))
            else:
                cleaned[code] = moment.isoformat()
        else:
            cleaned[code] = text
    return cleaned, problems
