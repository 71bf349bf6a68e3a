"""The hot-issue pages under /leaders/hot-issues/: who may open them, what they show, in both languages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from cityloop.core.models import AuditRecord
from cityloop.hotline.models import GovernanceTask, HotIssueWarning
from cityloop.org.models import Department
from tests.hotline.hotissues.live_data import noise_issue, support

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def client_for(user, language: str = "zh-hans") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.fixture
def issue(city):
    rows = noise_issue(city, callers=4)
    support(rows[1], 2)
    return rows


def test_a_leader_reads_the_top_issues_with_heat_callers_unit_and_timeline_in_chinese(issue, leader_sun):
    page = client_for(leader_sun).get("/leaders/hot-issues/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "热点问题" in html and "丽发新城" in html
    assert "data-callers>4<" in html and "data-messages>5<" in html and "data-likes>2<" in html
    assert "市城市管理委员会" in html  # 01 城市管理 → CITYMGMT in the responsibility list
    assert html.count('class="line-chart"') == 1


def test_the_pages_read_in_english(issue, dispatcher_li):
    client = client_for(dispatcher_li, "en")
    html = client.get("/leaders/hot-issues/").content.decode()
    assert "Hot issues" in html and "Distinct callers" in html and "Proposed responsible unit" in html
    detail = client.get(f"/leaders/hot-issues/{issue[0].pk}/").content.decode()
    assert "Make it a governance task" in detail and "Blow a whistle on it" in detail
    assert client.get("/leaders/hot-issues/tasks/").status_code == 200


def test_the_detail_lists_the_requests_and_links_a_whistle_form_filled_in(issue, leader_sun, street_chen):
    page = client_for(leader_sun).get(f"/leaders/hot-issues/{issue[2].pk}/")  # any of its requests finds it
    assert page.status_code == 200
    html = page.content.decode()
    for row in issue:
        assert f"/hotline/requests/{row.pk}/" in html and row.tracking_no in html
    whistle = page.context["whistle_url"]
    query = parse_qs(urlparse(whistle).query)
    assert urlparse(whistle).path == "/whistles/blow/" and "丽发新城" in query["title"][0]
    form = client_for(street_chen).get(whistle)
    assert form.status_code == 200
    assert form.context["form"].initial["title"] == query["title"][0]


def test_a_request_in_no_hot_issue_is_not_found(issue, leader_sun):
    assert client_for(leader_sun).get("/leaders/hot-issues/999999/").status_code == 404


@pytest.mark.parametrize("persona", ["citizen_wang", "street_chen", "dept_water_zhao"])
def test_citizens_streets_and_departments_may_not_open_the_hot_issues(request, issue, persona):
    client = client_for(request.getfixturevalue(persona))
    for path in (
        "/leaders/hot-issues/",
        f"/leaders/hot-issues/{issue[0].pk}/",
        f"/leaders/hot-issues/{issue[0].pk}/task/",
        "/leaders/hot-issues/tasks/",
    ):
        assert client.get(path).status_code == 403, path


def test_an_auditor_reads_the_issues_but_may_not_set_a_task(issue, auditor_qian):
    client = client_for(auditor_qian)
    assert client.get("/leaders/hot-issues/").status_code == 200
    assert 'data-action="task"' not in client.get(f"/leaders/hot-issues/{issue[0].pk}/").content.decode()
    assert client.get(f"/leaders/hot-issues/{issue[0].pk}/task/").status_code == 403


def test_a_dispatcher_makes_a_governance_task_from_an_issue_and_sees_its_progress(issue, city, dispatcher_li):
    client = client_for(dispatcher_li)
    form = client.get(f"/leaders/hot-issues/{issue[0].pk}/task/")
    assert form.status_code == 200
    initial = form.context["form"].initial
    water = Department.objects.get(city=city, code="CITYMGMT")
    assert initial["place_key"] == "丽发新城" and initial["departments"] == [water.pk]
    answer = client.post(
        f"/leaders/hot-issues/{issue[0].pk}/task/",
        {
            "theme": initial["theme"],
            "place_key": "丽发新城",
            "words": "噪音，搅拌站",
            "departments": [water.pk],
            "measures": "夜间停工",
            "reduction_pct": 30,
            "baseline_month": initial["baseline_month"],
            "deadline": initial["deadline"].isoformat(),
        },
    )
    assert answer.status_code == 302 and answer["Location"] == "/leaders/hot-issues/tasks/"
    task = GovernanceTask.objects.get()
    assert task.words == ["噪音", "搅拌站"] and task.first_request_id == issue[0].pk
    assert AuditRecord.objects.filter(action="governance_task.create", object_id=str(task.pk)).exists()
    html = client.get("/leaders/hot-issues/tasks/").content.decode()
    assert task.theme in html and "data-baseline>5<" in html


def test_a_task_form_with_a_bad_month_says_which_field(issue, dispatcher_li):
    answer = client_for(dispatcher_li).post(
        f"/leaders/hot-issues/{issue[0].pk}/task/", {"theme": "x", "baseline_month": "soon"}
    )
    assert answer.status_code == 400 and "baseline_month" in answer.context["form"].errors
    assert not GovernanceTask.objects.exists()


def test_warned_issues_show_with_their_warning_time(issue, leader_sun):
    from cityloop.core import schedule

    schedule.run_now("hotline.hot_issue_warnings")
    warning = HotIssueWarning.objects.get()
    html = client_for(leader_sun).get("/leaders/hot-issues/").content.decode()
    assert f'data-warning="{warning.key}"' in html and "预警" in html
