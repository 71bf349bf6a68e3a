"""Reminders before an order's limits and escalations after them, queued by the scheduler's job alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cityloop.core.actions import add_user
from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.handling import reminders
from cityloop.notify.models import Message
from cityloop.org.models import Department, Jurisdiction

pytestmark = pytest.mark.django_db


def _leader(username, **scope):
    return add_user(
        username=username, password="x" * 12, role="leader", actor=SYSTEM, check_password=False, **scope
    )


@pytest.fixture
def water_order(submit, dispatcher_li, dept_water_zhao, city):
    dept_water_zhao.email = "zhao@water.example.cn"
    dept_water_zhao.save()
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    assert order.department.code == "WATER"
    Message.objects.all().delete()  # the new-order notice is tested elsewhere
    return order


def _told(event):
    return sorted(Message.objects.filter(event=event).values_list("channel", "address"))


def test_nothing_is_said_while_the_limits_are_far(water_order):
    assert reminders.run() == 0


def test_the_unit_is_reminded_before_the_response_limit_once_however_often_the_job_runs(
    water_order, dept_water_zhao, time_machine
):
    time_machine.move_to(water_order.response_due - timedelta(hours=1), tick=False)
    assert reminders.run() > 0
    assert reminders.run() == 0
    assert _told("order.due_soon") == [("email", "zhao@water.example.cn"), ("inbox", str(dept_water_zhao.pk))]
    message = Message.objects.get(event="order.due_soon", channel="inbox")
    assert "响应" in message.body and water_order.request.tracking_no in message.body


def test_an_overdue_order_escalates_to_the_units_leader_then_the_city_on_schedule(
    water_order, dept_water_zhao, leader_sun, city, time_machine
):
    water = Department.objects.get(city=city, code="WATER")
    unit_leader = _leader("leader_water", department=water)
    due = water_order.response_due
    time_machine.move_to(due + timedelta(minutes=5), tick=False)
    reminders.run()
    assert _told("order.overdue") == [("email", "zhao@water.example.cn"), ("inbox", str(dept_water_zhao.pk))]
    assert not Message.objects.filter(event="order.escalated").exists()
    time_machine.move_to(due + timedelta(hours=4, minutes=1), tick=False)
    reminders.run()
    assert _told("order.escalated") == [("inbox", str(unit_leader.pk))]
    time_machine.move_to(due + timedelta(hours=8, minutes=1), tick=False)
    reminders.run()
    # WATER is a city department: the next level is the city's leaders (leaders of no unit)
    assert set(_told("order.escalated")) == {("inbox", str(unit_leader.pk)), ("inbox", str(leader_sun.pk))}
    city_level = Message.objects.get(event="order.escalated", user=leader_sun)
    assert "市级" in city_level.body
    reminders.run()
    assert Message.objects.filter(event="order.escalated").count() == 2


def test_a_street_order_escalates_to_its_district(submit, dispatcher_li, street_chen, city, time_machine):
    [order] = actions.accept_suggestion(submit(category="01.01.01"), actor=dispatcher_li)
    assert order.street.code == "D1S1"
    district_leader = _leader("leader_d1", street=Jurisdiction.objects.get(city=city, code="D1"))
    time_machine.move_to(order.response_due + timedelta(hours=9), tick=False)
    reminders.run()
    assert ("inbox", str(district_leader.pk)) in _told("order.escalated")


def test_a_signed_order_is_reminded_a_working_day_before_it_must_finish_and_not_about_responding(
    water_order, dept_water_zhao, time_machine
):
    actions.sign_order(water_order, actor=dept_water_zhao)
    Message.objects.all().delete()
    time_machine.move_to(water_order.finish_due - timedelta(hours=3), tick=False)
    reminders.run()
    soon = Message.objects.filter(event="order.due_soon", channel="inbox")
    assert [m.params["what"] for m in soon] == ["finish"]


def test_an_extension_gives_the_new_limit_its_own_reminders(
    water_order, dept_water_zhao, dispatcher_li, time_machine
):
    actions.sign_order(water_order, actor=dept_water_zhao)
    time_machine.move_to(water_order.finish_due - timedelta(hours=3), tick=False)
    reminders.run()
    extension = actions.request_extension(water_order, days=3, reason="管线需更换", actor=dept_water_zhao)
    actions.decide_extension(extension, approve=True, actor=dispatcher_li)
    assert Message.objects.filter(event="extension.decided", channel="inbox").exists()
    water_order.refresh_from_db()
    time_machine.move_to(water_order.finish_due - timedelta(hours=3), tick=False)
    reminders.run()
    assert Message.objects.filter(event="order.due_soon", channel="inbox").count() == 2


def test_a_leader_may_lead_one_unit_but_not_two(city):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        _leader(
            "leader_two",
            street=Jurisdiction.objects.get(city=city, code="D1"),
            department=Department.objects.get(city=city, code="WATER"),
        )
    assert "not both" in str(caught.value)
