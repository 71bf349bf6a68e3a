"""Every rate pinned with small hand-computed cases, edge cases included."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.models import MonthlyStat, Request, Status
from cityloop.hotline.performance import actions as performance_actions
from cityloop.hotline.performance import rates, stats
from cityloop.hotline.performance.rates import Counts
from cityloop.org.models import Department, Jurisdiction


def test_rates_are_ratios_of_counts_and_none_without_data():
    c = Counts(
        received=10,
        response_due=8,
        responded=6,
        followed_up=5,
        resolved=3,
        satisfied=2,
        basic=1,
        orders=12,
        returned=3,
        overdue=2,
    )
    assert rates.response_rate(c) == 6 / 8
    assert rates.resolution_rate(c) == 3 / 5
    assert rates.satisfaction_rate(c) == 3 / 5
    assert rates.overdue_rate(c) == 2 / 10
    assert rates.returned_rate(c) == 3 / 12
    assert rates.rates(Counts()) == {name: None for name in rates.RATES}


def test_the_composite_uses_the_default_weights_and_skips_rates_without_data():
    c = Counts(response_due=10, responded=10, followed_up=10, resolved=5, satisfied=8)
    assert rates.composite(c) == pytest.approx(0.10 * 1.0 + 0.45 * 0.5 + 0.45 * 0.8)
    only_response = Counts(response_due=4, responded=1)
    assert rates.composite(only_response) == pytest.approx(0.25)
    assert rates.composite(Counts()) is None


def test_weights_must_add_up_to_one_and_the_streets_must_weigh_a_third():
    with pytest.raises(ValueError, match="add up to 1"):
        rates.check_weights({"response": 0.5, "resolution": 0.2, "satisfaction": 0.2})
    with pytest.raises(ValueError, match="1/3"):
        rates.check_assessment_weight(0.3)
    assert rates.check_assessment_weight(1 / 3) == pytest.approx(1 / 3)


def test_department_performance_blends_its_rates_with_the_streets_assessment():
    assessment = rates.assessment_score([80, 60], [5, 3])  # forms 0.70, ratings (4-1)/4 = 0.75
    assert assessment == pytest.approx((0.70 + 0.75) / 2)
    assert rates.performance(0.5, assessment, 0.4) == pytest.approx(0.6 * 0.5 + 0.4 * assessment)
    assert rates.performance(None, None, 0.4) is None
    assert rates.performance(0.5, None, 0.4) == 0.5


def test_the_monthly_report_sentence_uses_the_seeds_words():
    assert (
        rates.describe_change("resolution rate", 0.4011, 0.5386)
        == "resolution rate rose from 40.11% to 53.86%"
    )
    assert (
        rates.describe_change("satisfaction rate", 0.7293, 0.6121)
        == "satisfaction rate fell from 72.93% to 61.21%"
    )


@pytest.fixture
def counts_of(city):
    """The counts one request with these fields adds to its city's month (through the real rebuild)."""

    def make(**fields) -> Counts:
        now = timezone.now()
        row = {
            "status": Status.CLOSED,
            "created_at": now - timedelta(days=3),
            "response_due": now - timedelta(days=2),
            "first_response_at": now - timedelta(days=2, hours=1),
            "finish_due": now + timedelta(days=4),
            "replied_at": now - timedelta(days=1),
            "closed_at": now - timedelta(hours=12),
            "resolved": True,
            "satisfaction": "satisfied",
        }
        row.update(fields)
        Request.objects.all().delete()
        Request.objects.create(
            city=city, tracking_no="R000000-00001", channel="phone", title="t", description="d", **row
        )
        month = timezone.localtime(row["created_at"]).date().replace(day=1)
        performance_actions.recount_month(month, now=now, actor=SYSTEM)
        return stats.counts_by_unit("city", [month], unit_ids=[city.pk]).get(city.pk, Counts())

    return make


@pytest.mark.django_db
def test_a_request_answered_in_time_resolved_and_satisfied_counts_everywhere(counts_of):
    c = counts_of()
    assert (c.received, c.response_due, c.responded, c.followed_up, c.resolved, c.satisfied) == (
        1,
        1,
        1,
        1,
        1,
        1,
    )
    assert (c.overdue, c.closed, c.open_at_end) == (0, 1, 0)
    assert c.close_hours_sum == pytest.approx(60.0)


