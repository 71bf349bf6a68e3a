"""Query counts of the Open311 lists: requests and services cost the same for 2 rows as for 15.

Each test asks once to warm the per-process caches (service definitions, publication policy, locators),
counts the queries with a few rows, adds rows and counts again: the counts must be equal (no N+1). It
then pins an absolute ceiling, the count measured when the test was written, so a new query per answer
is noticed too. The clock is pinned by tests/conftest.py; the rows are filed now, inside the default
window of recent requests.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from cityloop.hotline.models import Request
from cityloop.org.models import Category
from tests.open311.conftest import parse

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 15


def _queries(client, url: str) -> tuple[list[str], object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:500])
    return [q["sql"] for q in captured.captured_queries], response


def _shape(sql: str) -> str:
    """The query with its literals blanked, so the same query for another row counts as the same."""
    return re.sub(r"'[^']*'|\b\d+\b", "?", sql)


def assert_flat(few: list[str], many: list[str]) -> None:
    """The same number of queries with FEW rows as with MANY; else name the queries that repeat."""
    grew = Counter(map(_shape, many)) - Counter(map(_shape, few))
    assert len(many) == len(few), (
        f"{len(few)} queries with {FEW} rows, {len(many)} with {MANY}; these repeat per row:\n"
        + "\n".join(f"{n} × {sql[:400]}" for sql, n in grew.most_common(5))
    )


# -- GET requests ----------------------------------------------------------------------------------


def _requests(city, tiny_places, dispatcher, water_user, street_user, n: int, start: int = 0) -> None:
    """``n`` requests in every shape a record reads: new, dispatched (a lead order with a due time),
    signed with a public note (status_notes), replied, in both published services and several places."""
    places = ("D1S1C1", "D1S1C2", "D1S2", "D2S1", "D2S2")
    for i in range(start, start + n):
        street_row = i % 2 == 1
        lon, lat = tiny_places["D1S1C1" if street_row else places[i % len(places)]]
        request, _ = actions.submit_request(
            Submission(
                description=f"开放接口{i}号，地址邮编100032",
                caller_phone="13812345678",
                lon=lon,
                lat=lat,
                category_code="01.01.01" if street_row else "02.01.01",
                address=f"金融街{i}号" if i % 3 else "",
            ),
            city=city,
            channel="phone",
            actor=SYSTEM,
        )
        stage = i % 4
        if stage == 0:
            continue
        [order] = actions.accept_suggestion(request, actor=dispatcher)
        if stage == 1:
            continue
        unit_user = street_user if street_row else water_user
        actions.sign_order(order, actor=unit_user)
        actions.add_note(order, text=f"已到现场{i}", public=True, actor=unit_user)
        if stage == 3:
            actions.reply_order(order, outcome="resolved", text=f"已处理{i}", actor=unit_user)


# Measured with this file: the same on SQLite and PostgreSQL.
REQUESTS_MAX = {"json": 6, "xml": 6, "json?extensions=true": 6}


@pytest.mark.parametrize("query", ["json", "xml", "json?extensions=true"])
def test_get_requests_costs_the_same_for_many_requests(
    query,
    client,
    city,
    tiny_places,
    dispatcher_li,
    dept_water_zhao,
    street_chen,
    django_assert_max_num_queries,
):
    url = f"/open311/v2/requests.{query}"
    users = (dispatcher_li, dept_water_zhao, street_chen)
    _requests(city, tiny_places, *users, FEW)
    client.get(url)
    few, response = _queries(client, url)
    assert len(_listed(response)) == FEW
    _requests(city, tiny_places, *users, MANY - FEW, start=FEW)
    many, response = _queries(client, url)
    assert len(_listed(response)) == MANY
    assert_flat(few, many)
    with django_assert_max_num_queries(REQUESTS_MAX[query]):
        client.get(url)


def _listed(response) -> list:
    parsed = parse(response)
    return parsed if isinstance(parsed, list) else parsed.findall("request")


REQUESTS_BY_ID_MAX = 6


def test_get_requests_by_id_costs_the_same_for_many_ids(
    client, city, tiny_places, dispatcher_li, dept_water_zhao, street_chen, django_assert_max_num_queries
):
    users = (dispatcher_li, dept_water_zhao, street_chen)
    _requests(city, tiny_places, *users, MANY)
    numbers = list(Request.objects.order_by("id").values_list("tracking_no", flat=True))

    def url(n: int) -> str:
        return f"/open311/v2/requests.json?service_request_id={','.join(numbers[:n])}"

    client.get(url(FEW))
    few, response = _queries(client, url(FEW))
    assert [r["service_request_id"] for r in parse(response)] == numbers[:FEW]
    many, response = _queries(client, url(MANY))
    assert [r["service_request_id"] for r in parse(response)] == numbers
    assert_flat(few, many)
    with django_assert_max_num_queries(REQUESTS_BY_ID_MAX):
        client.get(url(MANY))


# -- GET services ----------------------------------------------------------------------------------


def _services(city, n: int, start: int = 0) -> None:
    """``n`` more leaf categories (services) under 02.01 供水, each a service without a definition."""
    parent = Category.objects.get(city=city, code="02.01")
    for i in range(start, start + n):
        Category.objects.create(
            city=city,
            code=f"02.01.{i + 10:02d}",
            name=f"供水问题{i}",
            name_en=f"Water {i}",
            parent=parent,
            depth=3,
        )


SERVICES_MAX = 2


def test_get_services_costs_the_same_for_many_services(client, city, django_assert_max_num_queries):
    url = "/open311/v2/services.json"
    base = len(parse(client.get(url)))
    _services(city, FEW)
    client.get(url)
    few, response = _queries(client, url)
    assert len(parse(response)) == base + FEW
    _services(city, MANY - FEW, start=FEW)
    many, response = _queries(client, url)
    assert len(parse(response)) == base + MANY
    assert_flat(few, many)
    with django_assert_max_num_queries(SERVICES_MAX):
        client.get(url)
