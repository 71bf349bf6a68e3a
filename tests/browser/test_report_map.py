"""Reporting like on a phone app, at 390 px: the map picker fills the location fields, the category is
found by typing, and without JavaScript the same form still works with the street select."""

from __future__ import annotations

import pytest

from cityloop.hotline.models import Request
from tests.browser.conftest import _new_page, login
from tests.browser.test_phone import WIDTH, _too_wide
from tests.conftest import PERSONA_PASSWORD


def _phone(chromium, live_server, *, javascript: bool, locale: str = "zh-CN"):
    context = chromium.new_context(
        base_url=live_server.url,
        locale=locale,
        viewport={"width": WIDTH, "height": 844},
        java_script_enabled=javascript,
        extra_http_headers={"Accept-Language": locale},
    )
    return context, _new_page(context)


@pytest.fixture
def js_phone(chromium, live_server, transactional_db):
    context, page = _phone(chromium, live_server, javascript=True)
    yield page
    context.close()


@pytest.fixture
def plain_phone(chromium, live_server, transactional_db):
    context, page = _phone(chromium, live_server, javascript=False)
    yield page
    context.close()


def _map_ready(page):
    page.locator("[data-map-picker]").wait_for(state="visible")
    page.locator("path.street-D1S1").wait_for(state="attached")


def test_clicking_the_map_fills_longitude_latitude_and_the_street(js_phone, city):
    js_phone.goto("/hotline/submit/")
    _map_ready(js_phone)
    js_phone.locator("[data-map-picker]").scroll_into_view_if_needed()
    js_phone.locator("path.street-D1S1").click()  # the middle of 金融街街道's square
    lon = float(js_phone.input_value("#id_lon"))
    lat = float(js_phone.input_value("#id_lat"))
    assert 116.0 < lon < 116.1 and 39.9 < lat < 40.0
    assert js_phone.input_value("#id_street") == "D1S1"
    assert "金融街街道" in js_phone.locator("[data-map-status]").inner_text()
    # a point in the district but in no street clears the street
    box = js_phone.locator("[data-map]").bounding_box()
    d1s1 = js_phone.locator("path.street-D1S1").bounding_box()
    js_phone.mouse.click(d1s1["x"] + d1s1["width"] * 1.5, d1s1["y"] + d1s1["height"] * 0.5)
    assert js_phone.input_value("#id_street") == "" and float(js_phone.input_value("#id_lon")) > lon
    assert box["width"] <= WIDTH and not _too_wide(js_phone)


def test_the_filled_in_point_files_the_request_in_that_street(js_phone, city):
    js_phone.goto("/hotline/submit/")
    _map_ready(js_phone)
    js_phone.locator("path.street-D2S2").click()
    js_phone.fill("#id_description", "路灯不亮")
    js_phone.fill("#id_caller_phone", "13812345678")
    js_phone.click("main form button[data-submit]")
    assert "您的诉求已受理" in js_phone.locator("h1").inner_text()
    request = Request.objects.get()
    assert request.street.code == "D2S2" and request.lon is not None


def test_use_my_location_fills_the_point(chromium, live_server, transactional_db, city, tiny_places):
    lon, lat = tiny_places["D1S2"]
    context = chromium.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        viewport={"width": WIDTH, "height": 844},
        geolocation={"longitude": lon, "latitude": lat},
        permissions=["geolocation"],
    )
    page = _new_page(context)
    try:
        page.goto("/hotline/submit/")
        _map_ready(page)
        page.click("[data-locate]")
        page.wait_for_function("document.querySelector('#id_street').value === 'D1S2'")
        assert (float(page.input_value("#id_lon")), float(page.input_value("#id_lat"))) == (lon, lat)
    finally:
        context.close()


def test_a_category_is_found_by_typing(js_phone, city):
    js_phone.goto("/hotline/submit/")
    finder = js_phone.locator("input[data-typeahead-for=category]")
    finder.fill("停水")
    assert js_phone.input_value("#id_category") == "02.01.01"
    shown = js_phone.eval_on_selector_all(
        "#id_category option", "os => os.filter(o => !o.hidden).map(o => o.value)"
    )
    assert shown == ["", "02.01.01"]
    finder.fill("水压")
    assert js_phone.input_value("#id_category") == "02.01.02"
    finder.press("Enter")  # choosing is not sending the form
    assert js_phone.url.endswith("/hotline/submit/") and not js_phone.locator(".error").count()


def test_the_dispatchers_unit_picker_is_found_by_typing(js_page, city, dispatcher_li, tiny_places):
    from cityloop.core.actors import SYSTEM
    from cityloop.hotline import actions
    from cityloop.hotline.models import Channel

    lon, lat = tiny_places["D1S1C1"]
    sub = actions.Submission(description="门口堆满杂物", caller_phone="13812345678", lon=lon, lat=lat)
    request, _ = actions.submit_request(sub, city=city, channel=Channel.WEB, actor=SYSTEM)
    login(js_page, "dispatcher_li", PERSONA_PASSWORD)
    js_page.goto(f"/hotline/requests/{request.pk}/")
    js_page.locator("input[data-typeahead-for=lead]").fill("水务")
    assert js_page.locator("#id_lead option:checked").inner_text().endswith("市水务局")
    js_page.locator("input[data-typeahead-for=category]").fill("乱堆")
    assert js_page.input_value("form[action$='/classify/'] select[name=category]") == "01.01.01"


def test_without_javascript_the_street_select_and_the_fields_still_file_the_request(plain_phone, city):
    plain_phone.goto("/hotline/submit/")
    assert not plain_phone.locator("[data-map-picker]").is_visible()
    assert not plain_phone.locator("input.typeahead").count()
    plain_phone.fill("#id_description", "路灯不亮")
    plain_phone.select_option("#id_street", "D1S2")
    plain_phone.select_option("#id_category", "02.01.01")
    plain_phone.fill("#id_caller_phone", "13812345678")
    assert not _too_wide(plain_phone)
    plain_phone.click("main form button[data-submit]")
    assert "您的诉求已受理" in plain_phone.locator("h1").inner_text()
    request = Request.objects.get()
    assert (request.street.code, request.category.code, request.lon) == ("D1S2", "02.01.01", None)
