"""Query counts of the hotline's list pages: a page must cost the same with 2 rows as with 15 (no N+1).

Each test renders its page once to warm the per-process caches (locators, token lookups, category
paths), counts the queries with a few rows, adds rows and counts again: the counts must be equal. It
then pins an absolute ceiling, the count measured when the test was written, so a new query per page
is noticed as well as a new query per row. The clock is pinned by tests/conftest.py.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.models import Order
from cityloop.hotline.performance import actions as performance_actions

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 15
# Two categories so both routes show up: 01.01.01 goes to the street of the place, 02.01.01 straight to
# the water department.
STREET_CATEGORY, WATER_CATEGORY = "01.01.01", "02.01.01"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _queries(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return [q["sql"] for q in captured.captured_queries]


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


# -- the dispatcher's queue --------------------------------------------------------------------------


def _queue_rows(submit, n: int) -> list[str]:
    return [
        submit(category=(STREET_CATEGORY, WATER_CATEGORY)[i % 2], description=f"排队的诉求{i}").tracking_no
        for i in range(n)
    ]


# Every staff page also counts its person's unread notifications for the header's badge (one COUNT).
QUEUE_MAX = 12  # 8 for the page, 4 to suggest units for every row at once (was 7 + 7 per row)


def test_the_dispatch_queue_costs_the_same_for_many_requests(
    submit, dispatcher_li, django_assert_max_num_queries
):
    url = reverse("hotline:queue")
    client = _client_for(dispatcher_li)
    _queue_rows(submit, FEW)
    client.get(url)
    few = _queries(client, url)
    last = _queue_rows(submit, MANY - FEW)[-1]
    many = _queries(client, url)
    assert f'data-request="{last}"' in client.get(url).content.decode()
    assert_flat(few, many)
    with django_assert_max_num_queries(QUEUE_MAX):
        client.get(url)


def _extension_rows(submit, dispatcher, unit_user, n: int) -> str:
    """``n`` signed water orders, each with an extension waiting; returns the last tracking number."""
    for i in range(n):
        request = submit(category=WATER_CATEGORY, description=f"要延期的诉求{i}")
        [order] = actions.accept_suggestion(request, actor=dispatcher)
        actions.sign_order(order, actor=unit_user)
        actions.request_extension(order, days=3, reason=f"需要协调施工{i}", actor=unit_user)
    return request.tracking_no


QUEUE_WITH_EXTENSIONS_MAX = 8  # with the unread badge


def test_the_queues_extension_list_costs_the_same_for_many_extensions(
    submit, dispatcher_li, dept_water_zhao, django_assert_max_num_queries
):
    url = reverse("hotline:queue")
    client = _client_for(dispatcher_li)
    _extension_rows(submit, dispatcher_li, dept_water_zhao, FEW)
    client.get(url)
    few = _queries(client, url)
    last = _extension_rows(submit, dispatcher_li, dept_water_zhao, MANY - FEW)
    many = _queries(client, url)
    assert f">{last}</a>" in client.get(url).content.decode()
    assert_flat(few, many)
    with django_assert_max_num_queries(QUEUE_WITH_EXTENSIONS_MAX):
        client.get(url)


# -- a unit's inbox --------------------------------------------------------------------------------


def _inbox_rows(submit, dispatcher, street_user, tab: str, n: int) -> str:
    """``n`` orders of 金融街街道 on ``tab``; returns the last one's tracking number."""
    for i in range(n):
        request = submit(category=STREET_CATEGORY, description=f"收件箱{tab}{i}")
        [order] = actions.accept_suggestion(request, actor=dispatcher)
        if tab in ("in_progress", "overdue"):
            actions.sign_order(order, actor=street_user)
        if tab == "overdue":
            Order.objects.filter(pk=order.pk).update(finish_due=timezone.now() - timedelta(hours=2 + i))
        if tab == "returned":
            actions.return_order(order, reason=f"不在本街道{i}", actor=street_user)
    return request.tracking_no


INBOX_MAX = {"new": 10, "in_progress": 10, "overdue": 10, "returned": 10}  # with the unread badge


@pytest.mark.parametrize("tab", ["new", "in_progress", "overdue", "returned"])
def test_each_inbox_tab_costs_the_same_for_many_orders(
    tab, submit, dispatcher_li, street_chen, django_assert_max_num_queries
):
    url = f"{reverse('hotline:inbox')}?tab={tab}"
    client = _client_for(street_chen)
    _inbox_rows(submit, dispatcher_li, street_chen, tab, FEW)
    client.get(url)
    few = _queries(client, url)
    last = _inbox_rows(submit, dispatcher_li, street_chen, tab, MANY - FEW)
    many = _queries(client, url)
    assert f'data-request="{last}"' in client.get(url).content.decode()
    assert_flat(few, many)
    with django_assert_max_num_queries(INBOX_MAX[tab]):
        client.get(url)


OVERDUE_PAGE_MAX = 6  # with the unread badge


def test_the_daily_overdue_list_costs_the_same_for_many_orders(
    submit, dispatcher_li, street_chen, django_assert_max_num_queries
):
    url = reverse("hotline:overdue")
    client = _client_for(street_chen)
    _inbox_rows(submit, dispatcher_li, street_chen, "overdue", FEW)
    client.get(url)
    few = _queries(client, url)
    last = _inbox_rows(submit, dispatcher_li, street_chen, "overdue", MANY - FEW)
    many = _queries(client, url)
    assert f'data-request="{last}"' in client.get(url).content.decode()
    assert_flat(few, many)
    with django_assert_max_num_queries(OVERDUE_PAGE_MAX):
        client.get(url)


# -- the leaders' dashboard ------------------------------------------------------------------------


def _dashboard_rows(submit, dispatcher, street_user, water_user, n: int) -> str:
    """``n`` requests, each with an overdue order (the dashboard lists up to 20), then the stats recounted;
    returns the last tracking number."""
    for i in range(n):
        street_row = i % 2 == 0
        request = submit(
            category=STREET_CATEGORY if street_row else WATER_CATEGORY,
            place=("D1S1C1", "D1S1C2", "D1S2", "D2S1")[i % 4] if not street_row else "D1S1C1",
            description=f"看板{i}",
        )
        [order] = actions.accept_suggestion(request, actor=dispatcher)
        actions.sign_order(order, actor=street_user if street_row else water_user)
        Order.objects.filter(pk=order.pk).update(finish_due=timezone.now() - timedelta(hours=2 + i))
    performance_actions.recount_all(actor=SYSTEM)
    return request.tracking_no


DASHBOARD_MAX = 20  # with the unread badge


def test_the_leaders_dashboard_costs_the_same_for_many_requests_and_overdue_orders(
    submit, dispatcher_li, street_chen, dept_water_zhao, leader_sun, django_assert_max_num_queries
):
    url = reverse("leaders:dashboard")
    client = _client_for(leader_sun)
    _dashboard_rows(submit, dispatcher_li, street_chen, dept_water_zhao, FEW)
    client.get(url)
    few = _queries(client, url)
    last = _dashboard_rows(submit, dispatcher_li, street_chen, dept_water_zhao, MANY - FEW)
    many = _queries(client, url)
    page = client.get(url).content.decode()
    assert f'data-total="received">{MANY}<' in page and f">{last}</a>" in page
    assert_flat(few, many)
    with django_assert_max_num_queries(DASHBOARD_MAX):
        client.get(url)
