"""The city pulse: one kind per heat map (units never added up), lines inside their plot with a y axis,
and refused readings explained in words."""

from __future__ import annotations

import re

import pytest

from cityloop.brain import svg

pytestmark = pytest.mark.django_db


def test_scaled_lines_stay_inside_the_plot_and_have_a_y_axis():
    drawn = svg.lines({"水": [1.0, 4.0, -2.0, 3.0]}, ["00", "01", "02", "03"], title="t", normalise=True)
    top, bottom = 14, 220 - 26
    ys = [float(y) for y in re.findall(r",([\d.]+)", re.search(r'points="([^"]*)"', drawn).group(1))]
    assert all(top <= y <= bottom for y in ys)
    assert ">0%<" in drawn and ">100%<" in drawn


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
