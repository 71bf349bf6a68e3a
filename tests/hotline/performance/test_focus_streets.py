"""治理类街乡: the month's streets with the most requests per 10,000 residents (performance/focus.py).

The tiny pack gives D1S1 50,000 residents, D1S2 20,000, D2S1 100,000 and D2S2 none.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.urls import reverse

from cityloop.hotline.models import MonthlyStat
from cityloop.hotline.performance import focus
from cityloop.org.models import Jurisdiction
from tests.clients import client_for

pytestmark = pytest.mark.django_db

OCTOBER, SEPTEMBER = date(2026, 10, 1), date(2026, 9, 1)


def _stat(city, code: str, month: date, received: int, **counts) -> None:
    street = Jurisdiction.objects.get(city=city, code=code)
    MonthlyStat.objects.create(
        month=month, unit_kind="street", unit_id=street.pk, received=received, **counts
    )


@pytest.fixture
def months(city):
    """October and September counts, as the monthly recount leaves them (two rows for one street: two
    categories, summed)."""
    _stat(city, "D1S1", OCTOBER, 6, response_due=6, responded=6, followed_up=4, resolved=2, satisfied=3)
    _stat(city, "D1S1", OCTOBER, 4, response_due=4, responded=3, followed_up=0)
    _stat(city, "D1S2", OCTOBER, 4)  # 2.0 per 10,000 but under the minimum of 5
    _stat(city, "D2S1", OCTOBER, 30, response_due=20, responded=19, followed_up=10, resolved=9, satisfied=10)
    _stat(city, "D2S2", OCTOBER, 50, followed_up=2, resolved=1, satisfied=1)
    _stat(city, "D1S1", SEPTEMBER, 20, response_due=10, responded=8, followed_up=5, resolved=5, satisfied=5)
    _stat(city, "D2S1", SEPTEMBER, 5)
    return city


def test_the_list_ranks_streets_by_requests_per_10000_residents_above_the_minimum(months, settings):
    settings.HOTLINE = {**settings.HOTLINE, "rank_min_received": 5, "governance_streets_top": 10}

    found = focus.focus_list(months, OCTOBER)

    assert [(r.street.code, r.rank, r.received, r.per_10k) for r in found.listed] == [
        ("D2S1", 1, 30, 3.0),  # 30 × 10,000 ÷ 100,000
        ("D1S1", 2, 10, 2.0),  # 10 × 10,000 ÷ 50,000
    ]
    assert found.below_minimum == 1  # D1S2: 4 requests
    assert [(r.street.code, r.per_10k, r.rank) for r in found.no_population] == [("D2S2", None, None)]
    assert (found.streets, found.with_population) == (4, 3)
    assert found.population_illustrative and "Test figures" in found.population_note


def test_the_change_is_against_last_month_per_10000_and_for_each_rate(months, settings):
    settings.HOTLINE = {**settings.HOTLINE, "rank_min_received": 5, "governance_streets_top": 10}

    d1s1 = next(r for r in focus.focus_list(months, OCTOBER).listed if r.street.code == "D1S1")

    assert (d1s1.previous.received, d1s1.previous_per_10k, d1s1.per_10k_change) == (20, 4.0, -2.0)
    assert d1s1.rates == {"response": 0.9, "resolution": 0.5, "satisfaction": 0.75}
    assert d1s1.previous_rates == {"response": 0.8, "resolution": 1.0, "satisfaction": 1.0}
    assert d1s1.rate_changes["response"] == pytest.approx(0.1)
    assert d1s1.rate_changes["resolution"] == pytest.approx(-0.5)
    assert d1s1.listed_before  # September: 4.0 per 10,000 with 20 requests
    d2s1 = next(r for r in focus.focus_list(months, OCTOBER).listed if r.street.code == "D2S1")
    assert d2s1.listed_before  # 5 requests, just enough


def test_only_the_top_n_are_listed_and_ties_go_to_the_street_with_more_requests(city, settings):
    settings.HOTLINE = {**settings.HOTLINE, "rank_min_received": 1, "governance_streets_top": 2}
    _stat(city, "D1S1", OCTOBER, 10)  # 2.0
    _stat(city, "D1S2", OCTOBER, 4)  # 2.0, fewer requests
    _stat(city, "D2S1", OCTOBER, 30)  # 3.0

    found = focus.focus_list(city, OCTOBER)

    assert [r.street.code for r in found.listed] == ["D2S1", "D1S1"]
    assert not any(r.listed_before for r in found.listed)


def test_a_district_narrows_the_list_to_its_streets(months, settings):
    settings.HOTLINE = {**settings.HOTLINE, "rank_min_received": 5}
    d1 = Jurisdiction.objects.get(city=months, code="D1")

    found = focus.focus_list(months, OCTOBER, district_id=d1.pk)

    assert [r.street.code for r in found.listed] == ["D1S1"] and found.no_population == []


def test_the_page_opens_on_the_last_complete_month_in_both_languages(months, leader_sun):
    page = client_for(leader_sun).get(reverse("leaders:governance-streets"))
    assert page.status_code == 200
    assert page.context["month"] == OCTOBER  # the clock says 2026-11-18: November is running
    html = page.content.decode()
    assert "治理类街乡" in html and "示意" in html and "无人口数据" in html
    listed = html[html.index("data-focus-list") : html.index("data-no-population")]
    assert listed.index('data-street="D2S1"') < listed.index('data-street="D1S1"')
    assert "<script" not in html[html.index("<main") :]
    english = client_for(leader_sun, "en").get(reverse("leaders:governance-streets"), {"month": "2026-09"})
    text = english.content.decode()
    assert "Streets for focused governance" in text and "illustrative, not real" in text
    assert english.context["focus"].month == SEPTEMBER


def test_the_page_is_for_leaders_and_the_dispatch_centre(months, leader_sun, street_chen, citizen_wang):
    url = reverse("leaders:governance-streets")
    assert client_for(leader_sun).get(url).status_code == 200
    assert client_for(street_chen).get(url).status_code == 403
    assert client_for(citizen_wang).get(url).status_code == 403


def test_the_monthly_report_shows_the_list_in_html_and_xlsx(months, leader_sun):
    from openpyxl import load_workbook

    client = client_for(leader_sun, "en")
    html = client.get(reverse("leaders:report"), {"month": "2026-10"}).content.decode()
    section = html[html.index("data-focus") :]
    assert "Streets for focused governance" in section and 'data-street="D2S1"' in section

    answer = client.get(reverse("leaders:report"), {"month": "2026-10", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(answer.content))["Streets for focused governance"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0].startswith("The population figures are illustrative, not real.")
    assert rows[1][:7] == [
        "Rank",
        "Street",
        "District",
        "Population",
        "Requests",
        "Last month's requests",
        "Per 10,000 residents",
    ]
    assert [r[:8] for r in rows[2:]] == [
        [1, "Chaoyangmen Subdistrict", "East District", 100000, 30, 5, 3.0, 2.5],
        [2, "Finance Street Subdistrict", "West District", 50000, 10, 20, 2.0, -2.0],
        [None, "Hepingli Subdistrict", "East District", None, 50, 0, "no population", None],
    ]
    assert rows[2][8:] == [95.0, 90.0, 100.0, "yes"]
