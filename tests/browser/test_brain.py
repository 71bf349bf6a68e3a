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
