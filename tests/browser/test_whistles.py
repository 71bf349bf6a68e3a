"""吹哨报到 in a real browser, JavaScript off: the street blows, the department reports in and finishes,
the street closes the whistle and rates the department."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cityloop.hotline.models import Summons, Whistle, WhistleStatus
from tests.browser.conftest import login
from tests.conftest import PERSONA_PASSWORD


def _logout(page):
    page.click("form[action='/logout/'] button")


def test_a_street_summons_a_department_which_reports_in_and_finishes_then_is_rated(
    page, city, street_chen, dept_water_zhao
):
    login(page, "street_chen", PERSONA_PASSWORD)
    page.goto("/whistles/")
    page.click("main a:has-text('吹哨')")
    assert "吹哨" in page.locator("h1").inner_text()
    assert "30 分钟" in page.locator("#id_report_due_helptext").inner_text()
    page.fill("#id_title", "地下管网渗漏")
    page.fill("#id_need", "水务局查漏并修复")
    page.check("label:has-text('市水务局') input")
    page.check("#id_urgent")
    finish = timezone.localtime(timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#id_finish_due", finish)
    page.click("main form button[type=submit]")
    assert "已吹哨" in page.locator("ul.messages").inner_text()
    assert page.locator("tr[data-state=waiting]").inner_text().startswith("市水务局")
    whistle = Whistle.objects.get()
    assert whistle.urgent and whistle.report_due - whistle.blown_at == timedelta(minutes=30)
    summons = Summons.objects.get(whistle=whistle)
    _logout(page)

    login(page, "dept_water_zhao", PERSONA_PASSWORD)
    page.goto("/whistles/summonses/")
    card = page.locator(f"section[data-summons='{summons.pk}']")
    assert card.locator("[data-timer]").count() == 1  # the report-in countdown
    card.locator("button:has-text('报到')").click()  # nobody named: refused next to the field
    assert page.locator(f"#id_r{summons.pk}-responsible_person_error").is_visible()
    page.fill(f"#id_r{summons.pk}-responsible_person", "赵工")
    page.locator(f"section[data-summons='{summons.pk}'] button:has-text('报到')").click()
    assert "已报到" in page.locator("ul.messages").inner_text()
    page.fill(f"#id_t{summons.pk}-note", "已修复渗漏点")
    page.click("button:has-text('本部门任务已完成')")
    assert page.locator(f"section[data-summons='{summons.pk}']").get_attribute("data-task") == "done"
    _logout(page)

    login(page, "street_chen", PERSONA_PASSWORD)
    page.goto("/whistles/")
    row = page.locator(f"tr[data-summons='{summons.pk}']")
    assert row.get_attribute("data-state") == "on_time" and "赵工" in row.inner_text()
    page.click("button:has-text('结束吹哨')")
    assert Whistle.objects.get().status == WhistleStatus.CLOSED
    page.check(f"#id_s{summons.pk}-score_4")  # the fifth radio: 5 of 5
    page.fill(f"#id_s{summons.pk}-comment", "响应快")
    page.click("button:has-text('评分')")
    assert "5/5" in page.locator(f"tr[data-summons='{summons.pk}']").inner_text()
    assert Summons.objects.get(pk=summons.pk).rating == 5
