"""One request's whole life in a real browser, JavaScript off: submit → dispatch → sign → reply → track →
rate."""

from __future__ import annotations

import pytest

from cityloop.hotline.models import FollowUp, Request
from tests.browser.conftest import login, switch_language
from tests.conftest import PERSONA_PASSWORD
from tests.hotline.texts import texted_code


@pytest.fixture
def water_classifier(settings, tmp_path):
    """A small classifier trained on the tiny city's own categories, so intake suggests one."""
    from cityloop.hotline.intake import classifier, suggest

    texts = [
        "停水了",
        "家里没有自来水",
        "一整天停水",
        "水龙头没水",
        "楼道乱堆乱放",
        "门口堆满杂物",
        "垃圾乱堆",
        "杂物乱放",
    ]
    labels = ["02.01.01"] * 4 + ["01.01.01"] * 4
    path = classifier.train(texts, labels).save(tmp_path / "classifier.joblib", key=suggest.model_key())
    settings.HOTLINE = {**settings.HOTLINE, "classifier_model": str(path)}


def _logout(page):
    page.click("form[action='/logout/'] button")


def test_a_request_goes_from_the_citizens_submit_to_the_rating(
    page, city, dispatcher_li, dept_water_zhao, water_classifier
):
    # The citizen, anonymous, in the Chinese interface.
    page.goto("/hotline/submit/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("#id_description", "家里停水了，一整天没有水")
    page.fill("#id_address", "金融街购物中心")
    page.fill("#id_caller_name", "王小明")
    page.fill("#id_caller_phone", "13812345678")
    page.click("main form button[data-submit]")
    assert "您的诉求已受理" in page.locator("h1").inner_text()
    number = page.locator("[data-tracking-no]").get_attribute("data-tracking-no")
    code = page.locator("[data-access-code]").get_attribute("data-access-code")
    request = Request.objects.get(tracking_no=number)
    assert request.suggested_category.code == "02.01.01" and request.category is None

    # The dispatcher accepts the classifier's suggestion in the queue with one click.
    login(page, "dispatcher_li", PERSONA_PASSWORD)
    page.goto("/hotline/dispatch/")
    row = page.locator(f"tr[data-request='{number}']")
    assert "市水务局" in row.inner_text()
    row.locator("button[name=accept]").click()
    assert f"{number} 已派往 市水务局" in page.locator(".messages").inner_text()
    _logout(page)

    # The water department signs for the order in its inbox and replies.
    login(page, "dept_water_zhao", PERSONA_PASSWORD)
    page.goto("/hotline/inbox/")
    page.locator(f"tr[data-request='{number}'] button[data-action=sign]").click()
    page.locator("details:has(form[data-form=reply]) summary").click()
    reply = page.locator("form[data-form=reply]")
    reply.locator("select").select_option("resolved")
    reply.locator("textarea").fill("管道已抢修，供水已恢复")
    reply.locator("button[type=submit]").click()
    # 答复意见质量: the short reply names no unit, no time and no reason; the check says so, and the
    # unit sends it anyway (a second plain POST)
    check = page.locator("form[data-form=reply] .reply-check")
    assert check.get_attribute("data-flagged") == "yes" and "没有写明" in check.inner_text()
    page.locator("form[data-form=reply] button[data-action=send-anyway]").click()
    assert "已答复市民" in page.locator(".messages").inner_text()
    _logout(page)

    # The citizen tracks it with the number and the access code, and rates it with the texted rating code.
    page.goto("/hotline/track/")
    page.fill("#id_tracking_no", number)
    page.fill("#id_code", code)
    page.click("main form button[type=submit]")
    assert "管道已抢修，供水已恢复" in page.locator("main").inner_text()
    page.fill("#id_code", texted_code(number, "rating_link"))
    page.check("input[name=resolved][value=yes]")
    page.check("input[name=satisfaction][value=satisfied]")
    page.fill("#id_comment", "修得很快，谢谢")
    page.click("#rate button[type=submit]")
    assert page.locator("[data-status]").get_attribute("data-status") == "closed"
    assert "已办结" in page.locator("[data-status]").inner_text()

    request.refresh_from_db()
    assert request.status == "closed" and request.resolved is True and request.satisfaction == "satisfied"
    assert FollowUp.objects.get(request=request).channel == "web"

    # The same status page in English.
    switch_language(page, "en")
    assert page.locator("[data-status]").inner_text() == "Closed"
    assert page.locator("html").get_attribute("lang") == "en"


def test_a_wrong_access_code_shows_the_generic_error_in_the_browser(page, city, dispatcher_li):
    page.goto("/hotline/submit/")
    page.fill("#id_description", "路灯不亮")
    page.fill("#id_address", "白塔寺")
    page.fill("#id_caller_phone", "13812345678")
    page.click("main form button[data-submit]")
    number = page.locator("[data-tracking-no]").get_attribute("data-tracking-no")
    page.context.clear_cookies()
    page.goto("/hotline/track/")
    page.fill("#id_tracking_no", number)
    page.fill("#id_code", "2222222222")
    page.click("main form button[type=submit]")
    assert "没有与该受理编号和访问码相符的诉求" in page.locator("[role=alert]").inner_text()
