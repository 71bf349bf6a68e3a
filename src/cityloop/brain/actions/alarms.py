"""The closed loop: alarms open hotline cases, and cases close only when the readings say so.

The brain never writes hotline rows: it calls ``hotline.actions.open_case / confirm_fixed /
reopen_case`` and reads ``hotline.queries.case_status``.  Its own table ``brain_alarm`` holds one row
per ongoing problem (device + alarm type) with the case's request id.

Verification runs in reading time: when the department has replied "fixed" (the case is
``awaiting_verification``) the alarm starts watching; it is verified once the device's readings have
stayed normal (no alarm of the type) for ``CITYLOOP_BRAIN_VERIFY_HOURS`` of readings.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from cityloop.brain import rules
from cityloop.brain.models import Alarm, AlarmStatus, Device
from cityloop.brain.rules import AlarmEvent
from cityloop.core import actors, audit
from cityloop.org import queries as org_queries

EVIDENCE_CAP = 50


def verify_hours() -> float:
    """How long readings must stay normal before a fixed case closes (a setting wins over the env)."""
    from cityloop.core import config

    configured = getattr(settings, "CITYLOOP_BRAIN_VERIFY_HOURS", None)
    return float(configured or config.brain_verify_hours())


def reopen_days() -> float:
    from cityloop.core import config

    configured = getattr(settings, "CITYLOOP_BRAIN_REOPEN_DAYS", None)
    return float(configured or config.brain_reopen_days())


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _case_text(device: Device, alarm: Alarm) -> tuple[str, str]:
    """Title and description in the city's language, with the time in the city's time zone."""
    with translation.override(settings.LANGUAGE_CODE):
        kind, what = device.get_kind_display(), alarm.get_type_display()
        street = device.street.label if device.street_id else ""
        title = rules.case_title(str(kind), str(what), device.code)
        when = timezone.localtime(alarm.first_ts).strftime("%Y-%m-%d %H:%M")
        description = translation.gettext(
            "%(what)s: %(kind)s %(code)s (%(type)s) in %(street)s, since %(when)s (anomaly score %(score).1f)"
        ) % {
            "what": what,
            "kind": kind,
            "code": device.code,
            "type": device.get_type_display(),
            "street": street or "-",
            "when": when,
            "score": alarm.score,
        }
    return title[:200], description


def case_rule(device: Device, alarm_type: str):
    """The pack's rule for this device kind and alarm (exact, then kind × *, * × alarm, * × *), or None."""
    rules_here = {
        (r.kind, r.alarm): r
        for r in org_queries.device_case_rules(device.city_id).select_related("category", "department")
    }
    for key in ((device.kind, alarm_type), (device.kind, "*"), ("*", alarm_type), ("*", "*")):
        if key in rules_here:
            return rules_here[key]
    return None


def _open_case(alarm: Alarm, device: Device) -> None:
    from cityloop.hotline import actions as hotline

    title, description = _case_text(device, alarm)
    rule = case_rule(device, alarm.type)
    # The category comes from the pack's device_cases table, never from the classifier; without a rule,
    # the owning department's own first duty (hotline.actions.open_case).
    department = (rule.department if rule is not None and rule.department_id else None) or device.department
    request = hotline.open_case(
        actor=actors.BRAIN,
        source="brain",
        source_ref=f"brain:{device.code}:{alarm.type}:{alarm.pk}",
        title=title,
        category=rule.category if rule is not None else None,
        description=description,
        department=department,
        street=device.street,
        lon=device.lon,
        lat=device.lat,
        evidence={
            "device": device.code,
            "alarm": alarm.pk,
            "type": alarm.type,
            "readings": alarm.evidence[-1:],
        },
    )
    alarm.request_id, alarm.tracking_no, alarm.case_opened_at = (
        request.pk,
        request.tracking_no,
        timezone.now(),
    )


