"""Issue 17's walk: every role's home page and every page of its menu, in Chinese and English, checked
in Chromium for sideways scroll, untranslated text, broken images and axe-core's serious or critical
violations (WCAG 2 A and AA).

A citizen walks on a phone (390 px), staff on a desk screen (1366 px). The city is the Beijing demo
(tests/browser/conftest.py's copy, built once per worker): the hotline's history, the services
catalogue with its window clerk and approvers, the city brain's devices. JavaScript is on, as most
people browse; axe-core is vendored in tests/browser/vendor (never served to users) and injected into
each page: every WCAG 2 A/AA rule on the Chinese pages, the rules that language and word length can
change on the English ones (SECOND_LANGUAGE_RULES).
"""

from __future__ import annotations

import re

import pytest

from cityloop.org.models import Jurisdiction
from tests.browser.checks import AXE, AXE_RUN, _check
from tests.browser.conftest import _new_page, login, switch_language
from tests.web.test_every_page_zh import english_msgids

PHONE, DESK = 390, 1366

# The demo personas, one per role (the window clerk and an approver come with the services demo).
WALKERS = {
    "anonymous": PHONE,  # the public home page and what it links to, without an account
    "citizen_wang": PHONE,
    "dispatcher_li": DESK,
    "street_chen": DESK,
    "dept_water_zhao": DESK,
    "leader_sun": DESK,
    "admin_zhang": DESK,
    "auditor_qian": DESK,
    "window_liu": DESK,
    "approver_market": DESK,
}

# Error pages, in the site's style and both languages: (URL, the status it answers with).
ERROR_PAGES = {
    "anonymous": [("/no-such-page/", 404)],
    "citizen_wang": [("/hotline/dispatch/", 403)],
}

# Pages a role reaches from a page's links, not from the menu: walked like the menu's. {district} is the
# demo's first district (the dashboard's map drills down to it; its open sensor alarms drawn over it).
LINKED_PAGES = {
    "leader_sun": [
        "/leaders/governance-streets/",
        "/leaders/brief/",
        "/leaders/?alarms=1&district={district}",
    ],
    "admin_zhang": [
        "/admin/org/category/",
        "/admin/org/citypack/",
        "/admin/core/user/",
        "/admin/seal/signingkey/",
    ],
}

# Django's admin: its own words come from Django's catalogue (plus the few it lacks, in web's), the model
# and field names from CityLoop's; both are checked on its home and a list per app. Its detail pages show
# stored data (a pack's English notes), so the walk does not follow their rows.
ADMIN = "/admin/"


@pytest.fixture
def beijing(demo_database):
    demo_database("beijing")


# The first row link of a list (a request, an application, a device...): one detail page per kind.
FIRST_ROW_LINK = """() => {
  const a = [...document.querySelectorAll('main tbody a[href^="/"], main li a[href^="/"]')]
    .find(a => !a.hasAttribute('download') && !a.closest('nav, form'));
  return a ? a.getAttribute('href') : null;
}"""


def _shape(url: str) -> str:
    """A URL with its numbers and codes blanked: one page per template, not one per row."""
    return re.sub(r"/[^/]*\d[^/]*", "/#", url.split("?")[0])


def test_axe_is_injected_and_reports_a_known_violation(chromium):
    """The walk's guard: axe-core loads from the vendored copy and finds an image without alt text."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_content('<html lang="en"><title>x</title><main><h1>x</h1><img src="data:,"></main></html>')
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(AXE_RUN, None)
    context.close()
    assert [v["id"] for v in found] == ["image-alt"], found


@pytest.mark.parametrize("username", sorted(WALKERS))
def test_every_page_of_each_role_fits_is_translated_and_passes_axe(chromium, live_server, beijing, username):
    width = WALKERS[username]
    context = chromium.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": width, "height": 900}
    )
    # axe-core in every page the walk opens, before the page's own scripts: a quarter of the walk's
    # time cheaper than sending the 650 kB script again as a script tag after each load
    context.add_init_script(path=str(AXE))
    page = _new_page(context)
    english = english_msgids()
    problems: list[str] = []
    try:
        if username == "anonymous":
            page.goto("/")
            menu = page.locator("main a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        else:
            login(page, username)
            menu = page.locator("header nav a").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            )
        assert menu, f"{username} has no menu"
        # the home page and the menu's pages; the Chinese pass adds one detail page per list to the walk
        walk = list(dict.fromkeys(["/", *[href for href in menu if href and href.startswith("/")]]))
        district = Jurisdiction.objects.filter(level="district").order_by("code").values_list("pk", flat=True)
        linked = [url.format(district=district.first()) for url in LINKED_PAGES.get(username, [])]
        walk += [url for url in linked if url not in walk]
        shapes = {_shape(url) for url in walk}
        for language in ("zh-hans", "en"):
            if language != "zh-hans":
                page.goto("/")
                switch_language(page, language)
            for url in walk:
                problems += [
                    f"{username} {width}px {language} {url}: {p}"
                    for p in _check(page, url, language, english)
                ]
                if language == "zh-hans" and not url.startswith(ADMIN):
                    link = page.evaluate(FIRST_ROW_LINK)
                    if link and _shape(link) not in shapes:
                        shapes.add(_shape(link))
                        walk.append(link)
            for url, status in ERROR_PAGES.get(username, []):
                problems += [
                    f"{username} {width}px {language} {url}: {p}"
                    for p in _check(page, url, language, english, status)
                ]
    finally:
        context.close()
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
