"""The closed loop: alarms open hotline cases, and cases close only when the readings say so.

The brain never writes hotline rows: it calls ``hotline.actions.open_case / add_case_evidence /
confirm_fixed / reopen_case`` and reads ``hotline.queries.case_status``.  Its own table ``brain_alarm``
holds one row per alarm type of an ongoing problem (device + alarm type) with the case's request id.
One ongoing problem of one device is one case: while the device has a case open, an alarm of another
type (one spike reading raises both SPIKE and ANOMALY) joins that case instead of opening a second.

Verification runs in reading time: when the department has replied "fixed" (the case is
``awaiting_verification``) the case's alarms start watching; each is verified once the device's
readings have stayed normal (no alarm of its type) for ``CITYLOOP_BRAIN_VERIFY_HOURS`` of readings,
and the case closes when all of them are.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from cityloop.brain import rules
from cityloop.brain.actions.operators import is_muted
from cityloop.brain.models import Alarm, AlarmStatus, Device
from cityloop.brain.rules import AlarmEvent
from cityloop.core import actors, audit
from cityloop.org import queries as org_queries

EVIDENCE_CAP = 50
CASE_OVER = ("closed", "merged")  # a case in these states is no longer the device's open case


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
    the checkpoint's transaction, so a crash never leaves a case without its alarm (or twice).

    One ongoing problem of one device is one case: the alarm goes, in this order, to the open row of
    its device and type; else to the case the device already has open (another alarm type joins it,
    e.g. the SPIKE and the ANOMALY one reading raises); else to its type's row closed within the reopen
    window (its case reopens); else it opens a new case."""
    if not events:
        return []
    # The device rows are the lock: two writers (the worker, an HTTP upload) never both open a case
    # for one device.  Locked in key order, so two batches never wait on each other.
    devices = {
        d.idx: d
        for d in Device.objects.select_for_update(of=("self",))
        .select_related("department", "street")
        .filter(idx__in={e.device_idx for e in events})
        .order_by("pk")
    }
    touched: dict[int, Alarm] = {}
    cutoff = timezone.now() - timedelta(days=reopen_days())
    for e in sorted(events, key=lambda e: e.ts):
        device = devices.get(e.device_idx)
        if device is None:
            continue
        ts = _dt(e.ts)
        occurrence = {"ts": ts.isoformat(), "value": e.value, "score": e.score, **e.evidence}
        muted = is_muted(device)
        alarm = (
            Alarm.objects.select_for_update()
            .filter(device=device, type=e.type)
            .exclude(status=AlarmStatus.CLOSED)
            .order_by("-pk")
            .first()
        )
        if alarm is None and muted:
            alarm = _muted(device, e, ts, occurrence)
            touched[alarm.pk] = alarm
            continue
        if alarm is None:
            held = _device_case(device, cutoff)
            recent = (
                Alarm.objects.select_for_update()
                .filter(device=device, type=e.type, status=AlarmStatus.CLOSED, closed_at__gte=cutoff)
                .order_by("-pk")
                .first()
            )
            if recent is not None and (held is None or recent.request_id == held.request_id):
                alarm = recent
            else:
                alarm = (
                    _join_case(held, device, e, ts, occurrence)
                    if held is not None
                    else _new_case(device, e, ts, occurrence)
                )
                touched[alarm.pk] = alarm
                continue
        alarm.occurrences += 1
        alarm.last_ts = max(alarm.last_ts, ts)
        alarm.score = max(alarm.score, e.score)
        alarm.evidence = [*alarm.evidence, occurrence][-EVIDENCE_CAP:]
        if alarm.status in (AlarmStatus.AWAITING, AlarmStatus.CLOSED):
            _back(alarm, device, occurrence)
        elif alarm.request_id is None and not muted:
            _after_mute(alarm, device, cutoff)
        alarm.save()
        touched[alarm.pk] = alarm
    return list(touched.values())


def _device_case(device: Device, cutoff: datetime) -> Alarm | None:
    """The newest alarm of ``device`` attached to a case that is open (not closed or merged): an alarm
    not closed, or one closed within the reopen window whose case a person has reopened since."""
    from cityloop.hotline import queries as hotline_queries

    attached = (
        Alarm.objects.filter(device=device, request_id__isnull=False)
        .filter(~Q(status=AlarmStatus.CLOSED) | Q(closed_at__gte=cutoff))
        .order_by("-pk")
    )
    seen: set[int] = set()
    for alarm in attached:
        if alarm.request_id in seen:
            continue
        seen.add(alarm.request_id)
        request = hotline_queries.case(alarm.request_id)
        if request is not None and request.status not in CASE_OVER:
            return alarm
    return None