def record_alarms(events: list[AlarmEvent]) -> list[Alarm]:
    """Attach each alarm to its device's ongoing problem, opening or reopening the case.  Call inside
    the checkpoint's transaction, so a crash never leaves a case without its alarm (or twice)."""
    from cityloop.hotline import actions as hotline

    if not events:
        return []
    devices = Device.objects.select_related("department", "street").in_bulk(
        {e.device_idx for e in events}, field_name="idx"
    )
    touched: dict[int, Alarm] = {}
    cutoff = timezone.now() - timedelta(days=reopen_days())
    for e in sorted(events, key=lambda e: e.ts):
        device = devices.get(e.device_idx)
        if device is None:
            continue
        ts = _dt(e.ts)
        occurrence = {"ts": ts.isoformat(), "value": e.value, "score": e.score, **e.evidence}
        alarm = (
            Alarm.objects.select_for_update()
            .filter(device=device, type=e.type)
            .exclude(status=AlarmStatus.CLOSED)
            .order_by("-pk")
            .first()
            or Alarm.objects.select_for_update()
            .filter(device=device, type=e.type, status=AlarmStatus.CLOSED, closed_at__gte=cutoff)
            .order_by("-pk")
            .first()
        )
        if alarm is None:
            alarm = Alarm.objects.create(
                device=device, type=e.type, first_ts=ts, last_ts=ts, score=e.score, evidence=[occurrence]
            )
            _open_case(alarm, device)
            alarm.latency_s = max(0.0, time.time() - e.received_at)
            alarm.save()
            audit.record(
                actors.BRAIN, "alarm.open", alarm, device=device.code, type=e.type, case=alarm.tracking_no
            )
        else:
            alarm.occurrences += 1
            alarm.last_ts = max(alarm.last_ts, ts)
            alarm.score = max(alarm.score, e.score)
            alarm.evidence = [*alarm.evidence, occurrence][-EVIDENCE_CAP:]
            if alarm.status in (AlarmStatus.AWAITING, AlarmStatus.CLOSED):
                before = alarm.status
                request = _request(alarm)
                if request is not None and request.status in ("awaiting_verification", "closed"):
                    hotline.reopen_case(
                        request,
                        reason="the readings show the problem again",
                        evidence={"device": device.code, "alarm": alarm.pk, "reading": occurrence},
                        actor=actors.BRAIN,
                    )
                alarm.status = rules.next_status(alarm.status, "alarm")
                alarm.normal_since, alarm.closed_at = None, None
                alarm.reopened += 1
                audit.record(actors.BRAIN, "alarm.reopen", alarm, before=before, after=alarm.status)
            alarm.save()
        touched[alarm.pk] = alarm
    return list(touched.values())


def _request(alarm: Alarm):
    if alarm.request_id is None:
        return None
    from cityloop.hotline import queries as hotline_queries

    return hotline_queries.case(alarm.request_id)


def verify(latest_ts, active) -> dict:
    """One pass over the open and waiting alarms.

    ``latest_ts(idx)`` is the newest accepted reading time of a device (epoch s or None);
    ``active(idx, type)`` whether the detector still sees the condition.  Returns what changed.
    """
    from cityloop.hotline import actions as hotline
    from cityloop.hotline import queries as hotline_queries

    hours = verify_hours()
    changed = {"awaiting": 0, "closed": 0}
    alarms = Alarm.objects.filter(
        status__in=[AlarmStatus.OPEN, AlarmStatus.AWAITING], request_id__isnull=False
    ).select_related("device")
    for alarm in alarms:
        idx = alarm.device.idx
        with transaction.atomic():
            status = hotline_queries.case_status(alarm.request_id)
            newest = latest_ts(idx)
            still = active(idx, alarm.type)
            if alarm.status == AlarmStatus.OPEN:
                if status != "awaiting_verification":
                    continue
                alarm.status = rules.next_status(alarm.status, "fixed")
                # Watching starts with the readings at the reply, if the condition has already ended.
                alarm.normal_since = _dt(newest) if newest is not None and not still else None
                alarm.save(update_fields=["status", "normal_since", "updated_at"])
                audit.record(actors.BRAIN, "alarm.await", alarm, case=alarm.tracking_no)
                changed["awaiting"] += 1
                continue
            if status == "closed":
                # Closed by a person in the hotline: the brain follows.
                alarm.status, alarm.closed_at = AlarmStatus.CLOSED, timezone.now()
                alarm.save(update_fields=["status", "closed_at", "updated_at"])
                changed["closed"] += 1
                continue
            if still or newest is None:
                if alarm.normal_since is not None:
                    alarm.normal_since = None
                    alarm.save(update_fields=["normal_since", "updated_at"])
                continue
            if alarm.normal_since is None:
                alarm.normal_since = _dt(newest)
                alarm.save(update_fields=["normal_since", "updated_at"])
                continue
            if not rules.verified(alarm.normal_since, _dt(newest), hours):
                continue
            request = _request(alarm)
            evidence = {
                "device": alarm.device.code,
                "normal_since": alarm.normal_since.isoformat(),
                "latest_reading": _dt(newest).isoformat(),
                "verify_hours": hours,
            }
            if request is not None and request.status == "awaiting_verification":
                hotline.confirm_fixed(request, evidence=evidence, actor=actors.BRAIN)
            alarm.status, alarm.closed_at = rules.next_status(alarm.status, "verified"), timezone.now()
            alarm.save(update_fields=["status", "closed_at", "updated_at"])
            audit.record(actors.BRAIN, "alarm.verify", alarm, case=alarm.tracking_no, **evidence)
            changed["closed"] += 1
    return changed
