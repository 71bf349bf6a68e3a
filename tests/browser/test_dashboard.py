"""The leaders' dashboard, rankings and monthly report in a real browser, JavaScript off."""

from __future__ import annotations

import re

import pytest

from cityloop.core.actors import SYSTEM
from cityloop.hotline.loaders import synthetic
from cityloop.hotline.performance import actions as performance_actions
from cityloop.hotline.performance import stats
from cityloop.org.models import Jurisdiction
from tests.browser.conftest import login, switch_language
from tests.conftest import PERSONA_PASSWORD


@pytest.fixture
def history(city):
    synthetic.generate(city, n=400, months=3, seed=5)
    performance_actions.recount_all(actor=SYSTEM)
    return stats.months_with_data()


def test_a_leader_reads_the_dashboard_map_filters_rankings_and_report_in_chinese(
    page, city, history, leader_sun
):
    login(page, "leader_sun", PERSONA_PASSWORD)
    page.goto("/leaders/")
    assert "领导驾驶舱" in page.locator("h1").inner_text()
    # the city's map shows its districts, named on the map; a click on one shows its streets
    shapes = page.locator("svg.choropleth path[data-key]")
    assert shapes.count() == 2
    titles = [shapes.nth(i).locator("title").text_content() for i in range(2)]
    labels = set(Jurisdiction.objects.filter(city=city, level="district").values_list("name", flat=True))
    assert {t.split(":")[0] for t in titles} == labels
    assert set(page.locator("svg.choropleth g.labels text").all_text_contents()) == labels
    assert all(re.search(r": (\d+\.\d%|无数据)$", t) for t in titles), titles
    assert page.locator("svg.choropleth g.legend rect").count() >= 2
    assert page.locator("svg.choropleth > title").text_content() == "满意率"

    # the filters are a plain GET form: no JavaScript needed
    page.select_option("select[name=district]", label="西城区")
    page.select_option("select[name=rate]", value="resolution")
    page.click("form.filters button[type=submit]")
    assert "district=" in page.url and "rate=resolution" in page.url
    assert page.locator("svg.choropleth path").count() == 2
    assert page.locator("svg.choropleth > title").text_content() == "解决率"
    # a street on the district's map lists its requests on the search page; the trail leads back up
    page.click("svg.choropleth a >> nth=0")
    assert "/hotline/search/" in page.url and "street=" in page.url
    page.go_back()
    page.click("nav.crumbs a")
    assert "district=" not in page.url and "rate=resolution" in page.url
    assert page.locator("svg.choropleth path[data-key]").count() == 2
    page.click("svg.choropleth a >> nth=0")
    assert "district=" in page.url
    assert page.locator("[data-map-level=street]").count() == 1

    page.click("main a:has-text('排名')")
    assert "排名" in page.locator("h1").inner_text() and "街乡" in page.locator("h1").inner_text()
    assert page.locator("table.ranking tbody tr").count() == 4
    page.click("nav.tabs a:has-text('部门')")
    assert page.locator("table.ranking th", has_text="街乡考核").count() == 1
    first_unit = page.locator("table.ranking tbody tr a").first
    name = first_unit.inner_text()
    first_unit.click()
    assert name in page.locator("h1").inner_text()
    assert page.locator("svg.line-chart polyline").count() >= 1

    page.goto("/leaders/report/")
    sentences = page.locator("ul.sentences li").all_inner_texts()
    assert any(
        re.fullmatch(r"解决率 (从 \d+\.\d\d% (升至|降至) \d+\.\d\d%|保持在 \d+\.\d\d%)", s) for s in sentences
    ), sentences


def test_the_report_reads_in_english_with_the_seeds_sentence(page, city, history, leader_sun):
    login(page, "leader_sun", PERSONA_PASSWORD)
    page.goto("/leaders/report/")
    switch_language(page, "en")
    assert "Monthly report" in page.locator("h1").inner_text()
    sentences = page.locator("ul.sentences li").all_inner_texts()
    assert any(
        re.fullmatch(
            r"resolution rate (rose|fell) from \d+\.\d\d% to \d+\.\d\d%|resolution rate held at "
            r"\d+\.\d\d%",
            s,
        )
        for s in sentences
    ), sentences
    with page.expect_download() as download:
        page.click("a:has-text('Download XLSX')")
    assert download.value.suggested_filename.startswith("cityloop-report-")
