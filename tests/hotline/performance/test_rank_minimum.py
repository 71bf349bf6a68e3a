"""A unit with a handful of requests is listed but not ranked, and its change is not a mover."""

from __future__ import annotations

from datetime import date

import pytest

from cityloop.hotline.models import MonthlyStat
from cityloop.hotline.performance import leaders

pytestmark = pytest.mark.django_db

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def _month(street, month, *, received, resolved, satisfied):
    MonthlyStat.objects.create(
        month=month,
        unit_kind="street",
        unit_id=street.pk,
        received=received,
        response_due=received,
        responded=received,
        followed_up=received,
        resolved=resolved,
        satisfied=satisfied,
    )


@pytest.fixture
def streets(city):
    from cityloop.org import queries as org_queries

    return list(org_queries.places(city, level="street").order_by("code")[:2])


def test_one_perfect_case_is_listed_without_a_rank_and_the_busy_street_is_first(city, streets, settings):
    settings.HOTLINE = {**settings.HOTLINE, "rank_min_received": 5}
    tiny, busy = streets
    _month(tiny, NOV, received=1, resolved=1, satisfied=1)  # 100 % on one case
    _month(busy, NOV, received=40, resolved=30, satisfied=28)
    rows = {row.unit.pk: row for row in leaders.ranking("street", NOV, city)}
    assert rows[busy.pk].rank == 1
    assert rows[tiny.pk].rank is None and rows[tiny.pk].score is not None  # its rates are still shown
    assert [row.unit.pk for row in leaders.ranking("street", NOV, city)][-1] == tiny.pk


def test_a_change_from_an_unranked_month_is_not_a_mover(city, streets, settings):
    settings.HOTLINE = {**settings.HOTLINE, "rank_min_received": 5}
    street = streets[0]
    _month(street, OCT, received=2, resolved=0, satisfied=0)  # 0 % on two cases: not ranked
    _month(street, NOV, received=20, resolved=19, satisfied=19)
    rows = leaders.ranking("street", NOV, city)
    [row] = [r for r in rows if r.unit.pk == street.pk]
    assert row.rank == 1 and row.change is None
    assert leaders.movers(rows) == ([], [])


def test_the_ranking_page_says_why_a_unit_has_no_rank(client, city, streets, leader_sun, settings):
    settings.HOTLINE = {**settings.HOTLINE, "rank_min_received": 5}
    _month(streets[0], NOV, received=1, resolved=1, satisfied=1)
    client.force_login(leader_sun)
    page = client.get(
        "/leaders/rankings/street/?month=2026-11", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "当月诉求少于 5 件的单位只列出各项比率，不参与排名" in page
