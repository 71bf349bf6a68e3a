"""One ongoing problem of one device is one hotline case.

A single sensor spike raises two alarms (SPIKE and ANOMALY) from the same reading; each alarm row used
to open its own case, so one spike opened two requests. Now a further alarm of another type on a device
whose case is still open joins that case (its evidence goes on the case's timeline), and the case closes
only when every alarm attached to it has been normal for the verification window.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from cityloop.brain import actions
from cityloop.brain.actions.alarms import record_alarms, verify
from cityloop.brain.ingest.codec import Batch
from cityloop.brain.models import Alarm, AlarmStatus
from cityloop.brain.rules import AlarmEvent

pytestmark = pytest.mark.django_db
HOUR = 3600


def _cases(code="N1"):
    from cityloop.hotline.models import Request

    return list(Request.objects.filter(channel="brain", source_ref__startswith=f"brain:{code}:"))


def _case(alarm):
    from cityloop.hotline.models import Request

    return Request.objects.get(pk=alarm.request_id)


def _actions(name):
    from cityloop.core.models import AuditRecord

    return list(AuditRecord.objects.filter(action=name).values_list("object_id", flat=True))


@pytest.fixture
def citymgmt_wu(city):
    """Staff of CITYMGMT, which owns the noise sensor N1."""
    from cityloop.core.actions import add_user
    from cityloop.core.actors import SYSTEM
    from cityloop.org.models import Department

    return add_user(
        username="dept_citymgmt_wu",
        password="x" * 16,
        role="department",
        full_name="吴城管",
        actor=SYSTEM,
        check_password=False,
        department=Department.objects.get(city=city, code="CITYMGMT"),
    )


def _reply_fixed(request, staff):
    from cityloop.hotline import actions as hotline

    order = request.orders.filter(department=staff.department).order_by("-id").first()
    if order.status == "pending":
        hotline.sign_order(order, actor=staff)
    hotline.reply_order(order, outcome="fixed", text="噪声源已处理", actor=staff)


def _event(device, type_, ts, score=5.0):
    return AlarmEvent(
        device_idx=device.idx,
        type=type_,
        ts=float(ts),
        value=120.0,
        score=score,
        evidence={"device": device.code},
        received_at=time.time(),
    )


class Readings:
    """What ``verify`` asks of the engine, set by the test: the newest reading and the active alarms."""

    def __init__(self, newest):
        self.newest, self.on = newest, set()

    def latest(self, idx):
        return self.newest

    def active(self, idx, alarm_type):
        return alarm_type in self.on

    def verify(self, newest=None, on=()):
        if newest is not None:
            self.newest = newest
        self.on = set(on)
        return verify(self.latest, self.active)


def test_one_sensor_spike_opens_one_case_and_the_next_alarm_of_the_device_joins_it(devices):
    now = time.time()
    n = 400
    rng = np.random.default_rng(8)
    values = 55 + rng.normal(0, 1.0, n)
    values[300] = 120  # one spike: one alarm (the city's sensors score no "new range", decision in Params)
    ts = (now - (n + 5) * 60 + 60 * np.arange(1, n + 1)).astype(np.int64)
    report = actions.upload_readings(
        Batch(np.array(["N1"] * n, dtype=object), ts, values), source="simulator"
    )
    assert report.alarms == 1
    # then the sensor falls silent: a second alarm of another type, for the same device
    assert actions.run_maintenance(now=now + 3600)["silent"] == 1

    alarms = {a.type: a for a in Alarm.objects.filter(device__code="N1")}
    assert set(alarms) == {"spike", "silent"}
    cases = _cases()
    assert len(cases) == 1, "one device, one open request"
    (case,) = cases
    assert {a.request_id for a in alarms.values()} == {case.pk}
    assert {a.tracking_no for a in alarms.values()} == {case.tracking_no}
    assert case.orders.count() == 1
    joined = case.events.get(kind="evidence")
    second = alarms["silent"]
    assert (joined.data["alarm"], joined.data["type"], joined.public) == (second.pk, second.type, False)
    assert _actions("alarm.open") == [str(alarms["spike"].pk)]
    assert _actions("alarm.join") == [str(second.pk)]
    assert _actions("request.add_evidence") == [str(case.pk)]


def test_two_events_of_one_device_and_type_in_one_batch_open_one_case(devices):
    n1, w1 = devices["N1"], devices["W1"]
    t = time.time() - 2 * HOUR
    touched = record_alarms(
        [_event(n1, "spike", t), _event(n1, "spike", t + 60), _event(w1, "spike", t + 30)]
    )

    assert len(touched) == 2
    alarm = Alarm.objects.get(device=n1)
    assert (alarm.type, alarm.occurrences, len(alarm.evidence)) == ("spike", 2, 2)
    assert len(_cases("N1")) == 1 and len(_cases("W1")) == 1
    assert not _actions("alarm.join")


def test_the_case_closes_only_when_every_attached_alarm_is_normal_and_reopens_when_one_returns(
    devices, citymgmt_wu, settings
):
    settings.CITYLOOP_BRAIN_VERIFY_HOURS = 24
    n1 = devices["N1"]
    t = time.time() - 10 * 24 * HOUR
    record_alarms([_event(n1, "spike", t), _event(n1, "anomaly", t)])
    (case,) = _cases()
    spike, anomaly = Alarm.objects.get(type="spike"), Alarm.objects.get(type="anomaly")

    _reply_fixed(case, citymgmt_wu)
    readings = Readings(t + HOUR)
    assert readings.verify(on={"anomaly"}) == {"awaiting": 2, "closed": 0}
    readings.verify(t + 2 * HOUR, on={"anomaly"})
    # The spike has been over for more than a day; the anomaly has not: the case waits.
    readings.verify(t + 30 * HOUR, on={"anomaly"})
    spike.refresh_from_db()
    anomaly.refresh_from_db()
    assert (spike.status, anomaly.status) == (AlarmStatus.AWAITING, AlarmStatus.AWAITING)
    assert anomaly.normal_since is None
    assert _case(spike).status == "awaiting_verification"

    readings.verify(t + 31 * HOUR)  # the anomaly ends: its day starts now
    readings.verify(t + 54 * HOUR)
    assert _case(spike).status == "awaiting_verification", "the anomaly has been normal for 23 hours"
    assert readings.verify(t + 55 * HOUR) == {"awaiting": 0, "closed": 2}
    spike.refresh_from_db()
    anomaly.refresh_from_db()
    assert (spike.status, anomaly.status) == (AlarmStatus.CLOSED, AlarmStatus.CLOSED)
    case = _case(spike)
    assert case.status == "closed" and case.events.filter(kind="verified").count() == 1
    assert sorted(_actions("alarm.verify")) == sorted([str(spike.pk), str(anomaly.pk)])

    # The anomaly comes back: the same case reopens; then the spike comes back too and joins it again.
    record_alarms([_event(n1, "anomaly", t + 60 * HOUR)])
    case = _case(anomaly)
    assert case.status not in ("closed", "awaiting_verification") and case.reopen_count == 1
    record_alarms([_event(n1, "spike", t + 61 * HOUR)])
    spike.refresh_from_db()
    anomaly.refresh_from_db()
    assert (spike.status, anomaly.status) == (AlarmStatus.OPEN, AlarmStatus.OPEN)
    assert (spike.reopened, anomaly.reopened) == (1, 1)
    assert len(_cases()) == 1 and _case(spike).reopen_count == 1
    assert Alarm.objects.filter(device=n1).count() == 2

    # Fixed again: both must be normal for a day once more before it closes.
    _reply_fixed(_case(spike), citymgmt_wu)
    readings.verify(t + 62 * HOUR, on={"spike"})
    readings.verify(t + 87 * HOUR)
    assert _case(spike).status == "awaiting_verification", (
        "the spike was still on at 62 h: its day starts at 87 h"
    )
    readings.verify(t + 111 * HOUR)
    assert _case(spike).status == "closed"


def test_another_alarm_while_the_case_waits_for_verification_reopens_that_case(
    devices, citymgmt_wu, settings
):
    settings.CITYLOOP_BRAIN_VERIFY_HOURS = 24
    n1 = devices["N1"]
    t = time.time() - 10 * 24 * HOUR
    record_alarms([_event(n1, "spike", t)])
    (case,) = _cases()
    _reply_fixed(case, citymgmt_wu)
    readings = Readings(t + HOUR)
    readings.verify()
    assert _case(Alarm.objects.get(type="spike")).status == "awaiting_verification"

    record_alarms([_event(n1, "stuck", t + 2 * HOUR)])
    assert len(_cases()) == 1
    stuck = Alarm.objects.get(type="stuck")
    case = _case(stuck)
    assert stuck.request_id == case.pk and stuck.status == AlarmStatus.OPEN
    assert case.status not in ("closed", "awaiting_verification") and case.reopen_count == 1
    assert _actions("alarm.join") == [str(stuck.pk)]

    # The spike stayed normal all along; the case closes once the stuck sensor has been normal for a day.
    _reply_fixed(case, citymgmt_wu)
    readings.verify(t + 3 * HOUR)
    readings.verify(t + 26 * HOUR)
    assert _case(stuck).status == "awaiting_verification"
    readings.verify(t + 27 * HOUR)
    assert _case(stuck).status == "closed"
    assert set(Alarm.objects.filter(device=n1).values_list("status", flat=True)) == {AlarmStatus.CLOSED}


def test_after_the_case_is_closed_a_new_kind_of_problem_opens_a_new_case(devices, citymgmt_wu, settings):
    settings.CITYLOOP_BRAIN_VERIFY_HOURS = 24
    n1 = devices["N1"]
    t = time.time() - 10 * 24 * HOUR
    record_alarms([_event(n1, "spike", t)])
    (first,) = _cases()
    _reply_fixed(first, citymgmt_wu)
    readings = Readings(t + HOUR)
    readings.verify()
    readings.verify(t + 2 * HOUR)
    readings.verify(t + 26 * HOUR)
    first.refresh_from_db()
    assert first.status == "closed"

    from django.core.exceptions import ValidationError

    from cityloop.core.actors import BRAIN
    from cityloop.hotline import actions as hotline

    with pytest.raises(ValidationError) as refused:
        hotline.add_case_evidence(first, text="stuck", evidence={}, actor=BRAIN)
    assert "status" in refused.value.message_dict

    record_alarms([_event(n1, "stuck", t + 30 * HOUR)])
    cases = _cases()
    assert len(cases) == 2
    first.refresh_from_db()
    assert first.status == "closed" and first.reopen_count == 0
    assert not _actions("alarm.join")
