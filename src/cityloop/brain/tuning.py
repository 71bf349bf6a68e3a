"""A city's detector tuning per device kind, from its pack (``pack.yaml``'s ``detectors`` section).

    detectors:
      water:
        spike_k: 30          # robust scales from the baseline before a reading is a spike
        leak_min_rate: 0.002 # m³/h of steady night flow that is a leak ("off": no leak alarms)
      noise:
        stuck_s: 21600       # seconds unchanged before a sensor counts as stuck (0: never)

Only the per-kind settings of :class:`~cityloop.brain.detect.detectors.Params` may be tuned here;
the rest are the detectors' own design. The pack import checks names and values (org's
``packs.register_section``) and audits every change as ``city.pack.detectors`` with before and after.
A running worker takes a new tuning when it next loads its state (a restart, or another worker's
checkpoint); explanations of alarms read it at once.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from cityloop.brain.detect.detectors import METER_KINDS, Kind, Params

# name → (what it is, the unit, whether "off" is allowed and what it means)
TUNABLE: dict[str, tuple[str, str]] = {
    "leak_min_rate": ("steady night flow that counts as a leak", "units/h, or off"),
    "stuck_s": ("time a counter may stay unchanged while use is expected", "seconds, 0 = never"),
    "stuck_expect": ("use expected over that time before 'stuck' is raised", "units"),
    "zero_s": ("time without any use before 'zero' is raised", "seconds, 0 = never"),
    "spike_k": ("robust scales from the baseline before a reading is a spike", "a number > 0"),
    "spike_floor": ("the smallest scale a spike is measured against", "units"),
    "drift_k": (
        "noise scales the level may move from its usual course for the time of day before 'drift' (sensors)",
        "a number > 0, or off",
    ),
}
KINDS = {k.name.lower(): k for k in Kind}
_SENSOR_KINDS = tuple(k for k in Kind if k not in METER_KINDS)
# Settings that "off" (or false) turns off; a leak_min_rate of 0 does too.
_CAN_BE_OFF = ("leak_min_rate", "drift_k")
# Settings that must be above 0 (at 0 every reading would be a spike or a drift); the others at least 0.
_ABOVE_ZERO = ("spike_k", "drift_k")
_TTL_S = 30.0
_cache: tuple[float, Params] | None = None


def check(given: Any) -> tuple[dict[str, dict[str, float | str]], list[tuple[str, str]]]:
    """The ``detectors`` section cleaned (kind → setting → number, or "off" for no leak alarms; JSON
    has no infinity, so "off" stays a word until :func:`params`), and its problems as (field, message)."""
    if given in (None, {}):
        return {}, []
    if not isinstance(given, dict):
        return {}, [("", "must be a mapping of device kind → settings, e.g. water: {spike_k: 30}")]
    out: dict[str, dict[str, float | str]] = {}
    problems: list[tuple[str, str]] = []
    for kind, settings in given.items():
        if str(kind) not in KINDS:
            problems.append((str(kind), f"unknown device kind; use one of {', '.join(KINDS)}"))
            continue
        if not isinstance(settings, dict):
            problems.append((str(kind), "must be a mapping of setting → value, e.g. spike_k: 30"))
            continue
        for name, value in settings.items():
            field = f"{kind}.{name}"
            if name not in TUNABLE:
                problems.append((field, f"not a tunable setting; use one of {', '.join(TUNABLE)}"))
                continue
            if name == "drift_k" and KINDS[str(kind)] not in _SENSOR_KINDS:
                problems.append((field, "drift is watched on sensors only"))
                continue
            off = value == "off" or value is False or (name == "leak_min_rate" and value == 0)
            if name in _CAN_BE_OFF and off:
                out.setdefault(str(kind), {})[name] = "off"
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                problems.append((field, f"must be a number ({TUNABLE[name][1]}), not {value!r}"))
                continue
            if value < 0 or (name in _ABOVE_ZERO and value == 0):
                bound = "above" if name in _ABOVE_ZERO else "at least"
                problems.append((field, f"must be {bound} 0, not {value}"))
                continue
            if name == "leak_min_rate" and KINDS[str(kind)] != Kind.WATER:
                problems.append((field, "leaks are found on water meters only"))
                continue
            out.setdefault(str(kind), {})[name] = float(value)
    return out, problems


def params(tuning: dict[str, dict[str, float | str]] | None) -> Params:
    """The detectors' settings with ``tuning`` (a checked ``detectors`` section) applied."""
    base = Params()
    changes: dict[str, Any] = {}
    for kind, settings in (tuning or {}).items():
        for name, value in settings.items():
            values = list(changes.get(name, getattr(base, name)))
            values[KINDS[kind]] = math.inf if value == "off" else float(value)
            changes[name] = tuple(values)
    return replace(base, **changes)


def city_params() -> Params:
    """The default city's tuned settings (kept 30 s: explanations ask for each alarm on a page)."""
    global _cache
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < _TTL_S:
        return _cache[1]
    from cityloop.org.queries import default_city

    city = default_city()
    tuning = (getattr(getattr(city, "pack", None), "sections", None) or {}).get("detectors")
    found = params(tuning)
    _cache = (now, found)
    return found


def forget() -> None:
    """Read the tuning again at the next call (after an import; tests)."""
    global _cache
    _cache = None
