"""The city pulse and a device page render in Chinese and in English, with their SVG charts."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login, switch_language


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
    assert page.locator("svg.lines polyline").count() >= 3
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    switch_language(page, "en")
    assert page.locator("h1").inner_text() == "City pulse"
    assert page.locator("svg.heatmap").count() == 1


def test_a_device_page_shows_its_readings_chart_and_links_its_alarm_to_the_case(page, demo_city):
    from cityloop.brain.models import Alarm

    alarm = Alarm.objects.select_related("device").exclude(request_id=None).first()
    assert alarm is not None, "the demo history leaves a few silent meters with open cases"
    login(page, "leader_sun")
    page.goto(f"/brain/devices/{alarm.device.code}/")
    assert alarm.device.code in page.locator("h1").inner_text()
    assert page.locator("svg.lines polyline").count() == 1
    link = page.locator(f"a[href='/hotline/requests/{alarm.request_id}/']")
    assert link.inner_text() == alarm.tracking_no
    switch_language(page, "en")
    assert page.locator("h1").inner_text().startswith("Device")
