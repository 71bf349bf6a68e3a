"""这也是我的问题 in a real browser at 390 px: the nearby open requests appear once a point is chosen, and
joining one counts the citizen on it instead of filing it again; with JavaScript and without."""

from __future__ import annotations

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions, queries
from cityloop.hotline.models import Channel, Request
from tests.browser.test_phone import _too_wide
from tests.browser.test_report_map import _map_ready, js_phone, plain_phone  # noqa: F401 (fixtures)


def _existing(city, lon=116.05, lat=39.95):
    sub = actions.Submission(
        description="我是赵先生，门口堆满杂物", caller_phone="13900000001", lon=lon, lat=lat
    )
    request, _ = actions.submit_request(sub, city=city, channel=Channel.WEB, actor=SYSTEM)
    return request


def test_with_javascript_the_list_follows_the_map_and_joining_counts_once(js_phone, city):  # noqa: F811
    existing = _existing(city)
    js_phone.goto("/hotline/submit/")
    _map_ready(js_phone)
    js_phone.fill("#id_caller_phone", "13812345678")
    js_phone.locator("path.street-D1S1").click()  # the middle of 金融街街道, where the request was filed
    item = js_phone.locator(f"[data-nearby-request='{existing.pk}']")
    item.wait_for()
    assert "相距" in item.inner_text() and "赵" not in item.inner_text() and "堆满" not in item.inner_text()
    assert not _too_wide(js_phone)
    item.locator("button[data-support]").click()
    assert "谢谢，已记为您也有这个问题" in js_phone.locator(".messages").inner_text()
    assert queries.supporter_count(existing) == 1 and Request.objects.count() == 1
    # the same phone again: refused, said in the page's language, counted once
    js_phone.fill("#id_caller_phone", "13812345678")
    js_phone.locator("path.street-D1S1").click()
    js_phone.locator(f"[data-nearby-request='{existing.pk}'] button[data-support]").click()
    assert "每位市民只计一次" in js_phone.locator(".messages").inner_text()
    assert queries.supporter_count(existing) == 1


def test_a_point_far_from_any_request_lists_none(js_phone, city):  # noqa: F811
    _existing(city)
    js_phone.goto("/hotline/submit/")
    _map_ready(js_phone)
    js_phone.locator("path.street-D2S2").click()
    js_phone.locator("[data-nearby-list]").get_by_text("附近没有未办结的诉求").wait_for()


def test_without_javascript_the_button_lists_them_keeping_the_values_and_each_joins(plain_phone, city):  # noqa: F811
    existing = _existing(city)
    plain_phone.goto("/hotline/submit/")
    plain_phone.fill("#id_description", "门口又堆满了")
    plain_phone.fill("#id_lon", "116.0502")
    plain_phone.fill("#id_lat", "39.9501")
    plain_phone.fill("#id_caller_phone", "13812345678")
    plain_phone.click("button[name=nearby]")
    assert plain_phone.input_value("#id_description") == "门口又堆满了"
    assert plain_phone.input_value("#id_caller_phone") == "13812345678"
    item = plain_phone.locator(f"[data-nearby-request='{existing.pk}']")
    assert "相距" in item.inner_text() and Request.objects.count() == 1
    assert not _too_wide(plain_phone)
    # Enter in a text field presses the form's first button, "show nearby requests": it never joins one
    plain_phone.press("#id_address", "Enter")
    plain_phone.wait_for_load_state()
    assert queries.supporter_count(existing) == 0 and Request.objects.count() == 1
    item = plain_phone.locator(f"[data-nearby-request='{existing.pk}']")
    item.locator("button[data-support]").click()
    assert "谢谢，已记为您也有这个问题" in plain_phone.locator(".messages").inner_text()
    assert queries.supporter_count(existing) == 1 and Request.objects.count() == 1
