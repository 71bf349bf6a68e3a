"""The leaders' pages: dashboard, rankings, trends, the monthly report (HTML and XLSX), and their roles."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cityloop.core.actors import SYSTEM
from cityloop.hotline.loaders import synthetic
from cityloop.hotline.models import Assessment, FollowUp, MonthlyStat, Order, OrderStatus, Request, Status
from cityloop.hotline.performance import actions as performance_actions
from cityloop.hotline.performance import stats
from cityloop.org.models import Category, Department, Jurisdiction
from tests.clients import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(city):
    """Four months of synthetic history in the tiny city, recounted."""
    generated = synthetic.generate(city, n=600, months=4, seed=11)
    performance_actions.recount_all(actor=SYSTEM)
    return generated


def test_synthetic_history_has_every_state_a_real_city_has_and_ids_that_hold_together(city, history):
    requests = Request.objects.filter(city=city)
    assert requests.count() == 600 == history.requests
    assert {Status.CLOSED, Status.IN_PROGRESS} == set(requests.values_list("status", flat=True))
    assert Order.objects.count() == history.orders > 600
    assert Order.objects.filter(status=OrderStatus.RETURNED).exists()
    assert FollowUp.objects.count() == history.follow_ups == requests.exclude(resolved=None).count()
    assert set(FollowUp.objects.values_list("satisfaction", flat=True)) == {
        "satisfied",
        "basic",
        "unsatisfied",
    }
    closed = requests.filter(status=Status.CLOSED).first()
    assert closed.closed_at > closed.created_at and closed.first_response_at <= closed.closed_at
    assert closed.orders.exclude(status=OrderStatus.RETURNED).get().replied_at == closed.closed_at
    # the sequences moved past the ids written in bulk: an ordinary insert still works
    fresh = Request.objects.create(
        city=city,
        tracking_no="T-after-bulk",
        channel="web",
        title="t",
        description="d",
        created_at=timezone.now(),
    )
    assert fresh.pk > max(requests.exclude(pk=fresh.pk).values_list("pk", flat=True))
    assert len(stats.months_with_data()) >= 4


@pytest.mark.parametrize("name,args", [("leaders:dashboard", []), ("leaders:report", [])])
def test_the_dashboard_and_report_are_for_leaders_and_the_dispatch_centre(
    name,
    args,
    history,
    leader_sun,
    dispatcher_li,
    admin_zhang,
    auditor_qian,
    street_chen,
    dept_water_zhao,
    citizen_wang,
):
    url = reverse(name, args=args)
    for user in (leader_sun, dispatcher_li, admin_zhang, auditor_qian):
        assert client_for(user).get(url).status_code == 200, user.username
    for user in (street_chen, dept_water_zhao, citizen_wang):
        assert client_for(user).get(url).status_code == 403, user.username
    assert Client().get(url).status_code == 302


def test_rankings_and_trends_are_open_to_streets_and_departments_but_not_citizens(
    city, history, leader_sun, street_chen, dept_water_zhao, citizen_wang
):
    street = Jurisdiction.objects.get(city=city, code="D1S1")
    for user in (leader_sun, street_chen, dept_water_zhao):
        client = client_for(user)
        for kind in ("district", "street", "community", "department"):
            assert client.get(reverse("leaders:ranking", args=[kind])).status_code == 200
        assert client.get(reverse("leaders:trend", args=["street", street.pk])).status_code == 200
    assert client_for(leader_sun).get(reverse("leaders:ranking", args=["planet"])).status_code == 404
    assert client_for(citizen_wang).get(reverse("leaders:ranking", args=["street"])).status_code == 403
    assert (
        client_for(citizen_wang).get(reverse("leaders:trend", args=["street", street.pk])).status_code == 403
    )
    assert client_for(street_chen).get(reverse("leaders:rankings")).url.endswith("/rankings/street/")
    assert client_for(dept_water_zhao).get(reverse("leaders:rankings")).url.endswith("/rankings/department/")


def test_the_dashboard_maps_every_district_then_every_street_with_a_hover_title_and_a_legend(
    city, history, leader_sun
):
    month = stats.months_with_data()[-2]
    client = client_for(leader_sun, "en")
    for district in [None, *Jurisdiction.objects.filter(city=city, level="district")]:
        query = {"to": f"{month:%Y-%m}", "rate": "response", "district": district.pk if district else ""}
        html = client.get(reverse("leaders:dashboard"), query).content.decode()
        svg = html[html.index("<svg") : html.index("</svg>")]
        areas = Jurisdiction.objects.filter(city=city, level="street" if district else "district")
        if district:
            areas = areas.filter(parent=district)
        assert svg.count("<path") == areas.count()
        for area in areas:
            assert re.search(rf"<title>{re.escape(area.label)}: (\d+\.\d%|no data)</title>", svg), area.label
        assert 'class="legend"' in svg
    page = client.get(reverse("leaders:dashboard"), {"to": f"{month:%Y-%m}"})
    html = page.content.decode()
    received = Request.objects.filter(
        created_at__gte=stats.month_bounds(month)[0], created_at__lt=stats.month_bounds(month)[1]
    ).count()
    assert f'data-total="received">{received}<' in html


def test_the_dashboard_filters_by_district_category_and_period(city, history, leader_sun):
    client = client_for(leader_sun)
    months = stats.months_with_data()
    first, last = months[0], months[-1]
    everything = client.get(reverse("leaders:dashboard"), {"from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}"})
    assert everything.context["data"].totals.received == Request.objects.count()
    district = Jurisdiction.objects.get(city=city, code="D1")
    only_d1 = client.get(
        reverse("leaders:dashboard"),
        {"from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}", "district": district.pk},
    )
    assert only_d1.context["data"].totals.received == Request.objects.filter(district=district).count()
    assert only_d1.content.decode().count("<path") == 2  # D1's two streets
    water = Category.objects.get(city=city, code="02")
    only_water = client.get(
        reverse("leaders:dashboard"), {"from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}", "category": water.pk}
    )
    assert (
        only_water.context["data"].totals.received
        == Request.objects.filter(category__code__startswith="02").count()
    )
    assert client.get(reverse("leaders:dashboard"), {"to": "garbage", "district": "x"}).status_code == 200


@pytest.fixture
def two_months(city):
    """City-wide counts for two hand-picked months: resolution 40% → 54%, satisfaction 61% → 73%."""
    this = timezone.localdate().replace(day=1)
    last = stats.previous_month(this)
    for month, resolved, satisfied in ((last, 40, 61), (this, 54, 73)):
        MonthlyStat.objects.create(
            month=month,
            unit_kind="city",
            unit_id=city.pk,
            received=100,
            response_due=100,
            responded=90,
            followed_up=100,
            resolved=resolved,
            satisfied=satisfied,
        )
    return last, this


def test_the_monthly_report_says_what_changed_in_the_seeds_words(two_months, leader_sun):
    _last, this = two_months
    english = client_for(leader_sun, "en").get(reverse("leaders:report"), {"month": f"{this:%Y-%m}"})
    assert "resolution rate rose from 40.00% to 54.00%" in english.content.decode()
    assert "satisfaction rate rose from 61.00% to 73.00%" in english.content.decode()
    assert "response rate held at 90.00%" in english.content.decode()


def test_the_monthly_report_downloads_as_a_workbook_with_the_sentence(two_months, leader_sun):
    from openpyxl import load_workbook

    _last, this = two_months
    answer = client_for(leader_sun, "en").get(
        reverse("leaders:report"), {"month": f"{this:%Y-%m}", "format": "xlsx"}
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    book = load_workbook(io.BytesIO(answer.content))
    lines = [row[0] for row in book.worksheets[0].iter_rows(values_only=True)]
    assert "resolution rate rose from 40.00% to 54.00%" in lines
    assert len(book.worksheets) == 5  # summary + districts, streets, departments + 治理类街乡


def test_a_ranking_downloads_as_a_workbook_keeping_its_filters(city, history, leader_sun):
    from openpyxl import load_workbook

    month = stats.months_with_data()[-2]
    district = Jurisdiction.objects.get(city=city, code="D2")
    page = client_for(leader_sun).get(
        reverse("leaders:ranking", args=["street"]), {"month": f"{month:%Y-%m}", "district": district.pk}
    )
    assert f"district={district.pk}" in page.context["query"]
    answer = client_for(leader_sun).get(
        reverse("leaders:ranking", args=["street"]),
        {"month": f"{month:%Y-%m}", "district": district.pk, "format": "xlsx"},
    )
    sheet = load_workbook(io.BytesIO(answer.content)).worksheets[0]
    units = {row[1] for row in list(sheet.iter_rows(values_only=True))[1:]}
    assert units <= {str(s) for s in Jurisdiction.objects.filter(parent=district, level="street")}
    assert units


def test_department_rankings_blend_in_the_streets_assessment(city, history, leader_sun, street_chen):
    month = stats.months_with_data()[-2]
    water = Department.objects.get(city=city, code="WATER")
    plain = client_for(leader_sun).get(
        reverse("leaders:ranking", args=["department"]), {"month": f"{month:%Y-%m}"}
    )
    before = next(r for r in plain.context["rows"] if r.unit.pk == water.pk)
    assert before.assessment is None
    Assessment.objects.create(
        street=street_chen.street,
        department=water,
        month=month,
        score=100,
        assessed_by=street_chen,
        assessed_at=timezone.now(),
    )
    page = client_for(leader_sun).get(
        reverse("leaders:ranking", args=["department"]), {"month": f"{month:%Y-%m}"}
    )
    row = next(r for r in page.context["rows"] if r.unit.pk == water.pk)
    weight = settings.HOTLINE["assessment_weight"]
    assert row.assessment == 1.0
    assert row.score == pytest.approx((1 - weight) * before.score + weight * 1.0)
    trend = client_for(leader_sun).get(reverse("leaders:trend", args=["department", water.pk]))
    assert any(assessed == 1.0 for _m, _c, _r, assessed in trend.context["table"])


def test_rankings_show_last_months_rank_and_the_movers(city, history, leader_sun):
    month = stats.months_with_data()[-2]
    page = client_for(leader_sun).get(
        reverse("leaders:ranking", args=["street"]), {"month": f"{month:%Y-%m}"}
    )
    rows = page.context["rows"]
    assert [r.rank for r in rows if r.rank] == list(range(1, len([r for r in rows if r.rank]) + 1))
    assert any(r.previous_rank for r in rows)
    best, worst = page.context["best"], page.context["worst"]
    assert all(r.change > 0 for r in best) and all(r.change < 0 for r in worst)


def test_the_leaders_pages_join_the_menu_for_their_roles(leader_sun, street_chen, citizen_wang):
    from cityloop.web.context import navigation_for

    assert {"leaders:dashboard", "leaders:rankings", "leaders:report"} <= {
        i["name"] for i in navigation_for(leader_sun)
    }
    assert {i["name"] for i in navigation_for(street_chen)} & {
        "leaders:dashboard",
        "leaders:rankings",
    } == {"leaders:rankings"}
    assert not {i["name"] for i in navigation_for(citizen_wang)} & {
        "leaders:dashboard",
        "leaders:rankings",
    }


def test_a_month_without_data_shows_dashes_not_zeros(city, leader_sun):
    page = client_for(leader_sun).get(reverse("leaders:dashboard"), {"to": f"{date(2020, 1, 1):%Y-%m}"})
    assert page.status_code == 200
    assert 'data-rate="resolution">—<' in page.content.decode()


def test_a_bulk_load_that_rebuilds_the_indexes_leaves_them_all_in_place(city):
    from django.db import connection

    def indexes():
        with connection.cursor() as cursor:
            return {
                table: sorted(name for name, _sql in synthetic._secondary_indexes(cursor, table))
                for table in ("hotline_request", "hotline_order", "hotline_follow_up")
            }

    before = indexes()
    assert before["hotline_request"]
    generated = synthetic.generate(city, n=300, months=2, seed=3, rebuild_indexes=True)
    assert indexes() == before
    assert Request.objects.count() == generated.requests
    assert Order.objects.filter(request__city=city).count() == generated.orders