def _create(device: Device, e: AlarmEvent, ts: datetime, occurrence: dict, **fields) -> Alarm:
    """A new alarm row for the event's first occurrence (``fields``: its case, or its mute)."""
    return Alarm.objects.create(
        device=device, type=e.type, first_ts=ts, last_ts=ts, score=e.score, evidence=[occurrence], **fields
    )


def _case_of(held: Alarm) -> dict:
    """The case fields an alarm takes over when it joins the case ``held`` belongs to."""
    return {
        "request_id": held.request_id,
        "tracking_no": held.tracking_no,
        "case_opened_at": held.case_opened_at,
    }


def _new_case(device: Device, e: AlarmEvent, ts: datetime, occurrence: dict) -> Alarm:
    alarm = _create(device, e, ts, occurrence)
    _open_case(alarm, device)
    alarm.latency_s = max(0.0, time.time() - e.received_at)
    alarm.save()
    audit.record(actors.BRAIN, "alarm.open", alarm, device=device.code, type=e.type, case=alarm.tracking_no)
    return alarm


def _muted(device: Device, e: AlarmEvent, ts: datetime, occurrence: dict) -> Alarm:
    """The device is muted (a person said why, see actions/operators.py): the alarm is recorded and
    shown, but opens no case and joins none."""
    alarm = _create(device, e, ts, occurrence, muted_until=device.muted_until)
    audit.record(
        actors.BRAIN,
        "alarm.muted",
        alarm,
        device=device.code,
        type=e.type,
        muted_until=device.muted_until.isoformat() if device.muted_until else None,
        reason=device.mute_reason,
    )
    return alarm


def _after_mute(alarm: Alarm, device: Device, cutoff: datetime) -> None:
    """An alarm that began while its device was muted goes on after the mute: now it gets its case
    (the device's open one, or a new one)."""
    held = _device_case(device, cutoff)
    if held is not None:
        for name, value in _case_of(held).items():
            setattr(alarm, name, value)
        _add_evidence(alarm, device, reopen_reason="the readings show another problem of the device")
    else:
        _open_case(alarm, device)
    audit.record(
        actors.BRAIN, "alarm.open", alarm, device=device.code, type=alarm.type, case=alarm.tracking_no
    )


def _join_case(held: Alarm, device: Device, e: AlarmEvent, ts: datetime, occurrence: dict) -> Alarm:
    """Another alarm type on a device whose case is open: the alarm joins that case (its evidence on
    the case's timeline); a case waiting for verification reopens, since the readings are not normal."""
    alarm = _create(device, e, ts, occurrence, **_case_of(held))
    _add_evidence(alarm, device, reopen_reason="the readings show another problem of the device")
    alarm.latency_s = max(0.0, time.time() - e.received_at)
    alarm.save()
    audit.record(
        actors.BRAIN,
        "alarm.join",
        alarm,
        device=device.code,
        type=e.type,
        case=alarm.tracking_no,
        joins=held.pk,
    )
    return alarm


def _back(alarm: Alarm, device: Device, occurrence: dict) -> None:
    """The alarm's condition returned after the department replied fixed (or after it closed)."""
    from cityloop.hotline import actions as hotline

    before = alarm.status
    request = _request(alarm)
    if request is not None and request.status in ("awaiting_verification", "closed"):
        hotline.reopen_case(
            request,
            reason="the readings show the problem again",
            evidence={"device": device.code, "alarm": alarm.pk, "reading": occurrence},
            actor=actors.BRAIN,
        )
    elif request is not None and request.status not in CASE_OVER:
        # The case is open again already (another alarm of the device brought it back): say so on it.
        _add_evidence(alarm, device)
    alarm.status = rules.next_status(alarm.status, "alarm")
    alarm.normal_since, alarm.closed_at = None, None
    alarm.reopened += 1
    audit.record(actors.BRAIN, "alarm.reopen", alarm, before=before, after=alarm.status)


def _add_evidence(alarm: Alarm, device: Device, *, reopen_reason: str = "") -> None:
    """Put ``alarm`` on its (open) case's timeline; reopen the case if it waits for verification."""
    from cityloop.hotline import actions as hotline

    request = _request(alarm)
    if request is None:
        return
    _title, description = _case_text(device, alarm)
    evidence = {
        "device": device.code,
        "alarm": alarm.pk,
        "type": alarm.type,
        "readings": alarm.evidence[-1:],
    }
    hotline.add_case_evidence(request, text=description, evidence=evidence, actor=actors.BRAIN)
    if reopen_reason and request.status == "awaiting_verification":
        hotline.reopen_case(request, reason=reopen_reason, evidence=evidence, actor=actors.BRAIN)


