"""A drift alarm says in plain words, in Chinese and English, why it fired; its setting is tuned per
sensor kind in the pack like the other detectors'."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from django.utils import translation

from cityloop.brain import explain, tuning
from cityloop.brain.detect.detectors import Alarms, AlarmType, Kind
from cityloop.brain.models import Alarm, Device

pytestmark = pytest.mark.django_db
T0 = 1_780_000_000


def _drift_alarm() -> Alarm:
    # as DetectorBank raises it: usual level, level now, scales away, k, noise scale
    alarms = Alarms(
        np.array([0], np.int64),
        np.array([int(AlarmType.ANOMALY)], np.int8),
        np.array([T0], np.int64),
        np.array([1.31]),
        np.array([1.1], np.float32),
        np.array([[1.2, 1.285, 1.7, 1.5, 0.05]]),
    )
    ev = alarms.evidence(0)
    device = Device(code="W1", idx=0, type="sensor", kind="water_level", lon=0, lat=0, interval_s=60)
    when = datetime.fromtimestamp(T0, tz=UTC)
    return Alarm(device=device, type="anomaly", first_ts=when, last_ts=when, evidence=[ev])


def test_a_drift_is_explained_with_its_level_usual_level_and_scales_in_both_languages():
    alarm = _drift_alarm()
    with translation.override("en"):
        en = explain.why(alarm)
    with translation.override("zh-hans"):
        zh = explain.why(alarm)
    assert en.startswith("Drift:") and "1.285" in en and "1.2 " in en and "1.7 noise scales" in en
    assert "1.5 scales" in en and "0.05" in en
    assert zh.startswith("漂移：") and "1.285" in zh and "1.7" in zh and "1.5" in zh
    assert zh != en


def test_drift_k_is_tunable_per_sensor_kind_off_or_a_positive_number_and_not_on_meters():
    ok, problems = tuning.check({"air": {"drift_k": 3}, "noise": {"drift_k": "off"}})
    assert problems == []
    p = tuning.params(ok)
    assert p.drift_k[Kind.AIR] == 3.0 and p.drift_k[Kind.NOISE] == float("inf")
    assert p.drift_k[Kind.MANHOLE] == 1.5
    _, problems = tuning.check({"water": {"drift_k": 2}, "air": {"drift_k": 0}, "noise": {"drift_k": "x"}})
    assert dict(problems) == {
        "water.drift_k": "drift is watched on sensors only",
        "air.drift_k": "must be above 0, not 0",
        "noise.drift_k": "must be a number (a number > 0, or off), not 'x'",
    }
