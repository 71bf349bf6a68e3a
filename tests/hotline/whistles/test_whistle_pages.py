"""吹哨报到 through the pages: blow, report in or dispute, arbitrate, finish, close, rate, assess."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cityloop.core.actions import add_user
from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.models import Assessment, Summons, SummonStatus, Whistle, WhistleStatus
from cityloop.org.models import Department
from tests.clients import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def mgmt_staff(city):
    return add_user(
        username="dept_mgmt_liu",
        password="x",
        role="department",
        full_name="刘城管",
        department=Department.objects.get(city=city, code="CITYMGMT"),
        actor=SYSTEM,
        check_password=False,
    )


@pytest.fixture
def departments(city):
    return {code: Department.objects.get(city=city, code=code) for code in ("WATER", "CITYMGMT")}


def _soon(hours: int) -> str:
    return timezone.localtime(timezone.now() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def test_the_blow_form_shows_the_default_report_in_deadlines_and_the_streets_open_cases(street_chen, submit):
    case = submit()
    page = client_for(street_chen).get(reverse("whistles:blow"))
    assert page.status_code == 200
    form = page.context["form"]
    assert (case.pk, f"{case.tracking_no} · {case.title[:40]}") in form.fields["request"].choices
    expected = timezone.localtime(timezone.now() + timedelta(hours=24)).strftime("%Y-%m-%d %H")
    assert expected in str(form.fields["report_due"].help_text)


def test_a_street_blows_a_whistle_on_its_case_and_sees_every_department_waiting(
    street_chen, departments, submit
):
    case = submit()
    client = client_for(street_chen)
    answer = client.post(
        reverse("whistles:blow"),
        {
            "request": case.pk,
            "title": "地下管网渗漏",
            "need": "水务查漏，城管协调占道",
            "urgent": "on",
            "departments": [departments["WATER"].pk, departments["CITYMGMT"].pk],
            "finish_due": _soon(72),
        },
    )
    assert answer.status_code == 302
    whistle = Whistle.objects.get()
    assert whistle.request == case and whistle.urgent
    assert whistle.report_due - whistle.blown_at == timedelta(minutes=30)
    listing = client.get(reverse("whistles:street"))
    assert listing.content.decode().count('data-state="waiting"') == 2


def test_the_blow_form_names_every_missing_field(street_chen):
    answer = client_for(street_chen).post(reverse("whistles:blow"), {"title": "", "need": ""})
    assert answer.status_code == 400
    assert {"title", "need", "departments", "finish_due"} <= set(answer.context["form"].errors)
    assert not Whistle.objects.exists()


def test_a_finish_deadline_before_the_report_in_deadline_is_refused_next_to_the_field(
    street_chen, departments
):
    answer = client_for(street_chen).post(
        reverse("whistles:blow"),
        {
            "title": "占道",
            "need": "协调",
            "departments": [departments["WATER"].pk],
            "report_due": _soon(5),
            "finish_due": _soon(2),
        },
    )
    assert answer.status_code == 400
    assert "finish_due" in answer.context["form"].errors
    assert not Whistle.objects.exists()


@pytest.mark.parametrize(
    "name", ["whistles:street", "whistles:blow", "whistles:assess", "whistles:summonses", "whistles:disputes"]
)
def test_every_whistle_page_refuses_citizens_and_sends_strangers_to_log_in(name, citizen_wang):
    assert client_for(citizen_wang).get(reverse(name)).status_code == 403
    assert Client().get(reverse(name)).status_code == 302


def test_each_role_opens_its_own_whistle_pages_and_not_the_others(
    street_chen, dept_water_zhao, dispatcher_li
):
    street, department, dispatcher = (client_for(u) for u in (street_chen, dept_water_zhao, dispatcher_li))
    for name in ("whistles:street", "whistles:blow", "whistles:assess"):
        assert street.get(reverse(name)).status_code == 200
        assert department.get(reverse(name)).status_code == 403
        assert dispatcher.get(reverse(name)).status_code == 403
    assert department.get(reverse("whistles:summonses")).status_code == 200
    assert street.get(reverse("whistles:summonses")).status_code == 403
    assert dispatcher.get(reverse("whistles:disputes")).status_code == 200
    assert department.get(reverse("whistles:disputes")).status_code == 403


@pytest.fixture
def whistle(street_chen, departments):
    return actions.blow_whistle(
        street=street_chen.street,
        departments=list(departments.values()),
        title="地下管网渗漏",
        need="水务查漏，城管协调占道",
        urgent=False,
        finish_due=timezone.now() + timedelta(days=3),
        actor=street_chen,
    )


def test_the_summons_inbox_counts_down_to_the_report_in_deadline(whistle, dept_water_zhao):
    page = client_for(dept_water_zhao).get(reverse("whistles:summonses")).content.decode()
    assert 'data-timer="ok"' in page and whistle.title in page


def test_a_report_in_without_a_person_shows_the_field_error_and_changes_nothing(whistle, dept_water_zhao):
    summons = whistle.summonses.get(department=dept_water_zhao.department)
    answer = client_for(dept_water_zhao).post(
        reverse("whistles:summons-step", args=[summons.pk, "report"]),
        {f"r{summons.pk}-responsible_person": ""},
    )
    assert answer.status_code == 400
    row = next(r for r in answer.context["rows"] if r["s"].pk == summons.pk)
    assert "responsible_person" in row["forms"]["report"].errors
    assert Summons.objects.get(pk=summons.pk).status == SummonStatus.SUMMONED


def test_a_department_cannot_answer_another_departments_summons(whistle, dept_water_zhao):
    other = whistle.summonses.get(department__code="CITYMGMT")
    answer = client_for(dept_water_zhao).post(
        reverse("whistles:summons-step", args=[other.pk, "report"]),
        {f"r{other.pk}-responsible_person": "赵工"},
    )
    assert answer.status_code == 403
    assert Summons.objects.get(pk=other.pk).status == SummonStatus.SUMMONED


def test_a_missed_report_in_shows_as_missed_before_the_scheduled_job_records_it(whistle, street_chen):
    Whistle.objects.filter(pk=whistle.pk).update(report_due=timezone.now() - timedelta(minutes=5))
    page = client_for(street_chen).get(reverse("whistles:street")).content.decode()
    assert page.count('data-state="missed"') == 2
    assert Summons.objects.filter(whistle=whistle, missed=True).count() == 0


def test_the_whole_whistle_flow_runs_through_the_pages(
    whistle, street_chen, dept_water_zhao, mgmt_staff, dispatcher_li
):
    water = whistle.summonses.get(department__code="WATER")
    mgmt = whistle.summonses.get(department__code="CITYMGMT")
    street, water_staff, city_mgmt, dispatcher = (
        client_for(u) for u in (street_chen, dept_water_zhao, mgmt_staff, dispatcher_li)
    )

    def step(client, summons, verb, prefix, **fields):
        answer = client.post(
            reverse("whistles:summons-step", args=[summons.pk, verb]),
            {f"{prefix}{summons.pk}-{k}": v for k, v in fields.items()},
        )
        assert answer.status_code == 302, answer.content.decode()[:2000]

    step(water_staff, water, "report", "r", responsible_person="赵工")
    step(city_mgmt, mgmt, "dispute", "d", reason="渗漏在小区红线内，属物业")
    assert mgmt.pk in [s.pk for s, _form in dispatcher.get(reverse("whistles:disputes")).context["rows"]]
    refused = dispatcher.post(
        reverse("whistles:arbitrate", args=[mgmt.pk]), {f"a{mgmt.pk}-decision": "reject"}
    )
    assert refused.status_code == 400 and "note" in refused.context["rows"][0][1].errors
    decided = dispatcher.post(
        reverse("whistles:arbitrate", args=[mgmt.pk]),
        {f"a{mgmt.pk}-decision": "reject", f"a{mgmt.pk}-note": "占道协调属城管"},
    )
    assert decided.status_code == 302
    step(city_mgmt, mgmt, "report", "r", responsible_person="刘队长")
    # the street cannot close while tasks are open
    street.post(reverse("whistles:close", args=[whistle.pk]))
    assert Whistle.objects.get(pk=whistle.pk).status == WhistleStatus.OPEN
    step(water_staff, water, "done", "t", note="已修复渗漏点")
    step(city_mgmt, mgmt, "done", "t", note="已清理占道")
    assert street.post(reverse("whistles:close", args=[whistle.pk])).status_code == 302
    assert Whistle.objects.get(pk=whistle.pk).status == WhistleStatus.CLOSED
    bad = street.post(reverse("whistles:rate", args=[water.pk]), {f"s{water.pk}-score": "9"})
    assert bad.status_code == 400
    for summons, score in ((water, 5), (mgmt, 3)):
        answer = street.post(
            reverse("whistles:rate", args=[summons.pk]),
            {f"s{summons.pk}-score": str(score), f"s{summons.pk}-comment": "好"},
        )
        assert answer.status_code == 302
    assert dict(Summons.objects.filter(whistle=whistle).values_list("department__code", "rating")) == {
        "WATER": 5,
        "CITYMGMT": 3,
    }
    page = street.get(reverse("whistles:street")).content.decode()
    assert 'data-state="on_time"' in page and 'data-task="done"' in page and "5/5" in page


def test_a_street_assesses_the_departments_it_summoned_this_month(whistle, street_chen, departments):
    client = client_for(street_chen)
    page = client.get(reverse("whistles:assess"))
    assert [d.code for d, _a in page.context["rows"]] == ["CITYMGMT", "WATER"]
    month = f"{timezone.localdate():%Y-%m}"
    bad = client.post(
        reverse("whistles:assess"), {"month": month, "department": departments["WATER"].pk, "score": "150"}
    )
    assert bad.status_code == 400 and "score" in bad.context["form"].errors
    good = client.post(
        reverse("whistles:assess"),
        {"month": month, "department": departments["WATER"].pk, "score": "85", "comment": "配合积极"},
    )
    assert good.status_code == 302
    assert Assessment.objects.get(department=departments["WATER"]).score == 85


def test_the_whistle_pages_join_the_menu_for_their_roles(street_chen, dept_water_zhao, dispatcher_li):
    from cityloop.core import permissions
    from cityloop.web.context import navigation_for

    permissions.declare("whistles:street", permissions.DISPATCH)  # declared again: no change
    assert permissions.PAGES["whistles:street"].who == permissions.STREET
    assert "whistles:street" in {i["name"] for i in navigation_for(street_chen)}
    assert "whistles:summonses" in {i["name"] for i in navigation_for(dept_water_zhao)}
    assert "whistles:disputes" in {i["name"] for i in navigation_for(dispatcher_li)}
    assert "whistles:disputes" not in {i["name"] for i in navigation_for(street_chen)}


def test_whistle_pages_never_write_a_missed_report_in_the_scheduled_job_does_it_once(
    street_chen, dept_water_zhao, whistle
):
    from cityloop.core import schedule
    from cityloop.core.models import AuditRecord

    Whistle.objects.filter(pk=whistle.pk).update(report_due=timezone.now() - timedelta(minutes=1))
    street, water = client_for(street_chen), client_for(dept_water_zhao)  # logging in is audited
    records = AuditRecord.objects.count()
    for page, client in ((reverse("whistles:street"), street), (reverse("whistles:summonses"), water)):
        assert client.get(page).status_code == 200
    assert AuditRecord.objects.count() == records
    assert not Summons.objects.filter(missed=True).exists()
    said = dict((name, text) for name, text, _ok in schedule.run_all())
    assert said["whistles.missed_report_ins"] == "2 missed report-in(s) recorded"
    said = dict((name, text) for name, text, _ok in schedule.run_all())
    assert said["whistles.missed_report_ins"] == "0 missed report-in(s) recorded"
    assert AuditRecord.objects.filter(action="whistle.missed_report_in").count() == 2
