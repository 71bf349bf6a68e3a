"""Each alarm says in plain words, in Chinese and English, why it fired, with a small chart of the
readings around it: on the device page, on the pulse page (words only) and on the hotline case.

The evidence in these tests is built by the detectors' own ``Alarms.evidence`` (as the ingest pipeline
does), so an explanation that reads a field the detectors do not store fails here."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import numpy as np
import pytest
from django.utils import translation

from cityloop.brain import explain, svg
from cityloop.brain.detect.detectors import Alarms, AlarmType
from cityloop.brain.models import Alarm, Device

pytestmark = pytest.mark.django_db
T0 = 1_780_000_000  # a fixed reading time: nothing here depends on today's date


def _evidence(atype: AlarmType, value: float, score: float, ev: list[float], ts: int = T0) -> dict:
    """One occurrence as ``actions.alarms.record_alarms`` stores it."""
    alarms = Alarms(
        np.array([0], np.int64),
        np.array([int(atype)], np.int8),
        np.array([ts], np.int64),
        np.array([value]),
        np.array([score], np.float32),
        np.array([ev + [np.nan] * (5 - len(ev))], np.float64),
    )
    evidence = alarms.evidence(0)
    evidence["device"] = "X1"
    iso = datetime.fromtimestamp(ts, tz=UTC).isoformat()
    return {"ts": iso, "value": value, "score": score, **evidence}


def _alarm(type_: str, occurrence: dict, *, kind="water", dtype="meter", interval=900) -> Alarm:
    device = Device(code="X1", idx=0, type=dtype, kind=kind, lon=0, lat=0, interval_s=interval)
    when = datetime.fromtimestamp(T0, tz=UTC)
    return Alarm(device=device, type=type_, first_ts=when, last_ts=when, evidence=[occurrence])


def _both(alarm: Alarm) -> tuple[str, str]:
    with translation.override("zh-hans"):
        zh = explain.why(alarm)
    with translation.override("en"):
        en = explain.why(alarm)
    return zh, en


def test_a_leak_names_the_night_minimum_flows_the_nights_and_the_threshold():
    ev = _evidence(AlarmType.LEAK, 0.031, 20.7, [0.031, 0.029, 0.03, 0.0004, 0.0015])
    zh, en = _both(_alarm("leak", ev))
    assert "3 nights in a row" in en and "0.0015 m³/h" in en and "last night 0.031 m³/h" in en
    assert "0.031, 0.029, 0.03, 0.0004" in en
    assert "连续 3 个夜间" in zh and "0.0015 m³/h" in zh and "漏水" in zh


def test_a_stuck_meter_says_how_long_and_what_its_usual_rate_expected():
    ev = _evidence(AlarmType.STUCK, 512.0, 50.0, [512.0, T0 - 50 * 3600, 50.0, 0.02])
    zh, en = _both(_alarm("stuck", ev))
    assert "512 m³ without change for 50 hours" in en
    assert "0.02 m³/h" in en and "about 1 m³ should have been counted" in en
    assert "停在 512 m³ 已 50 小时未变" in zh and "约 1 m³" in zh


def test_a_stuck_sensor_and_a_meter_with_no_use_are_told_apart():
    stuck = _evidence(AlarmType.STUCK, 55.0, 6.0, [55.0, T0 - 6 * 3600, 6.0, 55.0])
    zh, en = _both(_alarm("stuck", stuck, kind="noise", dtype="sensor", interval=60))
    assert en.startswith("Stuck sensor") and "55 dB for 6 hours" in en
    assert zh.startswith("传感器卡滞")
    zero = _evidence(AlarmType.ZERO, 80.0, 168.0, [80.0, T0 - 168 * 3600, 168.0, 0.0])
    zh, en = _both(_alarm("zero", zero))
    assert "stayed at 80 m³ for 168 hours (7 days" in en
    assert "长期零用量" in zh and "7 天" in zh


def test_a_spike_counts_robust_scales_from_its_baseline():
    # water meters fire beyond 25 scales: median 0.02 m³/h, threshold 0.02 + 25 × 0.05 = 1.27
    ev = _evidence(AlarmType.SPIKE, 2.52, 2.0, [0.02, 0.01, 1.27])
    zh, en = _both(_alarm("spike", ev))
    assert "use per hour of 2.52 m³/h is 50 robust scales" in en
    assert "usual level of 0.02 m³/h" in en and "beyond 25 scales, here 1.27 m³/h" in en
    assert "每小时用量 2.52 m³/h 偏离其常态水平 0.02 m³/h 达 50 个稳健尺度" in zh


def test_a_spike_is_explained_with_the_k_it_fired_at_after_a_re_tune(monkeypatch):
    from cityloop.brain import tuning
    from cityloop.brain.detect.detectors import Kind, Params

    ev = _evidence(AlarmType.SPIKE, 2.52, 2.0, [0.02, 0.01, 1.27, 25.0, 0.05])
    assert ev["k"] == 25.0 and ev["scale"] == 0.05
    retuned = tuning.params({"water": {"spike_k": 40}})
    assert retuned.spike_k[Kind.WATER] == 40 != Params().spike_k[Kind.WATER]
    monkeypatch.setattr(tuning, "city_params", lambda: retuned)
    zh, en = _both(_alarm("spike", ev))
    assert "is 50 robust scales" in en and "beyond 25 scales, here 1.27 m³/h" in en
    # an alarm stored before the evidence carried k is explained with today's k
    old = {key: value for key, value in ev.items() if key not in ("k", "scale")}
    zh, en = _both(_alarm("spike", old))
    assert "beyond 40 scales, here 1.27 m³/h" in en


def test_a_silent_device_says_how_long_and_how_many_intervals():
    ev = _evidence(AlarmType.SILENT, 3 * 3600, 12.0, [T0 - 3 * 3600, 900, 12])
    zh, en = _both(_alarm("silent", ev))
    assert "no reading for 3 hours" in en and "12 times its expected interval of 900 seconds" in en
    assert "已 3 小时没有读数" in zh and "900 秒的 12 倍" in zh


def test_an_anomaly_gives_the_streaming_score_against_its_threshold():
    ev = _evidence(AlarmType.ANOMALY, 120.0, 0.97, [])
    zh, en = _both(_alarm("anomaly", ev, kind="noise", dtype="sensor", interval=60))
    assert "reading 120 dB at 0.97, at or above its alarm threshold of 0.90" in en
    assert "异常分为 0.97" in zh and "阈值 0.90" in zh


def test_the_chart_places_readings_by_time_and_marks_the_alarm():
    ev = _evidence(AlarmType.SPIKE, 2.52, 2.0, [0.02, 0.01, 1.27])
    alarm = _alarm("spike", ev)
    ts = [T0 - 7200, T0 - 3600, T0, T0 + 3600, T0 + 30 * 86400]  # the last is outside the window
    with translation.override("en"):
        drawn = explain.chart(alarm, (ts, [1.0, 1.1, 5.0, 1.2, 9.9], [0] * 5))
    assert drawn.count("<polyline") == 1 and "9.9" not in drawn
    points = re.search(r'points="([^"]*)"', drawn).group(1).split()
    assert len(points) == 4
    mark = float(re.search(r'class="alarm-mark" x1="([\d.]+)"', drawn).group(1))
    assert float(points[2].split(",")[0]) == pytest.approx(mark, abs=0.2)
    with translation.override("zh-hans"):
        empty = explain.chart(alarm, ([], [], []))
    assert "报警前后没有已归档的读数" in empty and "<polyline" not in empty


def test_chart_text_is_escaped():
    drawn = svg.marked(
        [1.0], [1.0], start=0, end=2, mark=1, label=lambda t: "<b>", title="<x>", mark_label="&", empty=""
    )
    assert "<b>" not in drawn and "<x>" not in drawn and "&amp;" in drawn


def _spike(devices):
    """A real sensor spike through the ingest path: a SPIKE alarm (the city's sensors score no "new range",
    so no ANOMALY beside it), one case, archived readings."""
    from cityloop.brain import actions
    from cityloop.brain.ingest.codec import Batch

    now = time.time()
    n = 400
    values = 55 + np.random.default_rng(8).normal(0, 1.0, n)
    values[300] = 120
    ts = (now - (n + 5) * 60 + 60 * np.arange(1, n + 1)).astype(np.int64)
    actions.upload_readings(Batch(np.array(["N1"] * n, dtype=object), ts, values), source="simulator")
    return {a.type: a for a in Alarm.objects.filter(device__code="N1")}


def test_the_device_pulse_and_case_pages_say_why_in_both_languages(client, devices, dispatcher_li):
    alarms = _spike(devices)
    assert set(alarms) == {"spike"}
    evidence = alarms["spike"].evidence[0]
    assert evidence["k"] == 12.0 and evidence["threshold"] == pytest.approx(
        evidence["baseline_median"] + evidence["k"] * evidence["scale"]
    )
    case = alarms["spike"].request_id
    client.force_login(dispatcher_li)

    page = client.get("/brain/devices/N1/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "突变：读数 120 dB" in page
    assert page.count('class="alarm-mark"') == 1
    page = client.get("/brain/devices/N1/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Spike: the reading of 120 dB" in page

    pulse = client.get("/brain/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "突变：读数 120 dB" in pulse and "alarm-mark" not in pulse  # words only on the pulse

    detail = client.get(f"/hotline/requests/{case}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "城市大脑为何立案" in detail and "突变：读数 120 dB" in detail
    assert detail.count('class="alarm-mark"') == 1
    detail = client.get(f"/hotline/requests/{case}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Why the city brain opened this case" in detail and "Spike: the reading of 120 dB" in detail


def test_a_citizen_case_page_shows_no_brain_section(client, citizen_wang, devices):
    from cityloop.brain.queries import case_alarms

    alarms = _spike(devices)
    assert case_alarms(alarms["spike"].request_id, citizen_wang) == []
