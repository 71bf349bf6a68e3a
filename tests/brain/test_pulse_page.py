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
