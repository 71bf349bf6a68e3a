"""The leader's one-page brief printed by a browser: Chromium's print to PDF gives exactly one A4 page."""

from __future__ import annotations

import re

import pytest

from cityloop.core.actors import SYSTEM
from cityloop.hotline.loaders import synthetic
from cityloop.hotline.performance import actions as performance_actions
from cityloop.hotline.performance import stats
from tests.browser.conftest import login
from tests.conftest import PERSONA_PASSWORD


@pytest.fixture
def history(city):
    synthetic.generate(city, n=400, months=3, seed=5)
    performance_actions.recount_all(actor=SYSTEM)
    return stats.months_with_data()


def test_the_brief_page_prints_on_one_a4_page_with_its_figures(page, city, history, leader_sun):
    login(page, "leader_sun", PERSONA_PASSWORD)
    page.goto("/leaders/")
    page.click("main a[data-brief]")
    assert "领导简报" in page.locator("h1").inner_text()
    response = page.locator("tr[data-rate=response] td").nth(1).inner_text()
    received = re.search(r"受理 (\d+) 件", page.locator("p[data-totals]").inner_text()).group(1)

    printed = page.pdf(format="A4", print_background=True)

    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", printed)) == 1
    # Chromium compresses the page's text; the figures are checked on the page it printed from, and the
    # printed page must not carry the screen-only parts (menu, filters)
    page.emulate_media(media="print")
    assert not page.locator("form.filters").is_visible() and not page.locator("header.shell").is_visible()
    assert page.locator("tr[data-rate=response] td").nth(1).inner_text() == response
    assert re.fullmatch(r"\d+\.\d%|—", response) and int(received) > 0
