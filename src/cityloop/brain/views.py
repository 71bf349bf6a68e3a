"""Pages of the brain: the city pulse and one device.  Adapters only: authorise, query, render."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cityloop.brain import actions, queries, rules, svg
from cityloop.brain import pulse as pulse_data
from cityloop.brain.forms import AcknowledgeForm, MuteForm
from cityloop.brain.models import Kind
from cityloop.core.doors import charts
from cityloop.core.doors.forms import run_action
from cityloop.org.queries import default_city

# Why a reading was refused, in words (the stored code is shown beside it for the operators).
REJECT_LABELS = {
    "unknown_device": gettext_lazy("device not registered"),
    "not_numeric": gettext_lazy("value is not a number"),
    "future_timestamp": gettext_lazy("time stamp in the future"),
    "counter_backwards": gettext_lazy("meter counter went backwards"),
    "duplicate_or_old": gettext_lazy("the same device and time again, or a week older than its last reading"),
    "unreadable": gettext_lazy("row could not be read"),
    "not_bound": gettext_lazy("device belongs to another gateway"),
}


def _require(user) -> None:
    if not queries.can_see_brain(user):
        raise PermissionDenied


def _zone(city) -> ZoneInfo:
    return ZoneInfo(getattr(getattr(city, "pack", None), "timezone", None) or "UTC")


@login_required
def pulse(request):
    _require(request.user)
    city = default_city()
    hours = queries.pulse_hours(24)
    # The hour still running has only its first minutes of readings: drawn, it would look like a drop in
    # use. The page shows the 24 whole hours before it.
    running = hours[-1] if hours[-1] + timedelta(hours=1) > timezone.now() else None
    if running is not None:
        hours = queries.pulse_hours(24, end=running - timedelta(hours=1))
    zone = _zone(city)
    local = [h.astimezone(zone) for h in hours]
    stamps = [h.strftime("%m-%d %H:00") for h in local]
    kind_labels = {k: str(v) for k, v in Kind.choices}
    heat_svg = ""
    heat_rows: list = []
    heat_districts: list[str] = []
    trends = queries.kind_trends(hours)
    # One kind at a time: cubic metres of water and kilowatt-hours do not add up. The default is the
    # first kind with readings in these hours.
    kind = request.GET.get("kind", "")
    if kind not in Kind.values:
        kind = next((k for k in Kind.values if k in trends), Kind.WATER)
    heat_unit = pulse_data.axis_label(kind)
    heat_title = _heat_title(kind, kind_labels[kind])
    if city is not None:
        heat = queries.district_heat(city, hours, kind=kind)
        districts = heat["districts"]
        values = [
            [pulse_data.hour_value(kind, *heat["values"].get((d.pk, h), (0.0, 0))) for h in hours]
            for d in districts
        ]
        heat_svg = svg.heatmap(
            [d.label for d in districts],
            [h.strftime("%H") for h in local],
            values,
            title=heat_title,
            unit=pulse_data.unit_of(kind),
            days=[h.strftime("%m-%d") for h in local],
            no_data=_("no data"),
        )
        heat_rows = [(stamp, [pulse_data.number(row[i]) for row in values]) for i, stamp in enumerate(stamps)]
        heat_districts = [d.label for d in districts]
    groups = pulse_data.trend_groups(trends, kind_labels)
    trend_charts = [
        {
            "key": group.key,
            "title": group.title,
            "unit": group.y_label,
            "svg": charts.line_chart(
                group.series,
                stamps,
                title=group.title,
                y_max=None,
                y_min=None,
                fmt=pulse_data.number,
                y_label=group.y_label,
            ),
        }
        for group in groups
    ]
    return render(
        request,
        "brain/pulse.html",
        {
            "heat_svg": mark_safe(heat_svg),  # noqa: S308 - escaped in svg.py
            "heat_title": heat_title,
            "heat_unit": heat_unit,
            "heat_districts": heat_districts,
            "heat_rows": heat_rows,
            "trend_charts": trend_charts,
            "trend_table": pulse_data.trend_table(groups, stamps),
            "alarms": queries.explained_alarms(queries.live_alarms(request.user)),
            "now": timezone.now(),
            "totals": queries.pulse_totals(hours),
            "first_hour": local[0],
            "last_hour": local[-1],
            "zone": str(zone),
            "running_hour": running.astimezone(zone) if running is not None else None,
            "kinds": Kind.choices,
            "selected_kind": kind,
            "rejects": [
                {**r, "label": REJECT_LABELS.get(r["reason"], r["reason"])} for r in queries.reject_counts()
            ],
            "mqtt": _mqtt_status(),
        },
    )


def _heat_title(kind: str, label: str) -> str:
    unit = pulse_data.unit_of(kind)
    if pulse_data.is_meter(kind):
        return _("%(kind)s used by district and hour (%(unit)s)") % {"kind": label, "unit": unit}
    if unit:
        return _("%(kind)s by district and hour, mean of the hour's readings (%(unit)s)") % {
            "kind": label,
            "unit": unit,
        }
    return _("%(kind)s by district and hour, mean of the hour's readings (no unit set)") % {"kind": label}


def _mqtt_status() -> dict | None:
    """What a worker last read of the MQTT broker's drop counter, with when (None: no MQTT worker ran)."""
    from datetime import UTC, datetime

    seen = queries.mqtt_broker_dropped()
    if not seen:
        return None
    return {**seen, "seen_at": datetime.fromtimestamp(seen["seen_at"], tz=UTC)}