@pytest.mark.django_db
def test_a_request_still_open_at_period_end_counts_only_what_is_due(counts_of):
    now = timezone.now()
    c = counts_of(
        status=Status.IN_PROGRESS,
        response_due=now + timedelta(hours=2),
        first_response_at=None,
        replied_at=None,
        closed_at=None,
        resolved=None,
        satisfaction="",
    )
    assert (c.received, c.response_due, c.responded, c.followed_up, c.open_at_end) == (1, 0, 0, 0, 1)
    c = counts_of(
        status=Status.IN_PROGRESS,
        response_due=now - timedelta(hours=2),
        first_response_at=None,
        replied_at=None,
        closed_at=None,
        finish_due=now - timedelta(hours=1),
        resolved=None,
        satisfaction="",
    )
    assert (c.response_due, c.responded, c.overdue) == (1, 0, 1)


@pytest.mark.django_db
def test_a_late_answer_is_due_but_not_responded_and_a_late_reply_is_overdue(counts_of):
    now = timezone.now()
    c = counts_of(
        first_response_at=now - timedelta(days=1),
        replied_at=now - timedelta(hours=13),
        finish_due=now - timedelta(days=1),
    )
    assert (c.response_due, c.responded, c.overdue) == (1, 0, 1)


@pytest.mark.django_db
def test_a_request_never_followed_up_is_left_out_of_resolution_and_satisfaction(counts_of):
    c = counts_of(resolved=None, satisfaction="")
    assert (c.received, c.followed_up, c.resolved) == (1, 0, 0)
    assert rates.resolution_rate(c) is None


@pytest.mark.django_db
def test_a_merged_duplicate_counts_its_citizens_answer_but_not_the_handling(counts_of):
    c = counts_of(status=Status.MERGED, resolved=False, satisfaction="unsatisfied")
    assert (c.received, c.response_due, c.followed_up, c.resolved, c.satisfied) == (0, 0, 1, 0, 0)


@pytest.mark.django_db
def test_a_reopened_case_counts_its_latest_answer_once(counts_of):
    c = counts_of(
        resolved=True, satisfaction="basic", reopen_count=1
    )  # unsatisfied first, basic after reopen
    assert (c.received, c.followed_up, c.resolved, c.satisfied, c.basic) == (1, 1, 1, 0, 1)


@pytest.mark.django_db
def test_monthly_stats_attribute_requests_to_their_areas_and_departments(
    submit, dispatcher_li, dept_water_zhao, city
):
    first = submit()
    [order] = actions.accept_suggestion(first, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.record_contact(order, channel="phone", summary="已联系", actor=dept_water_zhao)
    actions.reply_order(order, outcome="resolved", text="已修复", actor=dept_water_zhao)
    actions.record_follow_up(
        Request.objects.get(pk=first.pk),
        resolved=True,
        satisfaction="satisfied",
        channel="phone",
        actor=dispatcher_li,
    )
    second = submit(place="D1S1C2")
    [order2] = actions.accept_suggestion(second, actor=dispatcher_li)
    actions.return_order(order2, reason="不归我们管", actor=dept_water_zhao)
    month = timezone.localdate().replace(day=1)
    performance_actions.recount_month(month, actor=SYSTEM)
    street = Jurisdiction.objects.get(city=city, code="D1S1")
    water = Department.objects.get(city=city, code="WATER")
    [street_counts] = stats.counts_by_unit("street", [month], unit_ids=[street.pk]).values()
    assert (street_counts.received, street_counts.responded, street_counts.followed_up) == (2, 1, 1)
    assert (street_counts.orders, street_counts.returned) == (2, 1)
    dept = stats.counts_by_unit("department", [month])[water.pk]
    assert (dept.received, dept.orders, dept.returned, dept.resolved) == (2, 2, 1, 1)
    assert rates.returned_rate(dept) == 0.5
    performance_actions.recount_month(month, actor=SYSTEM)  # rebuilding replaces, never doubles
    assert stats.counts_by_unit("department", [month])[water.pk].received == 2
    assert MonthlyStat.objects.filter(month=month, unit_kind="district").count() == 1


def test_month_arithmetic_crosses_years():
    assert stats.next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert stats.previous_month(date(2027, 1, 1)) == date(2026, 12, 1)
