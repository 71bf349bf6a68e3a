"""The engine on the city's own requests: the adapter, the cache, governance tasks and the warnings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cityloop.core import schedule
from cityloop.core.models import AuditRecord
from cityloop.hotline.hotissues import actions, governance, live
from cityloop.hotline.models import HotIssueWarning, Status
from cityloop.notify.models import Message as Outbox
from cityloop.org.models import Department, Jurisdiction
from tests.hotline.hotissues.live_data import file, noise_issue, support

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _period():
    today = timezone.localdate()
    return today - timedelta(days=29), today


def test_a_request_is_a_message_its_caller_the_account_or_the_phone_and_its_supporters_likes(
    city, citizen_wang
):
    by_phone = file(city, "a", "b", days_ago=1, phone="138 1234-5678")
    same_phone = file(city, "a", "b", days_ago=1, phone="13812345678")
    by_account = file(city, "a", "b", days_ago=1, phone="13812345678", citizen=citizen_wang)
    nobody = file(city, "a", "b", days_ago=1)
    support(by_phone, 3)
    messages = {m.id: m for m in live.messages_of(live.requests_in(*_period()))}
    assert messages[str(by_phone.pk)].caller == messages[str(same_phone.pk)].caller
    assert "1381234" not in messages[str(by_phone.pk)].caller  # a keyed hash, never the phone itself
    assert messages[str(by_account.pk)].caller == f"u{citizen_wang.pk}"
    assert messages[str(nobody.pk)].caller == f"#{nobody.pk}"
    assert messages[str(by_phone.pk)].likes == 3 and messages[str(same_phone.pk)].likes == 0
    # the city's days: a request's time is its wall-clock time in the city
    assert messages[str(nobody.pk)].time == timezone.localtime(nobody.created_at).replace(tzinfo=None)


def test_the_issue_counts_distinct_callers_and_supporters_and_proposes_a_unit(city):
    rows = noise_issue(city, callers=4)
    support(rows[0], 5)
    file(city, "白塔寺门口占道经营", "白塔寺门口有人占道经营", days_ago=2, phone="13911112222")
    merged = file(city, "丽发新城小区搅拌站", "丽发新城小区搅拌站噪音", days_ago=1, phone="13655556666")
    merged.status = Status.MERGED
    merged.save(update_fields=["status"])
    for _ in range(3):  # the city brain's cases about devices near by are not people raising it
        file(city, "丽发新城小区设备失联", "丽发新城小区 水表 DEMO-1 失联", days_ago=1, channel="brain")
    issues = live.run(*_period())
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.messages, issue.callers, issue.likes) == (5, 4, 5)
    assert issue.key == rows[0].pk and set(issue.request_ids) == {r.pk for r in rows}
    assert issue.place_key == "丽发新城" and "丽发新城" in issue.label
    assert issue.warns_now and issue.flagged is not None
    assert issue.street_id == rows[0].street_id and issue.category_id == rows[0].category_id


def test_hot_issues_are_cached_per_period_and_district(city, django_assert_max_num_queries):
    noise_issue(city)
    first, last = _period()
    assert len(live.hot_issues(first, last)) == 1
    with django_assert_max_num_queries(0):
        assert len(live.hot_issues(first, last)) == 1
    east = Jurisdiction.objects.get(city=city, code="D2")
    assert live.hot_issues(first, last, east.pk) == []
    west = Jurisdiction.objects.get(city=city, code="D1")
    assert len(live.hot_issues(first, last, west.pk)) == 1


def _task(city, actor, **overrides):
    today = timezone.localdate()
    fields = {
        "city": city,
        "theme": "丽发新城搅拌站噪音",
        "place_key": "丽发新城",
        "words": ["噪音"],
        "departments": [Department.objects.get(city=city, code="CITYMGMT")],
        "measures": "夜间停工，安装隔音屏",
        "reduction_pct": 30,
        "baseline_month": governance.month_start(today),
        "deadline": today + timedelta(days=90),
        "actor": actor,
    }
    fields.update(overrides)
    return actions.create_governance_task(**fields)


def test_a_leader_makes_a_governance_task_and_it_is_audited(city, leader_sun):
    task = _task(city, leader_sun)
    assert task.created_by == leader_sun and list(task.departments.values_list("code", flat=True)) == [
        "CITYMGMT"
    ]
    record = AuditRecord.objects.get(action="governance_task.create")
    assert record.object_id == str(task.pk)


def test_only_leaders_and_the_dispatch_centre_make_governance_tasks(city, street_chen, citizen_wang):
    for person in (street_chen, citizen_wang):
        with pytest.raises(PermissionDenied):
            _task(city, person)
    assert not AuditRecord.objects.filter(action="governance_task.create").exists()


def test_a_task_without_units_measures_or_a_future_deadline_is_refused_naming_the_fields(city, dispatcher_li):
    with pytest.raises(ValidationError) as refused:
        _task(city, dispatcher_li, departments=[], measures=" ", deadline=timezone.localdate())
    assert {"departments", "measures", "deadline"} <= set(refused.value.message_dict)


def test_progress_counts_matching_requests_month_by_month_against_the_target(city, dispatcher_li):
    today = timezone.localdate()
    this_month = governance.month_start(today)
    last_month = governance.month_start(this_month - timedelta(days=1))
    baseline = governance.month_start(last_month - timedelta(days=1))
    task = _task(city, dispatcher_li, baseline_month=baseline)

    def at(month, n, title="丽发新城小区搅拌站噪音"):
        days_ago = (today - month).days - 2 if month != this_month else 0.1
        for _ in range(n):
            file(city, title, "夜里施工", days_ago=days_ago)

    at(baseline, 10)
    at(last_month, 6)
    at(this_month, 2)
    at(last_month, 4, title="丽发新城小区停车难")  # the place, not the theme's word
    at(last_month, 3, title="金融街搅拌站噪音")  # the word, another place
    p = governance.progress(task)
    assert [(m, n, whole) for m, n, whole in p.months] == [
        (baseline, 10, True),
        (last_month, 6, True),
        (this_month, 2, False),
    ]
    assert (p.baseline, p.target, p.latest, p.met) == (10, 7.0, 6, True)
    assert p.change == pytest.approx(-0.4)


def test_the_warning_job_tells_the_dispatch_centre_and_leaders_once(
    city, dispatcher_li, leader_sun, street_chen
):
    noise_issue(city, callers=3, repeat_caller=False)
    schedule.run_now("hotline.hot_issue_warnings")
    schedule.run_now("hotline.hot_issue_warnings")
    sent = Outbox.objects.filter(event="hotissue.warning")
    assert sorted(set(sent.values_list("user_id", flat=True))) == sorted([dispatcher_li.pk, leader_sun.pk])
    per_person = sent.filter(channel="inbox").values_list("user_id", flat=True)
    assert sorted(per_person) == sorted([dispatcher_li.pk, leader_sun.pk])
    warning = HotIssueWarning.objects.get()
    assert sent.first().key == f"hotissue:{warning.key}" and warning.callers == 3
    assert "丽发新城" in sent.filter(user=dispatcher_li, channel="inbox").get().subject


def test_two_callers_do_not_warn_and_a_grown_issue_is_not_warned_again(city, dispatcher_li):
    noise_issue(city, callers=2, repeat_caller=False)
    assert actions.warn_hot_issues(live.recent_issues(), actor=dispatcher_li) == []
    file(
        city,
        "丽发新城小区附近搅拌站半夜施工噪音",
        "搅拌站半夜施工噪音扰民",
        days_ago=0.5,
        phone="13700000001",
    )
    assert len(actions.warn_hot_issues(live.recent_issues(), actor=dispatcher_li)) == 1
    file(city, "丽发新城小区搅拌站噪音扰民", "丽发新城小区搅拌站晚上噪音", days_ago=0.1, phone="13700000002")
    assert actions.warn_hot_issues(live.recent_issues(), actor=dispatcher_li) == []
    assert HotIssueWarning.objects.count() == 1


def test_the_warning_job_keeps_the_default_page_warm_and_finds_issues_beyond_the_top(
    city, monkeypatch, django_assert_max_num_queries
):
    noise_issue(city)
    file(city, "白塔寺门口占道经营", "白塔寺门口有人占道经营摆摊", days_ago=3, phone="13911112222")
    file(city, "白塔寺门口占道经营摆摊", "白塔寺门口又有人占道经营", days_ago=2, phone="13911113333")
    schedule.run_now("hotline.hot_issue_warnings")
    first, last = _period()
    with django_assert_max_num_queries(0):
        assert len(live.hot_issues(first, last)) == 2
    cache.clear()
    monkeypatch.setattr(live, "TOP", 1)
    top = live.hot_issues(first, last)
    assert len(top) == 1
    other = live.find_issue(first, last, None, min(r for r in live.run(first, last, top=None)[1].request_ids))
    assert other is not None and other.key not in {i.key for i in top}
