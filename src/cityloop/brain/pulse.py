"""What the city pulse page draws, shaped so that no chart mixes units of measure (issue 17, point 6).

A meter's hour is what it counted in that hour (m³/h, kWh/h): those add up across meters of one unit. A
sensor's hour is the mean of its readings (dB, m): a sum of decibels or of water levels means nothing.
A kind without a unit in ``rules.KIND_UNITS`` is never assumed to share one with another kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from cityloop.brain import rules
from cityloop.brain.detect.detectors import METER_KINDS
from cityloop.brain.models import Kind

METERS = frozenset(k.name.lower() for k in METER_KINDS)


def is_meter(kind: str) -> bool:
    return kind in METERS


def unit_of(kind: str) -> str:
    """The unit of one hour of ``kind`` on the page ("m³/h" for a water meter, "dB" for a noise
    sensor), or "" when the kind has none defined."""
    unit = rules.KIND_UNITS.get(kind, "")
    if unit and is_meter(kind):
        return f"{unit}/h"
    return unit


def hour_value(kind: str, total: float, readings: int) -> float | None:
    """The figure of one hour: a meter's consumption, a sensor's mean reading; None without readings."""
    if not readings:
        return None
    return total if is_meter(kind) else total / readings


def axis_label(kind: str) -> str:
    return unit_of(kind) or _("reading (no unit set)")


@dataclass(frozen=True)
class TrendGroup:
    """One chart: the kinds that share ``unit``, one line each (kind label → value per hour)."""

    key: str  # the unit, or "kind:<kind>" for a kind without one
    unit: str
    title: str
    y_label: str
    series: dict[str, list[float | None]] = field(default_factory=dict)


def _title(kinds: Sequence[str], unit: str, meter: bool) -> str:
    names = pgettext("between the names of a list", ", ").join(kinds)
    if meter:
        return _("%(kinds)s used per hour (%(unit)s)") % {"kinds": names, "unit": unit}
    if unit:
        return _("%(kinds)s, mean of the hour's readings (%(unit)s)") % {"kinds": names, "unit": unit}
    return _("%(kinds)s, mean of the hour's readings (no unit set)") % {"kinds": names}


def trend_groups(
    trends: Mapping[str, tuple[Sequence[float], Sequence[int]]], kind_labels: Mapping[str, str]
) -> list[TrendGroup]:
    """``queries.kind_trends`` as charts: one per unit of measure, in the order of ``Kind``."""
    grouped: dict[str, tuple[str, bool, list[str]]] = {}
    for kind in [k for k in Kind.values if k in trends] + [k for k in trends if k not in Kind.values]:
        unit = unit_of(kind)
        key = unit or f"kind:{kind}"
        grouped.setdefault(key, (unit, is_meter(kind), []))[2].append(kind)
    out = []
    for key, (unit, meter, kinds) in grouped.items():
        labels = [str(kind_labels.get(k, k)) for k in kinds]
        series = {
            label: [hour_value(kind, t, n) for t, n in zip(*trends[kind], strict=True)]
            for label, kind in zip(labels, kinds, strict=True)
        }
        out.append(TrendGroup(key, unit, _title(labels, unit, meter), axis_label(kinds[0]), series))
    return out


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def trend_table(groups: Sequence[TrendGroup], hours: Sequence[str]) -> dict:
    """The charts' figures for the table under them: a column per line, its unit in the header."""
    headers, columns = [], []
    for group in groups:
        for name, values in group.series.items():
            headers.append(f"{name} ({group.y_label})")
            columns.append(values)
    rows = [(hour, [number(c[i]) for c in columns]) for i, hour in enumerate(hours)]
    return {"headers": headers, "rows": rows}
