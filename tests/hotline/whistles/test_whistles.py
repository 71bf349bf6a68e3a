"""吹哨报到: blow, report in (or dispute), late and missed report-ins, tasks, close, rate, assess."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.models import Summons, SummonStatus, Whistle, WhistleStatus
from cityloop.org.models import Department, Jurisdiction

pytestmark = pytest.mark.django_db


@pytest.fixture
def whistle(city, street_chen):
    water = Department.objects.get(city=city, code="WATER")
    mgmt = Department.objects.get(city=city, code="CITYMGMT")
    return actions.blow_whistle(
        street=street_chen.street,
        departments=[water, mgmt],
        title="地下管网渗漏",
        need="水务查漏，城管协调占道",
        urgent=True,
        finish_due=timezone.now() + timedelta(days=3),
        actor=street_chen,
    )


def test_a_street_blows_a_whistle_with_the_default_report_in_deadline(whistle):
    assert whistle.report_due - whistle.blown_at == timedelta(minutes=30)
    assert whistle.summonses.count() == 2
    assert AuditRecord.objects.filter(action="whistle.blow").count() == 1


def test_a_non_urgent_whistle_gives_a_day_to_report_in(city, street_chen):
    water = Department.objects.get(city=city, code="WATER")
    w = actions.blow_whistle(
        street=street_chen.street,
        departments=[water],
        title="占道",
        need="协调",
        finish_due=timezone.now() + timedelta(days=5),
        actor=street_chen,
    )
    assert w.report_due - w.blown_at == timedelta(hours=24)


def test_bad_whistles_name_the_field(city, street_chen):
    with pytest.raises(ValidationError) as caught:
        actions.blow_whistle(
            street=street_chen.street, departments=[], title="", need="", finish_due=None, actor=street_chen
        )
    assert {"departments", "title", "need", "finish_due"} <= set(caught.value.message_dict)


def test_only_the_streets_own_officials_blow_its_whistle(city, dept_water_zhao):
    street = Jurisdiction.objects.get(city=city, code="D1S2")
    with pytest.raises(PermissionDenied):
        actions.blow_whistle(
            street=street,
            departments=[dept_water_zhao.department],
            title="x",
            need="y",
            finish_due=timezone.now() + timedelta(days=1),
            actor=dept_water_zhao,
        )


def test_a_department_reports_in_naming_its_responsible_person(whistle, dept_water_zhao):
    summons = whistle.summonses.get(department=dept_water_zhao.department)
    actions.report_in(summons, responsible_person="赵工", actor=dept_water_zhao)
    summons.refresh_from_db()
    assert summons.status == SummonStatus.ACCEPTED and not summons.late


def test_a_late_report_in_is_recorded_as_late(whistle, dept_water_zhao):
    Whistle.objects.filter(pk=whistle.pk).update(report_due=timezone.now() - timedelta(minutes=1))
    summons = Summons.objects.get(whistle=whistle, department=dept_water_zhao.department)
    actions.report_in(summons, responsible_person="赵工", actor=dept_water_zhao)
    assert Summons.objects.get(pk=summons.pk).late


def test_missing_report_ins_are_recorded_once(whistle):
    Whistle.objects.filter(pk=whistle.pk).update(report_due=timezone.now() - timedelta(minutes=1))
    assert actions.record_missed_report_ins() == 2
    assert actions.record_missed_report_ins() == 0
    assert Summons.objects.filter(whistle=whistle, missed=True).count() == 2


def test_a_dispute_is_arbitrated_by_the_city_dispatcher(whistle, dept_water_zhao, dispatcher_li):
    summons = whistle.summonses.get(department=dept_water_zhao.department)
    with pytest.raises(ValidationError):
        actions.dispute_summons(summons, reason=" ", actor=dept_water_zhao)
    actions.dispute_summons(summons, reason="渗漏在小区红线内，属物业", actor=dept_water_zhao)
    with pytest.raises(PermissionDenied):
        actions.arbitrate_dispute(
            Summons.objects.get(pk=summons.pk), uphold=True, note="x", actor=dept_water_zhao
        )
    actions.arbitrate_dispute(
        Summons.objects.get(pk=summons.pk), uphold=False, note="市政管线，水务须报到", actor=dispatcher_li
    )
    assert Summons.objects.get(pk=summons.pk).status == SummonStatus.SUMMONED


def test_the_street_closes_only_when_every_task_is_done_then_rates_each_department(
    whistle, street_chen, dept_water_zhao, dispatcher_li, city
):
    water_summons = whistle.summonses.get(department=dept_water_zhao.department)
    mgmt_summons = whistle.summonses.get(department__code="CITYMGMT")
    actions.report_in(water_summons, responsible_person="赵工", actor=dept_water_zhao)
    actions.dispute_summons(mgmt_summons, reason="非城管职责", actor=_staff(city, "CITYMGMT"))
    with pytest.raises(ValidationError, match="仍在等待"):
        actions.close_whistle(whistle, actor=street_chen)
    actions.arbitrate_dispute(
        Summons.objects.get(pk=mgmt_summons.pk), uphold=True, note="同意", actor=dispatcher_li
    )
    actions.complete_task(
        Summons.objects.get(pk=water_summons.pk), note="已修复渗漏点", actor=dept_water_zhao
    )
    with pytest.raises(ValidationError, match="请先结束吹哨"):  # Chinese, the default language
        actions.rate_department(Summons.objects.get(pk=water_summons.pk), score=5, actor=street_chen)
    actions.close_whistle(Whistle.objects.get(pk=whistle.pk), actor=street_chen)
    assert Whistle.objects.get(pk=whistle.pk).status == WhistleStatus.CLOSED
    actions.rate_department(
        Summons.objects.get(pk=water_summons.pk), score=5, comment="响应快", actor=street_chen
    )
    with pytest.raises(ValidationError):
        actions.rate_department(Summons.objects.get(pk=mgmt_summons.pk), score=3, actor=street_chen)
    with pytest.raises(ValidationError):
        actions.rate_department(Summons.objects.get(pk=water_summons.pk), score=4, actor=street_chen)


def _staff(city, code):
    from cityloop.core.actions import add_user

    return add_user(
        username=f"staff_{code.lower()}",
        password="x",
        role="department",
        department=Department.objects.get(city=city, code=code),
        actor=SYSTEM,
        check_password=False,
    )


def test_a_street_assesses_a_department_monthly_from_0_to_100(city, street_chen):
    water = Department.objects.get(city=city, code="WATER")
    month = timezone.localdate().replace(day=1)
    actions.assess_department(
        street=street_chen.street, department=water, month=month, score=85, actor=street_chen
    )
    again = actions.assess_department(
        street=street_chen.street, department=water, month=month, score=90, actor=street_chen
    )
    assert again.score == 90
    with pytest.raises(ValidationError):
        actions.assess_department(
            street=street_chen.street, department=water, month=month, score=101, actor=street_chen
        )
    with pytest.raises(ValidationError):
        actions.assess_department(
            street=street_chen.street, department=water, month=date(2999, 1, 1), score=50, actor=street_chen
        )
