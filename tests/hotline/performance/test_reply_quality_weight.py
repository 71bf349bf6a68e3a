"""答复意见质量 as an optional weight in the rankings: off by default (the figures stay the rates'),
and when set, the mean quality of a unit's replies in the month blends into its score."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from cityloop.core import config
from cityloop.hotline.models import MonthlyStat, Order
from cityloop.hotline.performance import leaders, rates

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture
def streets(city):
    from cityloop.org import queries as org_queries

    return list(org_queries.places(city, level="street").order_by("code")[:2])


@pytest.fixture
def month_with_replies(streets, submit):
    """Two streets with the same rates; one replied well (0.9), the other poorly (0.3 and a None)."""
    for street in streets:
        MonthlyStat.objects.create(
            month=NOV,
            unit_kind="street",
            unit_id=street.pk,
            received=10,
            response_due=10,
            responded=10,
            followed_up=10,
            resolved=8,
            satisfied=8,
        )
    request = submit()
    now = timezone.now()
    for street, overall in [(streets[0], 0.9), (streets[1], 0.3), (streets[1], None)]:
        Order.objects.create(
            request=request,
            street=street,
            route="street",
            status="replied",
            dispatched_at=now - timedelta(days=2),
            response_due=now,
            finish_due=now,
            replied_at=now,
            reply="…",
            reply_quality=None if overall is None else {"overall": overall, "flagged": overall < 0.5},
        )
    return streets


def _scores(city):
    return {row.unit.pk: row for row in leaders.ranking("street", NOV, city)}


def test_off_by_default_the_scores_are_the_rates_alone(city, month_with_replies, settings):
    assert settings.HOTLINE["reply_quality_weight"] == 0
    good, poor = month_with_replies
    rows = _scores(city)
    assert rows[good.pk].score == rows[poor.pk].score == rates.composite(rows[good.pk].counts)
    assert rows[good.pk].reply_quality is None


def test_with_a_weight_the_better_replies_rank_first(city, month_with_replies, settings):
    settings.HOTLINE = {**settings.HOTLINE, "reply_quality_weight": 0.5}
    good, poor = month_with_replies
    rows = _scores(city)
    base = rates.composite(rows[good.pk].counts)
    assert rows[good.pk].reply_quality == pytest.approx(0.9)
    assert rows[poor.pk].reply_quality == pytest.approx(0.3)  # the unscored reply is left out
    assert rows[good.pk].score == pytest.approx(0.5 * base + 0.45)
    assert rows[poor.pk].score == pytest.approx(0.5 * base + 0.15)
    assert rows[good.pk].rank == 1 and rows[poor.pk].rank == 2


def test_the_ranking_page_says_so_and_shows_the_column_only_when_it_weighs(
    client, city, month_with_replies, leader_sun, settings
):
    client.force_login(leader_sun)
    url = "/leaders/rankings/street/?month=2026-11"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "data-reply-quality-weight" not in page and "Reply quality</th>" not in page
    settings.HOTLINE = {**settings.HOTLINE, "reply_quality_weight": 0.2}
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "data-reply-quality-weight" in page and "答复质量</th>" in page
    assert "占得分的 20%" in page and "<td>90.0%</td>" in page


def test_the_weight_is_checked():
    assert rates.with_reply_quality(0.8, None, 0.3) == 0.8  # no scored replies: unchanged
    assert rates.with_reply_quality(None, 0.9, 0.3) is None  # quality alone ranks nobody
    with pytest.raises(ValueError, match="between 0 and 0.5"):
        rates.check_reply_quality_weight(0.6)


def test_a_bad_weight_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("CITYLOOP_REPLY_QUALITY_WEIGHT", "0.9")
    with pytest.raises(config.ConfigError, match="CITYLOOP_REPLY_QUALITY_WEIGHT='0.9'"):
        config.reply_quality_weight(rates.check_reply_quality_weight)
