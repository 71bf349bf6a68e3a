"""On a phone (390 px wide) no page is wider than the screen, in Chinese and in English."""

from __future__ import annotations

import pytest

from tests.browser.conftest import _new_page, login

WIDTH = 390
PAGES = {
    None: ["/", "/hotline/submit/", "/hotline/track/", "/login/", "/seal/verify/"],
    "citizen_wang": ["/", "/hotline/mine/", "/services/"],
    "street_chen": ["/", "/hotline/inbox/", "/whistles/", "/whistles/assess/", "/leaders/rankings/"],
    "dispatcher_li": [
        "/hotline/dispatch/",
        "/hotline/intake/",
        "/hotline/follow-ups/",
        "/leaders/",
        "/leaders/governance-streets/",
        "/leaders/brief/",
    ],
    # the header carries the language switch, the notifications badge, the role and "log out": with a
    # long English role it must wrap, not push the page sideways
    "dept_water_zhao": ["/", "/notify/", "/whistles/summonses/"],
}


@pytest.fixture
def demo_city(demo_database):
    demo_database("nyc")


@pytest.fixture(params=["zh-CN", "en"])
def phone(request, chromium, live_server, transactional_db):
    context = chromium.new_context(
        base_url=live_server.url,
        locale=request.param,
        viewport={"width": WIDTH, "height": 844},
        java_script_enabled=False,
        extra_http_headers={"Accept-Language": request.param},
    )
    yield _new_page(context)
    context.close()


def _too_wide(page) -> list[str]:
    """What sticks out to the right of the screen (empty when the page fits)."""
    # the page's width is read without JavaScript on the page: Playwright evaluates in its own world
    width = page.evaluate("document.documentElement.scrollWidth")
    if width <= WIDTH:
        return []
    return page.evaluate(
        """(limit) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > limit + 1)
            .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))""",
        WIDTH,
    )


@pytest.mark.parametrize("username", list(PAGES))
def test_no_page_is_wider_than_a_phone(phone, demo_city, username):
    if username:
        login(phone, username)
    wide = {}
    for path in PAGES[username]:
        answer = phone.goto(path)
        assert answer is not None and answer.status == 200, path
        found = _too_wide(phone)
        if found:
            wide[path] = found
    assert wide == {}