@login_required
def device(request, code: str):
    return _device_page(request, _visible_device(request, code))


def _visible_device(request, code: str):
    _require(request.user)
    return get_object_or_404(
        queries.devices_for(request.user).select_related("community", "muted_by"), code=code
    )


def _device_page(request, found, *, ack_forms: dict | None = None, mute_form=None, status: int = 200):
    """The device page; ``ack_forms``/``mute_form`` are forms that came back with a refusal."""
    ack_forms = ack_forms or {}
    latest = queries.latest_reading(found)
    # the 48 hours up to the device's newest reading, so a silent device still shows its last data
    ts, values, _consumption = queries.recent_readings(
        found, hours=48, now=latest[0].timestamp() + 1 if latest else None
    )
    zone = _zone(default_city())
    labels = [datetime.fromtimestamp(t, tz=UTC).astimezone(zone).strftime("%d %H:%M") for t in ts]
    chart = ""
    if ts:
        chart = svg.lines(
            {_("Reading"): values},
            labels,
            title=_("Readings of the last 48 hours"),
            y_label=rules.KIND_UNITS.get(found.kind, "") or _("reading (no unit set)"),
        )
    alarms = queries.explained_alarms(
        queries.alarms_for(request.user)
        .select_related("acknowledged_by")
        .filter(device=found)
        .order_by("-last_ts")[:50],
        charts=10,
    )
    for row in alarms:
        pk = row["alarm"].pk
        row["ack_form"] = ack_forms.get(pk) or AcknowledgeForm(prefix=f"ack{pk}")
    return render(
        request,
        "brain/device.html",
        {
            "device": found,
            "device_muted": actions.is_muted(found),
            "now": timezone.now(),
            "mute_form": mute_form or MuteForm(prefix="mute"),
            "chart": mark_safe(chart),  # noqa: S308 - escaped in svg.py
            "readings": len(ts),
            "latest": (labels[-1], values[-1]) if ts else None,
            "alarms": alarms,
            "ngsi_url": f"/api/v1/brain/devices/{found.code}",
        },
        status=status,
    )


@login_required
@require_POST
def acknowledge(request, pk: int):
    _require(request.user)
    alarm = get_object_or_404(queries.alarms_for(request.user), pk=pk)
    form = AcknowledgeForm(request.POST, prefix=f"ack{pk}")
    if form.is_valid() and run_action(
        lambda: actions.acknowledge_alarm(alarm, note=form.cleaned_data["note"], actor=request.user),
        form=form,
    ):
        messages.success(request, _("Alarm acknowledged."))
        return redirect("brain:device", code=alarm.device.code)
    # a refusal about the alarm itself (already acknowledged) has no form left to sit on
    for error in form.non_field_errors():
        messages.error(request, str(error))
    found = _visible_device(request, alarm.device.code)
    return _device_page(request, found, ack_forms={alarm.pk: form}, status=400)


@login_required
@require_POST
def mute(request, code: str):
    found = _visible_device(request, code)
    form = MuteForm(request.POST, prefix="mute")
    if form.is_valid() and run_action(
        lambda: actions.mute_device(
            found, hours=form.cleaned_data["hours"], reason=form.cleaned_data["reason"], actor=request.user
        ),
        form=form,
    ):
        messages.success(request, _("Device muted."))
        return redirect("brain:device", code=found.code)
    return _device_page(request, found, mute_form=form, status=400)


@login_required
@require_POST
def unmute(request, code: str):
    found = _visible_device(request, code)
    if run_action(lambda: actions.unmute_device(found, actor=request.user), request=request):
        messages.success(request, _("The mute has ended."))
    return redirect("brain:device", code=found.code)
