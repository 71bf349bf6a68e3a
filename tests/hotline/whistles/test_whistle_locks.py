"""Two people, or a person and the timer, acting on one summons at once: the later one sees the first.

Every whistle action re-reads the whistle and the summons under a lock and saves only the fields it
changes, so a page loaded before the timer marked a missed report-in cannot clear that mark, and a
second tab cannot report in or close twice.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.models import Summons, SummonStatus, Whistle

pytestmark = pytest.mark.django_db


@pytest.fixture
def whistle(city, street_chen, dept_water_zhao):
    return actions.blow_whistle(
        street=street_chen.street,
        departments=[dept_water_zhao.department],
        title="地下管网渗漏",
        need="水务查漏",
        urgent=True,
        finish_due=timezone.now() + timedelta(days=3),
        actor=street_chen,
    )


def test_a_report_in_from_a_page_loaded_before_the_timer_keeps_the_missed_mark(whistle, dept_water_zhao):
    page = Summons.objects.select_related("whistle").get(whistle=whistle)  # loaded, then the person waits
    Whistle.objects.filter(pk=whistle.pk).update(report_due=timezone.now() - timedelta(minutes=1))
    assert actions.record_missed_report_ins() == 1

    actions.report_in(page, responsible_person="赵工", actor=dept_water_zhao)

    stored = Summons.objects.get(pk=page.pk)
    assert (stored.status, stored.missed, stored.late) == (SummonStatus.ACCEPTED, True, True)


def test_a_second_tab_cannot_report_in_twice(whistle, dept_water_zhao):
    first, second = Summons.objects.get(whistle=whistle), Summons.objects.get(whistle=whistle)
    actions.report_in(first, responsible_person="赵工", actor=dept_water_zhao)
    with pytest.raises(ValidationError):
        actions.dispute_summons(second, reason="不归我们管", actor=dept_water_zhao)  # its copy: "summoned"
    assert Summons.objects.get(pk=first.pk).status == SummonStatus.ACCEPTED
    assert AuditRecord.objects.filter(action__in=["whistle.report_in", "whistle.dispute"]).count() == 1


def test_a_stale_whistle_page_cannot_close_it_twice(whistle, dept_water_zhao, street_chen):
    summons = Summons.objects.get(whistle=whistle)
    actions.report_in(summons, responsible_person="赵工", actor=dept_water_zhao)
    actions.complete_task(summons, note="已修复", actor=dept_water_zhao)
    first, second = Whistle.objects.get(pk=whistle.pk), Whistle.objects.get(pk=whistle.pk)
    actions.close_whistle(first, actor=street_chen)
    with pytest.raises(ValidationError):
        actions.close_whistle(second, actor=street_chen)
    assert AuditRecord.objects.filter(action="whistle.close").count() == 1
