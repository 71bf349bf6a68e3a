"""Issue 17 #3 "dispatch in seconds", with JavaScript: the queue answers the keyboard (J/K move, A
accepts, O opens), and a request opened from the queue and sent elsewhere with the type-to-find
lead-unit picker ends back on the queue."""

from __future__ import annotations

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.models import Channel, Request
from tests.browser.conftest import login
from tests.conftest import PERSONA_PASSWORD


def _water_cut(city, tiny_places, n: str) -> Request:
    lon, lat = tiny_places["D1S1C1"]
    sub = actions.Submission(
        description=f"楼里停水了，第{n}天",
        caller_phone="13812345678",
        lon=lon,
        lat=lat,
        category_code="02.01.01",
    )
    return actions.submit_request(sub, city=city, channel=Channel.PHONE, actor=SYSTEM)[0]


def test_the_dispatcher_clears_the_queue_at_the_keyboard(
    js_page, city, tiny_places, dispatcher_li, dept_water_zhao
):
    page = js_page
    first, second, third = (_water_cut(city, tiny_places, n) for n in "一二三")
    login(page, "dispatcher_li", PERSONA_PASSWORD)
    page.goto("/hotline/dispatch/?order=oldest")
    assert page.locator("[data-queue-keys]").is_visible()
    assert page.locator("tr.current").get_attribute("data-request") == first.tracking_no
    page.keyboard.press("j")
    assert page.locator("tr.current").get_attribute("data-request") == second.tracking_no
    page.keyboard.press("k")
    with page.expect_navigation():
        page.keyboard.press("a")  # accepts the first one's suggestion
    assert f"{first.tracking_no} 已派往" in page.locator(".messages").inner_text()
    assert page.locator("tr.current").get_attribute("data-request") == second.tracking_no
    with page.expect_navigation():
        page.keyboard.press("o")  # opens the second, to send it elsewhere
    page.locator('input[data-typeahead-for="lead"]').fill("金融街")
    assert "金融街" in page.eval_on_selector("select[name=lead]", "s => s.options[s.selectedIndex].text")
    page.get_by_role("button", name="派往所选单位").click()
    assert page.url.endswith("/hotline/dispatch/?order=oldest")
    assert page.locator("tr.current").get_attribute("data-request") == third.tracking_no
    assert Request.objects.get(pk=first.pk).orders.get(lead=True).department == dept_water_zhao.department
    assert "金融街" in Request.objects.get(pk=second.pk).orders.get(lead=True).street.name
