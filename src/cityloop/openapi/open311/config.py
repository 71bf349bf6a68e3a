"""Open311 settings: ``settings.OPEN311`` (a dict) overrides these defaults key by key."""

from __future__ import annotations

from django.conf import settings

DEFAULTS: dict = {
    # Shown in discovery.{fmt}.
    "contact": "The city's hotline office (12345).",
    "key_service": "API keys are CityLoop API tokens with the scope open311: an administrator runs "
    "`cityloop token create <username> --name <app> --scope open311`.",
    # Per pack code, a service definition file used instead of <pack folder>/open311.yaml.
    "definition_files": {},
    # Extra jurisdiction_id aliases (e.g. a web domain) → city or pack code.
    "jurisdiction_aliases": {},
    # Sliding windows for POSTs: (requests, seconds).
    "rate_limit_per_key": (60, 60),
    "rate_limit_per_ip": (120, 60),
    "max_page_size": 1000,
    "max_range_days": 90,
}

# The date this API's contract last changed; shown as the discovery changeset.
CHANGESET = "2026-11-26T00:00:00Z"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


def get(key: str):
    return {**DEFAULTS, **getattr(settings, "OPEN311", {})}[key]
