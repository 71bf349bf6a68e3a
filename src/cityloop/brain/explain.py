"""Why an alarm fired, in plain words, and a small chart of the readings around it.

One function per alarm type reads the evidence the detectors stored with the alarm's newest
occurrence (``Alarm.evidence[-1]``, built by ``detect.detectors.Alarms.evidence`` and
``actions.alarms.record_alarms``).  The words are chosen with ``gettext`` when called, so they come in
the language that is active: a page's, or the city's (``translation.override``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from cityloop.brain import rules, svg, tuning
from cityloop.brain.detect.detectors import Kind as DetectorKind
from cityloop.brain.models import Alarm, Device, DeviceType

# The detectors run with the default parameters (engine.py builds DetectorBank without any); the
# thresholds that are not stored in the evidence (spike k, anomaly on) are read from the same place.
CHART_HOURS_BEFORE = 24.0
CHART_HOURS_AFTER = 6.0


def _num(x) -> str:
    """A reading as people write it: at most four significant digits, no trailing zeros."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "?"
    if x != x:
        return "?"
    return f"{x:.4g}"


def _when(epoch) -> str:
    try:
        moment = datetime.fromtimestamp(float(epoch), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _unit(device: Device) -> str:
    return rules.KIND_UNITS.get(device.kind, "")


def _rate_unit(device: Device) -> str:
    unit = _unit(device)
    return f"{unit}/h" if unit else "/h"


def explain_leak(ev: dict, device: Device) -> str:
    threshold = float(ev.get("threshold_per_h", float("nan")))
    flows = [float(x) for x in ev.get("night_min_flows_per_h") or []]  # newest night first
    nights = 0
    for flow in flows:
        if not flow >= threshold:
            break
        nights += 1
    nights = nights or len(flows)
    return _(
        "Possible leak: the lowest flow of the night stayed at or above %(threshold)s %(unit)s for "
        "%(nights)d nights in a row (last night %(flow)s %(unit)s; nights, newest first: %(flows)s). "
        "A household uses next to nothing between 1 and 5 a.m., so water that keeps flowing then is "
        "usually a leak."
    ) % {
        "threshold": _num(threshold),
        "unit": _rate_unit(device),
        "nights": nights,
        "flow": _num(ev.get("value", flows[0] if flows else None)),
        "flows": ", ".join(_num(f) for f in flows) or "?",
    }


def explain_stuck(ev: dict, device: Device) -> str:
    hours = float(ev.get("hours", 0.0))
    rate = float(ev.get("expected_rate_per_h", 0.0))
    if device.type == DeviceType.METER:
        return _(
            "Stuck counter: the meter has shown %(value)s %(unit)s without change for %(hours)s hours "
            "(since %(since)s), although its usual use of %(rate)s %(rate_unit)s means about "
            "%(expected)s %(unit)s should have been counted."
        ) % {
            "value": _num(ev.get("unchanged_value")),
            "unit": _unit(device),
            "hours": _num(hours),
            "since": _when(ev.get("unchanged_since")),
            "rate": _num(rate),
            "rate_unit": _rate_unit(device),
            "expected": _num(rate * hours),
        }
    return _(
        "Stuck sensor: the sensor has reported exactly %(value)s %(unit)s for %(hours)s hours "
        "(since %(since)s); a working sensor's readings move a little all the time."
    ) % {
        "value": _num(ev.get("unchanged_value")),
        "unit": _unit(device),
        "hours": _num(hours),
        "since": _when(ev.get("unchanged_since")),
    }


def explain_zero(ev: dict, device: Device) -> str:
    hours = float(ev.get("hours", 0.0))
    return _(
        "No consumption: the meter has stayed at %(value)s %(unit)s for %(hours)s hours (%(days)s days, "
        "since %(since)s). The premises may be empty, or the meter broken or bypassed."
    ) % {
        "value": _num(ev.get("unchanged_value")),
        "unit": _unit(device),
        "hours": _num(hours),
        "days": _num(hours / 24.0),
        "since": _when(ev.get("unchanged_since")),
    }


def explain_spike(ev: dict, device: Device) -> str:
    value = float(ev.get("value", float("nan")))
    median = float(ev.get("baseline_median", float("nan")))
    threshold = float(ev.get("threshold", float("nan")))
    if "k" in ev:  # the detector's k and scale when it fired
        k, scale = float(ev["k"]), float(ev["scale"])
    else:  # an alarm raised before the evidence carried them: today's k gives the scale back
        k = float(tuning.city_params().spike_k[DetectorKind.from_name(device.kind)])
        scale = (threshold - median) / k if k else float("nan")
    scales = abs(value - median) / scale if scale and scale == scale and scale > 0 else float("nan")
    unit = _rate_unit(device) if device.type == DeviceType.METER else _unit(device)
    what = _("use per hour") if device.type == DeviceType.METER else _("reading")
    return _(
        "Spike: the %(what)s of %(value)s %(unit)s is %(scales)s robust scales away from its usual "
        "level of %(median)s %(unit)s (an alarm is raised beyond %(k)s scales, here %(threshold)s %(unit)s)."
    ) % {
        "what": what,
        "value": _num(value),
        "unit": unit,
        "scales": _num(scales),
        "median": _num(median),
        "k": _num(k),
        "threshold": _num(threshold),
    }


def explain_silent(ev: dict, device: Device) -> str:
    gap_s = float(ev.get("value", 0.0))
    interval = int(ev.get("expected_interval_s") or device.interval_s or 1)
    return _(
        "Silent device: no reading for %(hours)s hours since %(last)s, %(missing)s times its expected "
        "interval of %(interval)s seconds (an alarm is raised after %(k)s intervals)."
    ) % {
        "hours": _num(gap_s / 3600.0),
        "last": _when(ev.get("last_reading_ts")),
        "missing": ev.get("missing_readings", int(gap_s // interval)),
        "interval": interval,
        "k": _num(tuning.city_params().silent_k),
    }


def explain_anomaly(ev: dict, device: Device) -> str:
    if "drift_scales" in ev:
        return explain_drift(ev, device)
    score = float(ev.get("anomaly_score", ev.get("score", float("nan"))))
    return _(
        "Unusual pattern: the streaming detector scored the reading %(value)s %(unit)s at %(score)s, "
        "at or above its alarm threshold of %(threshold)s (0 is ordinary, 1 never seen before)."
    ) % {
        "value": _num(ev.get("value")),
        "unit": _unit(device),
        "score": f"{score:.2f}",
        "threshold": f"{tuning.city_params().anomaly_on:.2f}",
    }


def explain_drift(ev: dict, device: Device) -> str:
    return _(
        "Drift: over the last hour the readings averaged %(level)s %(unit)s, %(scales)s noise scales "
        "of %(scale)s %(unit)s away from this sensor's usual level of %(usual)s %(unit)s for that time of "
        "day (an alarm is raised beyond %(k)s scales). A slow change no single reading shows: the sensor "
        "may be drifting out of calibration, or the place it watches changing."
    ) % {
        "level": _num(ev.get("drift_level")),
        "unit": _unit(device),
        "scales": _num(abs(float(ev.get("drift_scales", float("nan"))))),
        "scale": _num(ev.get("scale")),
        "usual": _num(ev.get("drift_usual_level")),
        "k": _num(ev.get("k")),
    }


EXPLAINERS: dict[str, Callable[[dict, Device], str]] = {
    "leak": explain_leak,
    "stuck": explain_stuck,
    "zero": explain_zero,
    "spike": explain_spike,
    "silent": explain_silent,
    "anomaly": explain_anomaly,
}


def why(alarm: Alarm) -> str:
    """Why ``alarm`` fired, from its newest occurrence, in the active language."""
    ev = alarm.evidence[-1] if alarm.evidence else {}
    explain = EXPLAINERS.get(alarm.type)
    if explain is None or not isinstance(ev, dict):
        return str(alarm.get_type_display())
    return explain(ev, alarm.device)


def alarm_moment(alarm: Alarm) -> float:
    """The reading time (epoch s) of the newest occurrence: the moment the chart marks."""
    ev = alarm.evidence[-1] if alarm.evidence else {}
    ts = ev.get("ts") if isinstance(ev, dict) else None
    if isinstance(ts, int | float):
        return float(ts)
    return alarm.last_ts.timestamp()


def chart(alarm: Alarm, readings: tuple[list, list, list]) -> str:
    """A small SVG of ``readings`` (``queries.recent_readings``) with the alarm's moment marked."""
    ts, values, _consumption = readings
    moment = alarm_moment(alarm)
    start, end = moment - CHART_HOURS_BEFORE * 3600, moment + CHART_HOURS_AFTER * 3600
    kept = [(t, v) for t, v in zip(ts, values, strict=False) if start <= t <= end]
    zone = timezone.get_current_timezone()
    return svg.marked(
        [t for t, _v in kept],
        [v for _t, v in kept],
        start=start,
        end=end,
        mark=moment,
        label=lambda t: datetime.fromtimestamp(t, tz=UTC).astimezone(zone).strftime("%m-%d %H:%M"),
        title=_("Readings around the alarm (%(type)s)") % {"type": alarm.get_type_display()},
        mark_label=_("alarm"),
        empty=_("No archived readings around the alarm."),
        y_label=_unit(alarm.device) or _("reading (no unit set)"),
    )
