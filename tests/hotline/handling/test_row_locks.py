"""Two people acting on the same order at once: the second sees the first one's change.

A page loads an order, the person thinks, then posts; meanwhile someone else may have acted. Every
handling action re-reads its rows under a lock inside its transaction and saves only the fields it
changes, so a stale copy can neither act twice nor put back a value another action changed.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.models import Extension, FollowUp, Order, OrderStatus, Request


def _copies(order: Order) -> tuple[Order, Order]:
    return Order.objects.get(pk=order.pk), Order.objects.get(pk=order.pk)


def test_a_second_tab_cannot_sign_an_order_twice(submit, dispatcher_li, dept_water_zhao):
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    first, second = _copies(order)
    actions.sign_order(first, actor=dept_water_zhao)
    with pytest.raises(ValidationError):
        actions.sign_order(second, actor=dept_water_zhao)  # its copy still says "pending"
    assert AuditRecord.objects.filter(action="order.sign", object_id=str(order.pk)).count() == 1


def test_a_stale_copy_does_not_undo_an_approved_extension(submit, dispatcher_li, dept_water_zhao):
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    stale = Order.objects.get(pk=order.pk)  # the unit's page, loaded before the extension was decided
    extension = actions.request_extension(order, days=3, reason="需更换主管道", actor=dept_water_zhao)
    actions.decide_extension(extension, approve=True, actor=dispatcher_li)
    extended = Order.objects.get(pk=order.pk).finish_due
    assert extended > stale.finish_due
    actions.reply_order(stale, outcome="resolved", text="已恢复供水", actor=dept_water_zhao)
    stored = Order.objects.get(pk=order.pk)
    assert stored.status == OrderStatus.REPLIED
    assert stored.finish_due == extended  # not the stale copy's deadline


def test_two_dispatchers_cannot_decide_one_extension_twice(submit, dispatcher_li, dept_water_zhao):
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    extension = actions.request_extension(order, days=2, reason="等配件", actor=dept_water_zhao)
    first, second = Extension.objects.get(pk=extension.pk), Extension.objects.get(pk=extension.pk)
    actions.decide_extension(first, approve=True, actor=dispatcher_li)
    with pytest.raises(ValidationError):
        actions.decide_extension(second, approve=True, actor=dispatcher_li)
    due = Order.objects.get(pk=order.pk).finish_due
    assert due == Order.objects.get(pk=order.pk).finish_due
    assert AuditRecord.objects.filter(action="extension.approve").count() == 1


def test_a_reply_after_a_return_is_refused_not_stored(submit, dispatcher_li, dept_water_zhao):
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    first, second = _copies(order)
    actions.return_order(first, reason="不属于本单位职责", actor=dept_water_zhao)
    with pytest.raises(ValidationError):
        actions.reply_order(second, outcome="resolved", text="已处理", actor=dept_water_zhao)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.RETURNED


def test_two_extension_requests_from_stale_pages_leave_one_waiting(submit, dispatcher_li, dept_water_zhao):
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    first, second = _copies(order)
    actions.request_extension(first, days=2, reason="等配件", actor=dept_water_zhao)
    with pytest.raises(ValidationError):
        actions.request_extension(second, days=2, reason="等配件", actor=dept_water_zhao)
    assert Extension.objects.filter(order=order, approved__isnull=True).count() == 1


def test_a_follow_up_answered_on_the_phone_and_from_a_stale_page_is_recorded_once(
    submit, dispatcher_li, dept_water_zhao
):
    request = submit()
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="resolved", text="已恢复供水", actor=dept_water_zhao)
    first, second = Request.objects.get(pk=request.pk), Request.objects.get(pk=request.pk)
    answer = {"resolved": False, "satisfaction": "unsatisfied", "channel": "phone", "actor": dispatcher_li}
    actions.record_follow_up(first, **answer)
    with pytest.raises(ValidationError):
        actions.record_follow_up(second, **answer)  # its copy still says "replied"
    assert FollowUp.objects.filter(request=request).count() == 1