def _request(alarm: Alarm):
    if alarm.request_id is None:
        return None
    from cityloop.hotline import queries as hotline_queries

    return hotline_queries.case(alarm.request_id)


def verify(latest_ts, active) -> dict:
    """One pass over the open and waiting alarms, case by case.

    ``latest_ts(idx)`` is the newest accepted reading time of a device (epoch s or None);
    ``active(idx, type)`` whether the detector still sees the condition.  Returns what changed.
    A case closes only when every alarm attached to it has been normal for the verification window.
    """
    cases = (
        Alarm.objects.filter(status__in=[AlarmStatus.OPEN, AlarmStatus.AWAITING], request_id__isnull=False)
        .order_by("request_id")
        .values_list("request_id", flat=True)
        .distinct()
    )
    hours = verify_hours()
    changed = {"awaiting": 0, "closed": 0}
    for request_id in list(cases):
        with transaction.atomic():
            for key, n in _verify_case(request_id, latest_ts, active, hours).items():
                changed[key] += n
    return changed


def _verify_case(request_id: int, latest_ts, active, hours: float) -> dict:
    from cityloop.hotline import actions as hotline
    from cityloop.hotline import queries as hotline_queries

    changed = {"awaiting": 0, "closed": 0}
    # The device rows first, as record_alarms takes them: the two never wait on each other.
    list(
        Device.objects.select_for_update()
        .filter(pk__in=Alarm.objects.filter(request_id=request_id).values("device_id"))
        .order_by("pk")
    )
    alarms = list(
        Alarm.objects.select_for_update(of=("self",))
        .select_related("device")
        .filter(request_id=request_id, status__in=[AlarmStatus.OPEN, AlarmStatus.AWAITING])
        .order_by("pk")
    )
    if not alarms:
        return changed
    status = hotline_queries.case_status(request_id)
    normal: dict[int, datetime] = {}  # alarm pk -> the newest reading, for those verified
    started = False
    for alarm in alarms:
        newest = latest_ts(alarm.device.idx)
        still = active(alarm.device.idx, alarm.type)
        if alarm.status == AlarmStatus.OPEN:
            if status != "awaiting_verification":
                continue
            alarm.status = rules.next_status(alarm.status, "fixed")
            # Watching starts with the readings at the reply, if the condition has already ended.
            alarm.normal_since = _dt(newest) if newest is not None and not still else None
            alarm.save(update_fields=["status", "normal_since", "updated_at"])
            audit.record(actors.BRAIN, "alarm.await", alarm, case=alarm.tracking_no)
            changed["awaiting"] += 1
            started = True
            continue
        if status in CASE_OVER:
            # Closed (or merged) by a person in the hotline: the brain follows.
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
        if rules.verified(alarm.normal_since, _dt(newest), hours):
            normal[alarm.pk] = _dt(newest)
    # The case closes when it waits for verification and every alarm attached to it is verified;
    # an alarm that started waiting in this pass is watched from the next one.
    if status != "awaiting_verification" or started or len(normal) < len(alarms):
        return changed
    request = hotline_queries.case(request_id)
    device = alarms[0].device
    latest = max(normal.values())
    evidence = {
        "device": device.code,
        # the whole device has been normal since the last of its alarms ended
        "normal_since": max(a.normal_since for a in alarms if a.normal_since is not None).isoformat(),
        "latest_reading": latest.isoformat(),
        "verify_hours": hours,
        "alarms": {str(a.pk): a.type for a in alarms},
    }
    if request is not None and request.status == "awaiting_verification":
        hotline.confirm_fixed(request, evidence=evidence, actor=actors.BRAIN)
    for alarm in alarms:
        alarm.status, alarm.closed_at = rules.next_status(alarm.status, "verified"), timezone.now()
        alarm.save(update_fields=["status", "closed_at", "updated_at"])
        audit.record(
            actors.BRAIN,
            "alarm.verify",
            alarm,
            case=alarm.tracking_no,
            device=alarm.device.code,
            normal_since=alarm.normal_since.isoformat() if alarm.normal_since else None,
            latest_reading=normal[alarm.pk].isoformat(),
            verify_hours=hours,
        )
        changed["closed"] += 1
    return changed
