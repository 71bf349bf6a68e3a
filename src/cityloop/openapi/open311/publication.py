"""What Open311 publishes about a request: the city's choice per category, never more.

Open311 reads are public, so the city pack decides, in ``open311.yaml``::

    publish:
      default: summary        # full | summary | none (a pack that says nothing: summary)
      categories:             # by category code; the longest matching prefix wins
        "01": full
        "05": none            # e.g. reports about officials are never public

* ``full``: the description and the address as the citizen gave them; coordinates rounded to
  ``FULL_DECIMALS`` (3 decimals, about 100 m).
* ``summary``: no description; the place (community, street or district) instead of the address;
  coordinates rounded to ``SUMMARY_DECIMALS`` (2 decimals, about 1 km).
* ``none``: the request is not listed at all.

Whatever the category says, these are never published: a request whose caller asked to stay
confidential; a request not yet filed under a service that ``services.json`` lists (an unclassified
request is listed once a dispatcher classifies it); citizens' own words (follow-up comments, the
reasons they gave for reopening, comments posted by apps); and a dispatcher's internal notes.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.exceptions import ImproperlyConfigured

LEVELS = ("full", "summary", "none")
DEFAULT = "summary"
FULL_DECIMALS = 3
SUMMARY_DECIMALS = 2

_files: dict[Path, tuple[float, tuple[str, dict[str, str]]]] = {}


def _read(path: Path) -> tuple[str, dict[str, str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = raw.get("publish") or {}
    if not isinstance(section, dict):
        raise ImproperlyConfigured(f"{path}: publish must be a mapping with default and categories")
    default = str(section.get("default", DEFAULT))
    if default not in LEVELS:
        raise ImproperlyConfigured(f"{path}: publish.default {default!r} must be one of {', '.join(LEVELS)}")
    categories = {}
    for code, level in (section.get("categories") or {}).items():
        if str(level) not in LEVELS:
            raise ImproperlyConfigured(
                f"{path}: publish.categories.{code} {level!r} must be one of {', '.join(LEVELS)}"
            )
        categories[str(code)] = str(level)
    return default, categories


def policy_for(city) -> tuple[str, dict[str, str]]:
    """(default level, {category code prefix: level}) from the city's open311.yaml."""
    from cityloop.openapi.open311.definitions import definition_file

    path = definition_file(city)
    if path is None:
        return DEFAULT, {}
    mtime = path.stat().st_mtime
    cached = _files.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, _read(path))
        _files[path] = cached
    return cached[1]


def level_of(code: str, policy: tuple[str, dict[str, str]]) -> str:
    default, categories = policy
    best = ""
    for prefix in categories:
        if (code == prefix or code.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return categories[best] if best else default


def published_levels(city, service_codes) -> dict[str, str]:
    """{service code: full | summary} for every service whose requests are listed."""
    policy = policy_for(city)
    levels = {code: level_of(code, policy) for code in service_codes}
    return {code: level for code, level in levels.items() if level != "none"}


def rounded(value: float | None, level: str) -> float | None:
    if value is None:
        return None
    return round(value, FULL_DECIMALS if level == "full" else SUMMARY_DECIMALS)
