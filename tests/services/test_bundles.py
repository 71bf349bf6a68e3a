"""One thing: merged checklist, parallel tasks with dependencies, one result package, the clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cityloop.core.actors import SYSTEM
from cityloop.services import actions, clock, queries
from cityloop.services import actions as services_actions
from cityloop.services.models import AppStatus, Escalation, Rectification, TaskStatus
from tests.services.conftest import HOLDER, MONDAY, PDF


@pytest.fixture
def accepted(citizen_wang, clerk_liu, bundle, records, monday):
    app = actions.start_application(
        applicant=citizen_wang, holder_name="王小明", holder_id=HOLDER, bundle=bundle, actor=citizen_wang
    )
    actions.answer_situations(app, {"premises": "leased"}, actor=citizen_wang)
    actions.fetch_records(app, consent=True, actor=citizen_wang)
    for need in queries.outstanding_of(app):
        if need.commitment:
            actions.sign_commitment(app, need.key, actor=citizen_wang)
        else:
            actions.upload_material(app, need.key, filename="x.pdf", content=PDF, actor=citizen_wang)
    actions.submit_application(app, actor=citizen_wang)
    actions.accept_application(app, actor=clerk_liu)
    return app


def test_a_bundle_asks_once_for_what_several_items_need(citizen_wang, bundle, monday):
    app = actions.start_application(
        applicant=citizen_wang, holder_name="王小明", holder_id=HOLDER, bundle=bundle, actor=citizen_wang
    )
    assert [s.key for s in queries.situations_of(app)] == ["premises"]
    actions.answer_situations(app, {"premises": "leased"}, actor=citizen_wang)
    needs = {n.key: n for n in queries.needs_of(app)}
    assert set(needs) == {
        "bundle_form",
        "holder_identity",
        "premises",
        "WATER-1.demand",
        "WATER-2.plan",
        "SIGN-1.safety",
    }
    assert needs["premises"].materials == [("WATER-1", "lease"), ("WATER-2", "lease")]
    assert len(needs["bundle_form"].materials) == 3


def test_tasks_run_in_parallel_and_wait_for_their_dependencies(accepted, dept_water_zhao, housing_he):
    tasks = {t.version.item.code: t for t in accepted.tasks.select_related("version__item")}
    assert tasks["WATER-1"].status == TaskStatus.PENDING and tasks["SIGN-1"].status == TaskStatus.PENDING
    assert tasks["WATER-2"].status == TaskStatus.WAITING and tasks["WATER-2"].due_at is None
    with pytest.raises(ValidationError):
        actions.approve_task(tasks["WATER-2"], actor=dept_water_zhao)
    with clock.frozen(MONDAY + dt.timedelta(hours=2)):
        actions.approve_task(tasks["WATER-1"], actor=dept_water_zhao)
    tasks["WATER-2"].refresh_from_db()
    assert tasks["WATER-2"].status == TaskStatus.PENDING
    assert tasks["WATER-2"].started_at == MONDAY + dt.timedelta(hours=2)


def test_only_the_tasks_department_decides_it(accepted, housing_he):
    water = accepted.tasks.get(version__item__code="WATER-1")
    with pytest.raises(PermissionDenied):
        actions.approve_task(water, actor=housing_he)


def test_the_last_approval_delivers_one_result_package(accepted, dept_water_zhao, housing_he):
    for code, who in (("WATER-1", dept_water_zhao), ("SIGN-1", housing_he), ("WATER-2", dept_water_zhao)):
        actions.approve_task(accepted.tasks.get(version__item__code=code), actor=who)
    accepted.refresh_from_db()
    assert accepted.status == AppStatus.DELIVERED and accepted.decided_at and accepted.delivered_at
    assert sorted(r.title for r in accepted.results.all()) == sorted(
        ["供水接入通知书", "排水接入", "户外招牌设置"]
    )
    stats = queries.application_stats(accepted)
    assert stats["working_hours_to_decision"] == 0.0 and stats["resubmissions"] == 0


def test_a_refusal_decides_the_application(accepted, housing_he):
    sign = accepted.tasks.get(version__item__code="SIGN-1")
    with pytest.raises(ValidationError):
        actions.refuse_task(sign, reason=" ", actor=housing_he)
    actions.refuse_task(sign, reason="《条例》第二十条：招牌位置占用消防通道", actor=housing_he)
    accepted.refresh_from_db()
    assert accepted.status == AppStatus.REFUSED


def test_a_suspended_clock_keeps_the_working_time_that_was_left(accepted, dept_water_zhao):
    task = accepted.tasks.get(version__item__code="WATER-1")
    # committed 2 working days from Monday 09:30 → Wednesday 09:30
    assert task.due_at == dt.datetime(2025, 3, 5, 9, 30, tzinfo=MONDAY.tzinfo)
    with clock.frozen(MONDAY + dt.timedelta(hours=1)):  # Monday 10:30: 14 working hours left
        suspension = actions.suspend_task(task, kind="inspection", reason="水质检测", actor=dept_water_zhao)
    assert suspension.remaining_seconds == 14 * 3600
    with pytest.raises(ValidationError):
        actions.approve_task(task, actor=dept_water_zhao)
    with clock.frozen(dt.datetime(2025, 3, 10, 9, 0, tzinfo=MONDAY.tzinfo)):  # next Monday 09:00
        actions.resume_task(task, actor=dept_water_zhao)
    task.refresh_from_db()
    # 14 working hours from Monday 09:00 = 7.5 on Monday + 3 + 3.5 on Tuesday → Tuesday 17:00
    assert task.due_at == dt.datetime(2025, 3, 11, 17, 0, tzinfo=MONDAY.tzinfo)
    assert task.status == TaskStatus.PENDING


def test_an_unknown_suspension_kind_is_refused(accepted, dept_water_zhao):
    task = accepted.tasks.get(version__item__code="WATER-1")
    with pytest.raises(ValidationError) as exc:
        actions.suspend_task(task, kind="holiday", reason="x", actor=dept_water_zhao)
    assert "kind" in exc.value.message_dict


def test_overdue_tasks_escalate_once_per_level(accepted):
    sign = accepted.tasks.get(version__item__code="SIGN-1")  # 0.5 day: due Monday 14:45
    with clock.frozen(dt.datetime(2025, 3, 3, 15, 0, tzinfo=MONDAY.tzinfo)):
        assert [e.level for e in actions.escalate_overdue(actor=SYSTEM)] == [1]
        assert actions.escalate_overdue(actor=SYSTEM) == []
    with clock.frozen(dt.datetime(2025, 3, 5, 15, 0, tzinfo=MONDAY.tzinfo)):
        made = actions.escalate_overdue(actor=SYSTEM)
    levels = {e.task.version.item.code: e.level for e in made}
    assert levels["SIGN-1"] == 2
    sign.refresh_from_db()
    assert sign.escalation_level == 2 and Escalation.objects.filter(task=sign).count() == 2


def test_a_bad_rating_opens_a_rectification_for_each_department(
    accepted, citizen_wang, dept_water_zhao, housing_he
):
    with pytest.raises(ValidationError):
        actions.rate_application(accepted, score=1, comment="慢", actor=citizen_wang)  # no result yet
    for code, who in (("WATER-1", dept_water_zhao), ("SIGN-1", housing_he), ("WATER-2", dept_water_zhao)):
        actions.approve_task(accepted.tasks.get(version__item__code=code), actor=who)
    with pytest.raises(ValidationError) as exc:
        actions.rate_application(accepted, score=2, comment="", actor=citizen_wang)
    assert "comment" in exc.value.message_dict
    rating = actions.rate_application(accepted, score=2, comment="窗口让我跑了两次", actor=citizen_wang)
    rects = Rectification.objects.filter(rating=rating)
    assert sorted(r.department.code for r in rects) == ["D1HOUSING", "WATER"]
    water = rects.get(department__code="WATER")
    assert water.due_at.date() == dt.date(2025, 3, 10)  # five working days after Monday
    assert list(queries.rectifications_for(water.department)) == [water]
    actions.close_rectification(water, response="已约谈窗口，改为全程网办", actor=dept_water_zhao)
    water.refresh_from_db()
    assert water.closed_at is not None
    with pytest.raises(ValidationError):
        actions.rate_application(accepted, score=5, actor=citizen_wang)


@pytest.mark.parametrize("score", [0, 6, "5", None])
def test_a_rating_outside_one_to_five_is_refused(score):
    from cityloop.services import rules

    with pytest.raises(ValidationError) as exc:
        rules.check_score(score)
    assert "score" in exc.value.message_dict


def test_a_good_rating_opens_nothing(accepted, citizen_wang, dept_water_zhao, housing_he):
    for code, who in (("WATER-1", dept_water_zhao), ("SIGN-1", housing_he), ("WATER-2", dept_water_zhao)):
        actions.approve_task(accepted.tasks.get(version__item__code=code), actor=who)
    rating = actions.rate_application(accepted, score=5, actor=citizen_wang)
    assert rating.rectifications.count() == 0


def test_a_bundle_with_a_dependency_cycle_is_refused(items):
    with pytest.raises(ValidationError, match="cycle"):
        services_actions.create_bundle(
            code="LOOP",
            name="loop",
            actor=SYSTEM,
            members=[(items["WATER-1"], ["WATER-2"]), (items["WATER-2"], ["WATER-1"])],
        )
