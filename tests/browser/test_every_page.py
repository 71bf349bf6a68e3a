"""Issue 17 #7: every page, not only the menus' — axe-core finds no serious or critical violation.

The walk (test_walk.py) opens each role's menu and the pages linked from it in the Beijing demo; pages
no menu leads to (a request's page, a unit's trend, an edit form...) it reaches only by chance. This
sweep takes every URL pattern from the resolver, as the access matrix does (tests/security): the small
city of tests/city_fixture.py fills each pattern's arguments with the objects of side "own", and
the access table names the roles that may open it there; the first of them (in ``ROLES``' order, the
least privileged first) opens it in Chromium. What answers HTML (after redirects) is checked as the
walk checks its pages (tests/browser/checks.py): every WCAG 2 A/AA rule of axe-core, no untranslated
text and no broken image in Chinese; then the same pages in English with the rules that language and
word length can change (SECOND_LANGUAGE_RULES). JSON, CSV, PDF, images and Open311 answer no HTML and
are left out by their Content-Type; of Django's admin only the home page is swept (the walk checks its
lists in the demo, and its forms are Django's own).
"""

from __future__ import annotations

import pytest

from cityloop.core.actors import SYSTEM
from tests.browser.checks import AXE, _check
from tests.browser.conftest import _new_page, login, switch_language
from tests.city_fixture import ROLES, build_city, fill, has_args, url_patterns
from tests.conftest import PERSONA_PASSWORD, TINY_PACK, TINY_PLACES
from tests.security.access_table import ALLOWED
from tests.web.test_every_page_zh import english_msgids

PHONE, DESK = 390, 1366
# A citizen (and a visitor) on a phone, staff at a desk, as in the walk.
WIDTH = {"anonymous": PHONE, "citizen": PHONE}

# Patterns that answer no page, or that a GET would change: signing out, the language switch, the
# machines' endpoints. Of the admin, its home only (see above).
NOT_PAGES = ("logout", "set_language", "healthz", "readyz", "metrics")


def _opener(name: str) -> str | None:
    """The least privileged role that may GET the pattern on its own side, None when no role may."""
    allowed = ALLOWED.get(name, {})
    return next((role for role in ROLES if "own" in allowed.get(role, allowed.get("*", ()))), None)


def sweep(town) -> dict[str, list[str]]:
    """role → the URLs it opens: every pattern once, by the first role allowed to open it."""
    urls: dict[str, list[str]] = {}
    for name, route in url_patterns():
        if name in NOT_PAGES or name.startswith(("open311:", "api")):
            continue
        if name.startswith("admin:") and name != "admin:index":
            continue
        role = _opener(name)
        if role is None:
            continue
        url = fill(name, route, town.own) if has_args(route) else "/" + route
        urls.setdefault(role, []).append(url)
    return urls


@pytest.fixture
def town(live_server, transactional_db):
    from django.core.cache import cache

    from cityloop.seal import actions as seal_actions

    # The shared cache is a table Django's flush between transactional tests leaves alone: an earlier
    # test's hot issues for the same (pinned) period, cached for minutes, held none of this town's
    # requests, and the hot-issue pages answered 404 (seen once in CI on PostgreSQL, by test order).
    cache.clear()
    town = build_city(TINY_PACK, TINY_PLACES)
    # the city seal exists, as after the first certificate: its status list and keys are public
    seal_actions.signing_key(seal_actions.CITY_AUTHORITY, actor=SYSTEM)
    return town


def test_every_page_passes_axe_in_both_languages(chromium, live_server, town):
    english = english_msgids()
    problems: list[str] = []
    swept = {"zh-hans": 0, "en": 0}
    for role, urls in sweep(town).items():
        width = WIDTH.get(role, DESK)
        context = chromium.new_context(
            base_url=live_server.url, locale="zh-CN", viewport={"width": width, "height": 900}
        )
        context.add_init_script(path=str(AXE))
        page = _new_page(context)
        try:
            if role != "anonymous":
                login(page, town.users[role].username, PERSONA_PASSWORD)
            for language in ("zh-hans", "en"):
                if language != "zh-hans":
                    page.goto("/")
                    switch_language(page, language)
                for url in urls:
                    found = _check(page, url, language, english)
                    if "html" in (page.evaluate("document.contentType") or ""):
                        swept[language] += 1
                    problems += [f"{role} {width}px {language} {url}: {p}" for p in found]
        finally:
            context.close()
    print(f"swept {swept['zh-hans']} pages in Chinese, {swept['en']} in English")
    assert swept["zh-hans"] >= 40, swept  # the sweep itself is whole: no pattern lost on the way
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
