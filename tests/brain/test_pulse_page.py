"""The city pulse: one kind per heat map (units never added up), lines inside their plot with a y axis,
and refused readings explained in words."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from cityloop.brain import svg
from tests.conftest import PINNED_NOW

PINNED_HOUR = PINNED_NOW.replace(minute=0, second=0, microsecond=0)
pytestmark = pytest.mark.django_db


def test_a_device_s_lines_stay_inside_the_plot_with_its_unit_on_the_y_axis():
    drawn = svg.lines(
        {"水": [1.0, 4.0, float("nan"), 3.0]}, ["00", "01", "02", "03"], title="t", y_label="m³"
    )
    top, bottom = 26, 220 - 26
    ys = [float(y) for y in re.findall(r",([\d.]+)", re.search(r'points="([^"]*)"', drawn).group(1))]
    assert len(ys) == 3 and all(top <= y <= bottom for y in ys) and min(ys) == top and max(ys) == bottom
    assert 'class="y-label">m³<' in drawn and ">1<" in drawn and ">4<" in drawn
    assert "%" not in drawn


def test_the_heat_map_shows_one_kind_with_its_unit_and_rejects_have_words(client, city, dispatcher_li):
    from cityloop.brain.models import RejectTally

    RejectTally.objects.create(day="2026-11-18", source="http", reason="counter_backwards", count=967)
    client.force_login(dispatcher_li)
    page = client.get("/brain/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "全部类型" not in page and "All kinds" not in page  # no sum of m³ and kWh
    assert 'value="water" selected' in page
    assert "表计读数倒退" in page and "967" in page
    page = client.get("/brain/?kind=power", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="power" selected' in page


def test_what_the_mqtt_broker_dropped_is_on_the_pulse_page_and_in_metrics(client, city, dispatcher_li):
    from django.utils import translation

    from cityloop.brain import actions
    from cityloop.web import metrics

    client.force_login(dispatcher_li)
    page = client.get("/brain/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "data-mqtt-dropped" not in page  # no MQTT worker has run: nothing to claim
    metrics.STATE.forget()
    assert "cityloop_mqtt_broker_dropped_messages" not in client.get("/metrics").content.decode()

    actions.note_broker_dropped(3, worker="w-a")
    metrics.STATE.forget()  # a scrape within a few seconds is answered from the last one
    with translation.override("zh-hans"):
        page = client.get("/brain/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-mqtt-dropped="3"' in page
    assert "消息代理自启动以来丢弃的消息：3 条" in page and "max_queued_messages" in page
    page = client.get("/brain/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Messages the broker dropped since it started: 3" in page
    assert "cityloop_mqtt_broker_dropped_messages 3.0" in client.get("/metrics").content.decode()

    actions.note_broker_dropped(0, worker="w-a")
    page = client.get("/brain/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-mqtt-dropped="0"' in page and "Readings were lost" not in page


def _trend(values: list[float], readings: int = 4) -> tuple[list[float], list[int]]:
    return values, [readings] * len(values)


def test_the_trend_has_one_chart_per_unit_and_each_axis_names_its_unit():
    from django.utils import translation

    from cityloop.brain import pulse

    trends = {
        "water": _trend([3.0, 5.0]),
        "gas": _trend([1.0, 2.0]),
        "power": _trend([40.0, 44.0]),
        "noise": _trend([220.0, 240.0]),  # four readings an hour: 55 and 60 dB
        "manhole": _trend([-0.04, 0.04]),
        "air": _trend([140.0, 160.0]),
    }
    labels = {
        "water": "Water",
        "gas": "Gas",
        "power": "Power",
        "noise": "Noise",
        "manhole": "Manhole",
        "air": "Air",
    }
    with translation.override("en"):
        groups = pulse.trend_groups(trends, labels)
    by_key = {g.key: g for g in groups}
    # water and gas are both cubic metres an hour; no chart holds two units
    assert list(by_key) == ["m³/h", "kWh/h", "dB", "kind:air", "kind:manhole"]
    assert list(by_key["m³/h"].series) == ["Water", "Gas"]
    assert by_key["kWh/h"].y_label == "kWh/h" and "(kWh/h)" in by_key["kWh/h"].title
    # a sensor's hour is the mean of its readings, never the sum of decibels
    assert by_key["dB"].series["Noise"] == [55.0, 60.0] and "mean" in by_key["dB"].title
    # kinds without a defined unit each get their own chart, saying so on the axis
    assert by_key["kind:air"].y_label == "reading (no unit set)"
    assert all(len(g.series) == 1 for k, g in by_key.items() if k.startswith("kind:"))
    with translation.override("zh-hans"):
        title = pulse.trend_groups(trends, labels | {"water": "水", "gas": "燃气"})[0].title
    assert "水、燃气" in title and "m³/h" in title


def test_an_hour_without_readings_is_a_gap_not_a_zero():
    from cityloop.brain import pulse

    group = pulse.trend_groups({"water": ([0.0, 2.0], [0, 3])}, {"water": "Water"})[0]
    assert group.series["Water"] == [None, 2.0]
    table = pulse.trend_table([group], ["11-18 09:00", "11-18 10:00"])
    assert table["headers"] == ["Water (m³/h)"]
    assert table["rows"] == [("11-18 09:00", ["—"]), ("11-18 10:00", ["2"])]


def test_a_negative_sensor_mean_stays_inside_the_plot_of_the_shared_line_chart():
    from cityloop.core.doors import charts

    drawn = charts.line_chart({"m": [-0.03, 0.01, 0.04]}, ["a", "b", "c"], title="t", y_max=None, y_min=None)
    top, bottom = 20, 240 - 36
    ys = [float(p.split(",")[1]) for p in re.search(r'points="([^"]*)"', drawn).group(1).split()]
    assert all(top <= y <= bottom for y in ys) and min(ys) == top  # 0.04 ends the axis


def _hourly(city):
    from cityloop.brain import queries
    from cityloop.brain.models import Hourly
    from cityloop.org.models import Jurisdiction

    district = Jurisdiction.objects.filter(city=city, level="district").order_by("code").first()
    hours = queries.pulse_hours(3, end=PINNED_HOUR - timedelta(hours=1))
    for hour in hours:
        for kind, consumption, readings in [("water", 3.0, 2), ("gas", 1.0, 2), ("noise", 110.0, 2)]:
            Hourly.objects.create(
                hour=hour, district=district, kind=kind, consumption=consumption, readings=readings
            )
    assert hours[-1] - hours[0] == timedelta(hours=2)
    return district


def test_the_pulse_page_draws_a_chart_per_unit_with_a_table_and_a_heat_map_of_means(
    client, city, dispatcher_li
):
    _hourly(city)
    client.force_login(dispatcher_li)
    page = client.get("/brain/?kind=noise", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count('class="trend-chart"') == 2
    assert 'data-unit="m³/h"' in page and 'data-unit="dB"' in page
    assert page.count('class="y-label">m³/h<') == 1 and page.count('class="y-label">dB<') == 1
    assert "Noise by district and hour, mean of the hour&#x27;s readings (dB)" in page
    # the heat map of a sensor shows the hour's mean (110 / 2), and its table names the unit
    assert ": 55 dB</title>" in page and "(dB)</th>" in page
    assert "<summary>The trends' figures as a table</summary>" in page
    page = client.get("/brain/?kind=water", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "水、燃气" in page and "每小时用量" in page
    assert "无数据" in page  # the hours before the readings began are hatched, not white


def test_the_hour_still_running_is_left_out_of_the_charts_so_it_does_not_look_like_a_drop(
    client, city, dispatcher_li
):
    from cityloop.brain.models import Hourly

    district = _hourly(city)
    Hourly.objects.create(hour=PINNED_HOUR, district=district, kind="power", consumption=0.1, readings=1)
    client.force_login(dispatcher_li)
    page = client.get("/brain/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-key="kWh/h"' not in page  # its only readings are in the running hour
    assert "The hour from 10:00 is still running" in page
    assert "11-18 09:00</th>" in page and "11-18 10:00</th>" not in page
