"""The hot-issue page on a phone (390 px): no sideways scroll, in Chinese and in English."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.browser.conftest import _new_page, login
from tests.browser.test_phone import WIDTH, _too_wide
from tests.conftest import PERSONA_PASSWORD
from tests.hotline.hotissues.live_data import noise_issue, support


@pytest.fixture(params=["zh-CN", "en"])
def phone(request, chromium, live_server, transactional_db):
    cache.clear()
    context = chromium.new_context(
        base_url=live_server.url,
        locale=request.param,
        viewport={"width": WIDTH, "height": 844},
        java_script_enabled=False,
        extra_http_headers={"Accept-Language": request.param},
    )
    yield _new_page(context)
    context.close()
    cache.clear()


def test_the_hot_issues_and_an_issue_fit_a_phone(phone, city, leader_sun):
    rows = noise_issue(city, callers=4)
    support(rows[0], 3)
    login(phone, "leader_sun", PERSONA_PASSWORD)
    answer = phone.goto("/leaders/hot-issues/")
    assert answer is not None and answer.status == 200
    assert phone.locator("section.hot-issue").count() == 1
    assert phone.locator("section.hot-issue svg.line-chart").count() == 1
    assert _too_wide(phone) == []
    phone.click("section.hot-issue h2 a")
    assert phone.locator("ul.hot-messages li").count() == 5
    assert phone.locator("a[data-action=whistle]").count() == 1
    assert _too_wide(phone) == []
