"""The city pulse and a device page render in Chinese and in English, with their SVG charts."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login, switch_language
from tests.browser.test_phone import (
    _too_wide,
    phone,  # noqa: F401 - its 390 px phone fixture, zh and en, no JavaScript
)


@pytest.fixture
def demo_city(demo_database):
    from cityloop.brain.demo import demo_extension

    # only the brain's demo data: these pages must not depend on other pillars' demo loaders
    demo_database("nyc", extensions=[demo_extension])


def test_the_city_pulse_shows_the_heat_map_trends_and_alarms_in_chinese_and_english(page, demo_city):
    login(page, "leader_sun")
    page.goto("/brain/")
    assert page.locator("h1").inner_text() == "城市脉搏"
    assert page.locator("svg.heatmap rect").count() > 50
    assert page.locator("figure.trend-chart svg.line-chart polyline").count() >= 3
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    switch_language(page, "en")
    assert page.locator("h1").inner_text() == "City pulse"
    assert page.locator("svg.heatmap").count() == 1


def _points_outside_the_plot(chart) -> list[str]:
    """The polyline points of one line chart that lie outside its plot (the box its grid lines span)."""
    grid = chart.locator("line[stroke='#ddd']")
    ys = [float(grid.nth(i).get_attribute("y1") or 0) for i in range(grid.count())]
    x1, x2 = float(grid.first.get_attribute("x1") or 0), float(grid.first.get_attribute("x2") or 0)
    outside = []
    lines = chart.locator("polyline")
    for i in range(lines.count()):
        for point in (lines.nth(i).get_attribute("points") or "").split():
            x, y = (float(v) for v in point.split(","))
            if not (x1 - 0.05 <= x <= x2 + 0.05 and min(ys) - 0.05 <= y <= max(ys) + 0.05):
                outside.append(point)
    return outside


def test_the_pulse_draws_one_chart_per_unit_inside_its_plot_and_fits_a_phone(phone, demo_city):  # noqa: F811
    login(phone, "leader_sun")
    phone.goto("/brain/")
    zh = phone.locator("html").get_attribute("lang") == "zh-hans"
    figures = phone.locator("figure.trend-chart")
    keys = [figures.nth(i).get_attribute("data-key") for i in range(figures.count())]
    units = [figures.nth(i).get_attribute("data-unit") or "" for i in range(figures.count())]
    # the demo city has water, power and gas meters and noise, air and manhole sensors (the last two
    # have no unit defined, so each has a chart of its own)
    assert len(set(keys)) == len(keys) and {"m³/h", "kWh/h", "dB", "kind:air", "kind:manhole"} <= set(keys)
    for i, (key, unit) in enumerate(zip(keys, units, strict=True)):
        chart = figures.nth(i).locator("svg.line-chart")
        assert chart.count() == 1
        assert chart.locator("text.y-label").text_content() == unit
        if not (key or "").startswith("kind:"):
            assert unit in (figures.nth(i).locator("h3").text_content() or "")
        assert chart.locator("polyline").count() >= 1
        assert _points_outside_the_plot(chart) == [], unit
    # m³ of water and of gas share one chart; kWh never joins them
    water = phone.locator("figure.trend-chart[data-unit='m³/h'] h3").text_content() or ""
    assert ("水、燃气" if zh else "Water, Gas") in water
    heat_title = phone.locator("svg.heatmap > title").text_content() or ""
    assert "m³/h" in heat_title
    assert ("各区逐小时水用量" if zh else "Water used by district and hour") in heat_title
    assert _too_wide(phone) == []
    # the figures in a table for a screen reader or a page without pictures, still within the screen
    phone.locator("section[aria-labelledby=trend-title] details summary").click()
    assert phone.locator("table.trend-table thead th").count() == 1 + sum(
        figures.nth(i).locator("polyline").count() for i in range(len(units))
    )
    assert _too_wide(phone) == []
    phone.select_option("#kind", "noise")
    phone.click("form.form button[type=submit]")
    heat_title = phone.locator("svg.heatmap > title").text_content() or ""
    assert "dB" in heat_title and ("平均值" if zh else "mean") in heat_title
    assert _too_wide(phone) == []


def test_a_device_page_shows_its_readings_chart_and_links_its_alarm_to_the_case(page, demo_city):
    from cityloop.brain.models import Alarm

    alarm = Alarm.objects.select_related("device").exclude(request_id=None).first()
    assert alarm is not None, "the demo history leaves a few silent meters with open cases"
    login(page, "leader_sun")
    page.goto(f"/brain/devices/{alarm.device.code}/")
    assert alarm.device.code in page.locator("h1").inner_text()
    assert page.locator("svg.lines polyline").count() == 1
    # the device's readings and the charts around its alarms name their unit on the y axis
    unit = {"water": "m³", "power": "kWh", "gas": "m³"}.get(alarm.device.kind, "读数（未设单位）")
    assert page.locator("svg.lines text.y-label").text_content() == unit
    assert set(page.locator("svg.alarm-chart text.y-label").all_text_contents()) <= {unit}
    link = page.locator(f"a[href='/hotline/requests/{alarm.request_id}/']")
    assert link.inner_text() == alarm.tracking_no
    switch_language(page, "en")
    assert page.locator("h1").inner_text().startswith("Device")


def test_an_operator_acknowledges_an_alarm_and_mutes_its_device_without_javascript(page, demo_city):
    from cityloop.brain.models import Alarm, Device
    from cityloop.core.models import AuditRecord

    alarm = Alarm.objects.select_related("device").exclude(request_id=None).first()
    assert alarm is not None
    code = alarm.device.code
    login(page, "leader_sun")
    page.goto(f"/brain/devices/{code}/")
    article = page.locator(f"article[data-alarm='{alarm.pk}']")
    assert article.locator(".alarm-why").inner_text().strip()  # says why in words
    article.locator(f"#id_ack{alarm.pk}-note").fill("已电话联系业主")
    article.locator("button[data-action=acknowledge]").click()
    assert page.locator(f"[data-acknowledged='{alarm.pk}']").inner_text().count("已电话联系业主") == 1

    # a mute without a reason is refused, in the page's language, naming the rule
    page.fill("#id_mute-hours", "12")
    page.click("button[data-action=mute]")
    assert "请说明静音原因" in page.locator("#mute").inner_text()
    page.fill("#id_mute-reason", "水表更换施工")
    page.click("button[data-action=mute]")
    assert "水表更换施工" in page.locator("[data-muted-until]").inner_text()

    device = Device.objects.get(code=code)
    assert device.mute_reason == "水表更换施工" and device.muted_until is not None
    assert Alarm.objects.get(pk=alarm.pk).ack_note == "已电话联系业主"
    actions = set(
        AuditRecord.objects.filter(object_id__in=[str(alarm.pk), str(device.pk)]).values_list(
            "action", flat=True
        )
    )
    assert {"alarm.acknowledge", "device.mute"} <= actions
