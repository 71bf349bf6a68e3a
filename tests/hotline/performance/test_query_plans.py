"""The leaders' hot pages never scan the request (or order) table on PostgreSQL.

Each page of the dashboard and the rankings is opened with every filter a leader's form offers, the
SQL it sends is captured, and PostgreSQL's plan for each statement (``EXPLAIN (FORMAT JSON)``, on a
history filled in bulk and ANALYZEd as autovacuum would) must not hold a ``Seq Scan`` of
``hotline_request`` or ``hotline_order``: at a million requests such a scan costs hundreds of
milliseconds (bench/bench_dashboard.py), whatever the filter. The pages read the monthly counts
(``hotline_monthly_stat``) and the overdue orders through their indexes; the requests only by key.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cityloop.core.actors import SYSTEM
from cityloop.hotline.loaders import synthetic
from cityloop.hotline.performance import actions as performance_actions
from cityloop.hotline.performance import stats
from cityloop.org.models import Category, Department, Jurisdiction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="query plans are checked on PostgreSQL, the production database (SQLite's planner differs)",
    ),
]

BIG_TABLES = ("hotline_request", "hotline_order")
# Enough rows that a scan of the big tables is costed as what it is, few enough for a quick test.
REQUESTS = 20_000


def scans(plan: dict) -> list[tuple[str, str]]:
    """Every (node type, relation) of a JSON plan, depth first."""
    found = [(plan["Node Type"], plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def seq_scans_of_big_tables(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (document,) = cursor.fetchone()
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return [relation for node, relation in scans(plan) if node == "Seq Scan" and relation in BIG_TABLES]


def analyze(*tables: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")


def leader_urls(city) -> list[str]:
    """Every filter of the dashboard's and the rankings' forms (the bench times the same variants), and
    where the dashboard's map leads."""
    months = stats.months_with_data()
    month, first = f"{months[-2]:%Y-%m}", f"{months[0]:%Y-%m}"
    district = Jurisdiction.objects.filter(city=city, level="district").order_by("code").first()
    street = Jurisdiction.objects.filter(city=city, level="street").order_by("code").first()
    category = Category.objects.filter(city=city, depth=1).order_by("code").first()
    department = Department.objects.filter(city=city).order_by("code").first()
    d, c = district.pk, category.pk
    return [
        "/leaders/",
        f"/leaders/?from={first}&to={month}",
        f"/leaders/?district={d}&to={month}",
        f"/leaders/?category={c}&to={month}",
        f"/leaders/?district={d}&category={c}&to={month}",
        f"/leaders/?rate=overdue&to={month}",
        f"/leaders/?alarms=1&to={month}",
        f"/leaders/?district={d}&alarms=1&to={month}",
        # a street on the district's map leads to its requests of those months (the search page)
        f"/hotline/search/?street={street.code}&since={first}-01&until={months[-2]:%Y-%m}-28",
        *(
            f"/leaders/rankings/{kind}/?month={month}"
            for kind in ("district", "street", "community", "department")
        ),
        f"/leaders/rankings/street/?month={month}&district={d}",
        f"/leaders/rankings/department/?month={month}&district={d}",
        f"/leaders/rankings/street/?month={month}&category={c}",
        f"/leaders/rankings/street/?month={month}&district={d}&category={c}",
        f"/leaders/report/?month={month}",
        f"/leaders/units/street/{street.pk}/",
        f"/leaders/units/department/{department.pk}/",
    ]


def test_no_leaders_page_scans_the_request_or_order_table(city, leader_sun):
    synthetic.generate(city, n=REQUESTS, months=4, seed=7)
    # ANALYZE (as autovacuum would after a bulk load) sees this transaction's own rows: the planner
    # knows the tables' real sizes, for the recount and for the pages
    analyze("hotline_request", "hotline_order", "hotline_follow_up")
    performance_actions.recount_all(actor=SYSTEM)
    analyze("hotline_monthly_stat")
    client = Client()
    client.force_login(leader_sun)
    checked, offending = 0, []
    for url in leader_urls(city):
        with CaptureQueriesContext(connection) as captured:
            answer = client.get(url)
        assert answer.status_code == 200, url
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            checked += 1
            if tables := seq_scans_of_big_tables(sql):
                offending.append(f"{url}: Seq Scan on {', '.join(tables)} in\n    {sql}")
    assert checked > 50  # the pages did run their queries
    assert not offending, "\n".join(offending)
