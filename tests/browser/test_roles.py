"""Each demo role logs in through the real form and lands on its own home page."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login, switch_language

HOMES = {
    "citizen_wang": ("citizen", "王小明，您好"),
    "dispatcher_li": ("dispatcher", "派单工作台"),
    "street_chen": ("street", "街乡工作台"),
    "dept_water_zhao": ("department", "部门工作台"),
    "leader_sun": ("leader", "全市概览"),
    "admin_zhang": ("admin", "系统管理"),
    "auditor_qian": ("auditor", "审计"),
}


@pytest.fixture
def demo_city(demo_database):
    demo_database("nyc")


@pytest.mark.parametrize("username", sorted(HOMES))
def test_each_demo_role_logs_in_and_sees_its_home_page(page, demo_city, username):
    role, heading = HOMES[username]
    login(page, username)
    h1 = page.locator("h1")
    assert h1.get_attribute("data-home") == role
    assert heading in h1.inner_text()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.click("form[action='/logout/'] button")
    assert page.locator("h1").get_attribute("data-home") == "public"


def test_the_interface_switches_to_english_and_back_without_javascript(page, demo_city):
    login(page, "dispatcher_li")
    switch_language(page, "en")
    assert page.locator("h1").inner_text().startswith("Dispatch desk")
    assert page.locator("html").get_attribute("lang") == "en"
    switch_language(page, "zh-hans")
    assert "派单工作台" in page.locator("h1").inner_text()


def test_a_wrong_password_is_refused_with_a_message(page, demo_city):
    login(page, "dispatcher_li", "not-the-password")
    assert page.locator("[role=alert]").count() == 1
    assert page.url.endswith("/login/")
