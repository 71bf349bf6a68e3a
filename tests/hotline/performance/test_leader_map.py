"""The leaders' map (issue 17 #4): districts, then a district's streets, then a street's requests; the bad
end red whichever way a rate runs; no data hatched; open sensor alarms over it on request; 12 months'
trend lines with their table."""

from __future__ import annotations

import re
from datetime import date, datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cityloop.brain import queries as brain_queries
from cityloop.brain.models import Alarm, AlarmStatus, Device
from cityloop.core.doors import charts
from cityloop.hotline.models import MonthlyStat, Request
from cityloop.org.models import Department, Jurisdiction

pytestmark = pytest.mark.django_db

OCTOBER = date(2026, 10, 1)  # the last complete month under the pinned clock (2026-11-18)


def client_for(user, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def place(city, code: str) -> Jurisdiction:
    return Jurisdiction.objects.get(city=city, code=code)


def stat(kind: str, unit_id: int, *, received=10, followed=10, satisfied=5, overdue=0, month=OCTOBER):
    MonthlyStat.objects.create(
        month=month,
        unit_kind=kind,
        unit_id=unit_id,
        received=received,
        response_due=received,
        responded=received,
        followed_up=followed,
        resolved=satisfied,
        satisfied=satisfied,
        overdue=overdue,
    )


@pytest.fixture
def october(city):
    """D1 does well (90 % satisfied, nothing overdue), D2 badly (30 %, half overdue); of D1's streets
    only D1S1 has counts, D1S2 has none."""
    stat("city", city.pk, received=20, followed=20, satisfied=12, overdue=5)
    stat("district", place(city, "D1").pk, satisfied=9, overdue=0)
    stat("district", place(city, "D2").pk, satisfied=3, overdue=5)
    stat("street", place(city, "D1S1").pk, satisfied=9)
    # a year's trend: September too
    stat("city", city.pk, received=7, followed=4, satisfied=1, month=date(2026, 9, 1))
    return city


def svg_of(page) -> str:
    html = page.content.decode()
    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640')
    return html[start : html.index("</svg>", start)]


def fills(svg: str) -> dict[str, str]:
    return {
        key: fill for fill, key in re.findall(r'<path d="[^"]*" fill="([^"]*)"[^>]*data-key="(\d+)"', svg)
    }


def area_links(svg: str) -> dict[str, str]:
    return {
        key: unescape(href)
        for href, key in re.findall(r'<a href="([^"]*)" aria-label="[^"]*"><path [^>]*data-key="(\d+)"', svg)
    }


def test_the_city_map_shows_the_districts_named_on_it_each_a_link_to_its_streets(october, leader_sun):
    page = client_for(leader_sun).get(reverse("leaders:dashboard"))
    svg = svg_of(page)
    d1, d2 = place(october, "D1"), place(october, "D2")
    assert set(fills(svg)) == {str(d1.pk), str(d2.pk)}  # the districts, not the four streets
    labels = re.findall(r'<text x="[^"]*" y="[^"]*" data-key="(\d+)">([^<]*)</text>', svg)
    assert dict(labels) == {str(d1.pk): d1.label, str(d2.pk): d2.label}
    links = area_links(svg)
    query = parse_qs(urlsplit(links[str(d1.pk)]).query)
    assert urlsplit(links[str(d1.pk)]).path == reverse("leaders:dashboard")
    assert query["district"] == [str(d1.pk)] and query["to"] == ["2026-10"]
    html = page.content.decode()
    assert '<li aria-current="page">Testcity</li>' in html.replace(october.label, "Testcity")
    assert 'data-map-level="district"' in html


def test_a_district_shows_its_streets_and_a_street_leads_to_its_requests(october, leader_sun, submit):
    d1 = place(october, "D1")
    in_street = submit(place="D1S1C1", description="路灯不亮")  # received now: in November
    client = client_for(leader_sun)
    page = client.get(reverse("leaders:dashboard"), {"district": d1.pk, "from": "2026-11", "to": "2026-11"})
    svg = svg_of(page)
    streets = Jurisdiction.objects.filter(parent=d1, level="street")
    assert set(fills(svg)) == {str(s.pk) for s in streets}
    html = page.content.decode()
    assert 'data-map-level="street"' in html
    # the trail leads back up to the whole city, keeping the period
    crumb = re.search(r'<nav class="crumbs"[^>]*><ol>\s*<li><a href="([^"]*)">', html).group(1)
    assert "district" not in unescape(crumb) and "to=2026-11" in unescape(crumb)
    assert f'<li aria-current="page">{d1.label}</li>' in html
    street = place(october, "D1S1")
    link = area_links(svg)[str(street.pk)]
    assert urlsplit(link).path == reverse("hotline:search")
    assert parse_qs(urlsplit(link).query) == {
        "street": [street.code],
        "since": ["2026-11-01"],
        "until": ["2026-11-30"],
    }
    found = client.get(link)
    assert found.status_code == 200
    assert [r.pk for r in found.context["results"]] == [in_street.pk]
    assert found.context["total"] == Request.objects.filter(street=street).count() == 1


def test_a_street_officials_search_from_the_map_lists_only_what_it_may_see(october, street_chen, submit):
    """The map's street links lead to the ordinary search page, which scopes the results by who asks."""
    mine, other = submit(place="D1S1C1"), submit(place="D2S1")
    for request in (mine, other):
        assert request.street.code in {"D1S1", "D2S1"}
    client = client_for(street_chen)
    for street in ("D1S1", "D2S1"):
        found = client.get(reverse("hotline:search"), {"street": street, "since": "2026-11-01"})
        assert [r.pk for r in found.context["results"]] == ([mine.pk] if street == "D1S1" else [])


def test_the_bad_end_is_red_for_a_good_rate_and_for_a_bad_one(october, leader_sun):
    d1, d2 = str(place(october, "D1").pk), str(place(october, "D2").pk)
    client = client_for(leader_sun)
    satisfaction = fills(svg_of(client.get(reverse("leaders:dashboard"), {"rate": "satisfaction"})))
    assert (satisfaction[d2], satisfaction[d1]) == (charts.WORST_FIRST[0], charts.WORST_FIRST[-1])
    overdue = fills(svg_of(client.get(reverse("leaders:dashboard"), {"rate": "overdue"})))
    assert (overdue[d2], overdue[d1]) == (charts.WORST_FIRST[0], charts.WORST_FIRST[-1])
    svg = svg_of(client.get(reverse("leaders:dashboard"), {"rate": "overdue"}))
    assert "Dark red: the worst; hatched: no data" in svg
    legend = re.findall(r'<g class="key"><rect [^>]*fill="([^"]*)"[^>]*/><text [^>]*>([^<]*)</text>', svg)
    assert legend[0] == (charts.WORST_FIRST[-1], "0.0%–8.3%") and legend[-1] == (
        charts.NO_DATA_FILL,
        "no data",
    )


def test_a_street_without_counts_is_hatched_and_named_no_data_in_chinese(october, leader_sun):
    d1 = place(october, "D1")
    page = client_for(leader_sun, "zh-hans").get(reverse("leaders:dashboard"), {"district": d1.pk})
    svg = svg_of(page)
    empty = place(october, "D1S2")
    assert fills(svg)[str(empty.pk)] == charts.NO_DATA_FILL == "url(#cl-no-data)"
    assert f'<pattern id="{charts.HATCH_ID}"' in svg
    assert f"<title>{empty.name}: 无数据</title>" in svg
    assert fills(svg)[str(place(october, "D1S1").pk)] != charts.NO_DATA_FILL


@pytest.fixture
def alarms(city):
    """An open alarm on a meter in D1S1, an awaiting one in D2S1, a closed one in D1S2."""
    department = Department.objects.filter(city=city).first()
    made = {}
    for code, spot, street, status in (
        ("W1", (116.02, 39.95), "D1S1", AlarmStatus.OPEN),
        ("W3", (116.25, 39.95), "D2S1", AlarmStatus.AWAITING),
        ("W2", (116.15, 39.85), "D1S2", AlarmStatus.CLOSED),
    ):
        street_row = place(city, street)
        device = Device.objects.create(
            code=code,
            idx=len(made),
            type="meter",
            kind="water",
            lon=spot[0],
            lat=spot[1],
            city=city,
            district_id=street_row.parent_id,
            street=street_row,
            department=department,
            interval_s=900,
            installed_at=datetime(2026, 1, 1, tzinfo=datetime.now().astimezone().tzinfo),
        )
        when = datetime(2026, 11, 17, 3, tzinfo=datetime.now().astimezone().tzinfo)
        made[code] = Alarm.objects.create(
            device=device, type="leak", status=status, first_ts=when, last_ts=when, tracking_no=f"S-{code}"
        )
    return made


def markers(svg: str) -> list[tuple[str, str]]:
    return [
        (unescape(href), label)
        for href, label in re.findall(
            r'<a href="([^"]*)" aria-label="([^"]*)"><path d="[^"]*" fill="#ffd400"', svg
        )
    ]


def test_open_sensor_alarms_appear_on_the_map_only_when_asked_with_a_key_and_a_link(
    october, alarms, leader_sun
):
    client = client_for(leader_sun)
    plain = svg_of(client.get(reverse("leaders:dashboard")))
    assert markers(plain) == [] and "open sensor alarm" not in plain
    page = client.get(reverse("leaders:dashboard"), {"alarms": "1"})
    svg = svg_of(page)
    found = markers(svg)
    assert sorted(href for href, _ in found) == [
        reverse("brain:device", args=["W1"]),
        reverse("brain:device", args=["W3"]),
    ]  # the closed alarm is not drawn
    assert any("W1" in label and "S-W1" in label for _, label in found)
    assert "open sensor alarm" in svg and 'data-alarms-shown="2"' in page.content.decode()
    # the checkbox stays ticked, and a district's map keeps only its own devices
    assert 'name="alarms" value="1" checked' in page.content.decode()
    d1 = place(october, "D1")
    inside = markers(svg_of(client.get(reverse("leaders:dashboard"), {"alarms": "1", "district": d1.pk})))
    assert [href for href, _ in inside] == [reverse("brain:device", args=["W1"])]


def test_the_alarms_for_the_map_are_one_bounded_query(alarms, leader_sun, street_chen):
    with CaptureQueriesContext(connection) as seen:
        rows = brain_queries.alarm_positions(leader_sun, limit=1)
    assert len(seen.captured_queries) == 1 and len(rows) == 1
    assert rows[0]["code"] in {"W1", "W3"}
    # a street official sees its own street's devices only
    assert [r["code"] for r in brain_queries.alarm_positions(street_chen)] == ["W1"]  # D1S1's official


def test_the_dashboard_draws_twelve_months_of_trend_with_units_and_a_table(october, leader_sun):
    html = client_for(leader_sun).get(reverse("leaders:dashboard")).content.decode()
    charts_found = re.findall(r'<svg [^>]*class="line-chart".*?</svg>', html, re.S)
    assert len(charts_found) == 2
    volume, three = charts_found
    assert '<text x="4" y="12" font-size="10" class="y-label">requests</text>' in volume
    assert 'class="y-label">%</text>' in three
    for chart in charts_found:
        clip = re.search(r'<clipPath id="([^"]+)">', chart).group(1)
        assert f'<g clip-path="url(#{clip})">' in chart
    assert "2025-11" in volume and "2026-10" in volume and "2025-10" not in volume
    table = html[html.index('<table tabindex="0" class="trend">') :]
    rows = re.findall(r"<tr><td>(\d{4}-\d\d)</td><td>(\d+)</td><td>([^<]*)</td>", table)
    assert len(rows) == 12 and rows[-2:] == [("2026-09", "7", "100.0%"), ("2026-10", "20", "100.0%")]
    assert rows[0] == ("2025-11", "0", "—")
