"""A request's whole life: intake → dispatch → sign/return → handle → reply → follow-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone, translation

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions, queries
from cityloop.hotline.actions import Submission
from cityloop.hotline.models import Arbitration, Channel, Order, OrderStatus, Request, Status
from cityloop.org.models import Category, Department, Jurisdiction

pytestmark = pytest.mark.django_db


def test_a_phone_request_gets_a_readable_number_its_place_and_deadlines(submit):
    request = submit()
    assert request.tracking_no.startswith("R") and request.tracking_no.endswith("-00001")
    assert (request.district.code, request.street.code, request.community.code) == ("D1", "D1S1", "D1S1C1")
    assert request.status == Status.NEW
    assert request.response_due > request.created_at and request.finish_due > request.response_due
    assert AuditRecord.objects.filter(action="request.submit", object_id=str(request.pk)).exists()
    assert submit().tracking_no.endswith("-00002")


def test_bad_input_names_each_field_and_stores_nothing(city):
    with pytest.raises(ValidationError) as caught:
        actions.submit_request(
            Submission(description="", caller_phone="abc", lon=200, lat=39.9, category_code="99"),
            city=city,
            channel=Channel.PHONE,
            actor=SYSTEM,
        )
    errors = caught.value.message_dict
    assert {"description", "caller_phone", "lon", "category"} <= set(errors)
    assert Request.objects.count() == 0


def test_a_point_outside_the_city_is_refused_with_the_reason(city, tiny_places):
    lon, lat = tiny_places["outside_city"]
    with pytest.raises(ValidationError) as caught:
        actions.submit_request(
            Submission(description="x", caller_phone="13812345678", lon=lon, lat=lat),
            city=city,
            channel=Channel.PHONE,
            actor=SYSTEM,
        )
    assert "outside" in caught.value.message_dict["lon"][0]


def test_address_text_is_located_through_names_and_the_gazetteer(city):
    request, _ = actions.submit_request(
        Submission(description="门口占道", caller_phone="13812345678", address="白塔寺东边的胡同"),
        city=city,
        channel=Channel.WEB,
        actor=SYSTEM,
    )
    assert request.street.code == "D1S2"


def test_a_retried_submit_with_the_same_idempotency_key_returns_the_first_request(city, tiny_places):
    lon, lat = tiny_places["D2S1"]
    sub = Submission(description="路灯坏了", caller_phone="13812345678", lon=lon, lat=lat)
    first, created = actions.submit_request(
        sub, city=city, channel=Channel.API, idempotency=("token:1", "abc"), actor=SYSTEM
    )
    again, created_again = actions.submit_request(
        sub, city=city, channel=Channel.API, idempotency=("token:1", "abc"), actor=SYSTEM
    )
    assert created and not created_again and first.pk == again.pk
    assert Request.objects.count() == 1


def test_the_dispatch_queue_is_oldest_first(submit):
    first, second = submit(), submit()
    assert list(queries.dispatch_queue()) == [first, second]


def test_a_department_matter_goes_straight_to_the_department(submit, dispatcher_li):
    request = submit(category="02.01.01")
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    assert order.department.code == "WATER" and order.route == "direct"
    request.refresh_from_db()
    assert request.status == Status.DISPATCHED and request.lead_department == order.department


def test_a_local_matter_goes_to_the_street_of_the_location(submit, dispatcher_li):
    request = submit(category="01.01.01", description="楼道里乱堆乱放")
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    assert order.street.code == "D1S1" and order.route == "street"


def test_a_cross_unit_case_is_led_by_its_first_receiver(submit, dispatcher_li, city):
    request = submit()
    water = Department.objects.get(city=city, code="WATER")
    street = Jurisdiction.objects.get(city=city, code="D1S1")
    orders = actions.dispatch_request(
        request, units=[("department", water, "direct"), ("street", street, "street")], actor=dispatcher_li
    )
    assert [o.lead for o in orders] == [True, False]
    assert orders[0].route == "first_receiver"


def test_only_dispatchers_dispatch(submit, street_chen):
    with pytest.raises(PermissionDenied):
        actions.accept_suggestion(submit(), actor=street_chen)


def test_bulk_dispatch_skips_requests_without_a_suggestion_and_says_why(submit, dispatcher_li):
    # a text that shares nothing with any category or earlier request: no suggestion at all
    good, unclassified = submit(), submit(category="", description="请回电话")
    with translation.override("zh-hans"):
        result = actions.bulk_dispatch([good, unclassified], actor=dispatcher_li)
    assert result.dispatched == [good]
    # the reason is written for the dispatcher's page: in the page's language
    assert (
        result.skipped[0][0] == unclassified
        and result.skipped[0][1] == "没有建议：该分类没有责任单位，请手动选择"
    )
    with translation.override("en"):
        result = actions.bulk_dispatch([unclassified], actor=dispatcher_li)
    assert "the category has no responsible unit" in result.skipped[0][1]


def test_the_receiving_unit_signs_and_the_request_is_in_progress(submit, dispatcher_li, dept_water_zhao):
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    order.refresh_from_db()
    assert order.status == OrderStatus.SIGNED and order.signed_at is not None
    assert order.request.status == Status.IN_PROGRESS


def test_another_unit_cannot_sign_an_order(submit, dispatcher_li, street_chen):
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    with pytest.raises(PermissionDenied):
        actions.sign_order(order, actor=street_chen)


def test_a_returned_order_goes_back_to_the_dispatcher(submit, dispatcher_li, dept_water_zhao):
    request = submit()
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    with pytest.raises(ValidationError) as caught:
        actions.return_order(order, reason="  ", actor=dept_water_zhao)
    assert "reason" in caught.value.message_dict
    actions.return_order(order, reason="不是供水问题，是小区二次供水，属物业", actor=dept_water_zhao)
    request.refresh_from_db()
    assert request.status == Status.NEW and request in queries.dispatch_queue()
    assert request.return_count == 1


def test_repeated_returns_go_to_arbitration_and_the_decision_dispatches(
    submit, dispatcher_li, dept_water_zhao, street_chen, city
):
    request = submit()
    street = Jurisdiction.objects.get(city=city, code="D1S1")
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.return_order(order, reason="属地问题", actor=dept_water_zhao)
    [order2] = actions.dispatch_request(request, units=[("street", street, "street")], actor=dispatcher_li)
    actions.return_order(order2, reason="供水管网问题，属水务", actor=street_chen)
    arbitration = Arbitration.objects.get(request=request)
    assert arbitration.decided_at is None and len(arbitration.units) == 2
    water = Department.objects.get(city=city, code="WATER")
    [decided] = actions.decide_arbitration(
        arbitration, kind="department", unit=water, decision="主管网爆管，水务负责", actor=dispatcher_li
    )
    assert decided.department == water


def test_handling_records_notes_contacts_extensions_and_the_reply(submit, dispatcher_li, dept_water_zhao):
    request = submit()
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.add_note(order, text="已派抢修队", actor=dept_water_zhao)
    actions.record_contact(order, channel="phone", summary="告知预计今晚恢复", actor=dept_water_zhao)
    request.refresh_from_db()
    assert request.first_response_at is not None
    extension = actions.request_extension(order, days=3, reason="需更换主管道", actor=dept_water_zhao)
    due_before = Order.objects.get(pk=order.pk).finish_due
    actions.decide_extension(extension, approve=True, actor=dispatcher_li)
    assert Order.objects.get(pk=order.pk).finish_due > due_before
    actions.reply_order(
        Order.objects.get(pk=order.pk), outcome="resolved", text="已恢复供水", actor=dept_water_zhao
    )
    request.refresh_from_db()
    assert request.status == Status.REPLIED and request in queries.follow_up_queue()
    kinds = list(request.events.values_list("kind", flat=True))
    assert kinds[:2] == ["submitted", "dispatched"] and "replied" in kinds


def test_an_extension_needs_the_dispatchers_decision_and_a_refusal_needs_a_reason(
    submit, dispatcher_li, dept_water_zhao
):
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    extension = actions.request_extension(order, days=2, reason="等配件", actor=dept_water_zhao)
    with pytest.raises(PermissionDenied):
        actions.decide_extension(extension, approve=True, actor=dept_water_zhao)
    with pytest.raises(ValidationError):
        actions.decide_extension(extension, approve=False, note="", actor=dispatcher_li)


def _replied(submit, dispatcher_li, dept_water_zhao, **kw):
    request = submit(**kw)
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="resolved", text="已处理", actor=dept_water_zhao)
    request.refresh_from_db()
    return request


def test_a_satisfied_follow_up_closes_the_case(submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    actions.record_follow_up(
        request, resolved=True, satisfaction="satisfied", channel="phone", actor=dispatcher_li
    )
    request.refresh_from_db()
    assert request.status == Status.CLOSED and request.resolved is True


def test_an_unresolved_follow_up_reopens_the_case_to_the_same_unit(submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    actions.record_follow_up(
        request,
        resolved=False,
        satisfaction="unsatisfied",
        channel="phone",
        actor=dispatcher_li,
        comment="还是没水",
    )
    request.refresh_from_db()
    assert request.status == Status.DISPATCHED and request.reopen_count == 1
    assert request.orders.filter(status=OrderStatus.PENDING, department__code="WATER").count() == 1
    assert request.follow_ups.count() == 1  # the history is kept


@override_settings(HOTLINE={**__import__("django.conf").conf.settings.HOTLINE, "reopen_limit": 0})
def test_the_reopen_limit_is_configurable(submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    actions.record_follow_up(
        request, resolved=False, satisfaction="unsatisfied", channel="phone", actor=dispatcher_li
    )
    request.refresh_from_db()
    assert request.status == Status.CLOSED


def test_only_the_citizen_rates_on_the_web(submit, dispatcher_li, dept_water_zhao, outsider_zhou):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    with pytest.raises(PermissionDenied):
        actions.record_follow_up(
            request, resolved=True, satisfaction="satisfied", channel="web", actor=outsider_zhou
        )
    with pytest.raises(PermissionDenied):  # staff cannot rate, even holding the citizen's code
        actions.rate_with_code(
            actions.issue_rating_link(request, actor=SYSTEM),
            resolved=True,
            satisfaction="satisfied",
            actor=dept_water_zhao,
        )
    actions.rate_with_code(
        actions.issue_rating_link(request, actor=SYSTEM), resolved=True, satisfaction="basic", actor=SYSTEM
    )
    request.refresh_from_db()
    assert request.status == Status.CLOSED and request.satisfaction == "basic"


def test_duplicates_nearby_are_offered_and_merged_requests_are_each_followed_up(
    submit, dispatcher_li, dept_water_zhao
):
    primary = submit()
    duplicate = submit(place="D1S1C1", caller_phone="13900000000")
    far = submit(place="D2S2")
    assert queries.duplicate_candidates(duplicate, dispatcher_li) == [primary]
    assert far not in queries.duplicate_candidates(duplicate, dispatcher_li)
    actions.merge_requests(duplicate, into=primary, actor=dispatcher_li)
    [order] = actions.accept_suggestion(primary, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="resolved", text="已恢复", actor=dept_water_zhao)
    queue = list(queries.follow_up_queue())
    assert primary in queue and Request.objects.get(pk=duplicate.pk) in queue
    actions.record_follow_up(
        Request.objects.get(pk=duplicate.pk),
        resolved=True,
        satisfaction="satisfied",
        channel="phone",
        actor=dispatcher_li,
    )
    assert Request.objects.get(pk=duplicate.pk) not in queries.follow_up_queue()


def test_old_requests_are_not_duplicates(submit, dispatcher_li):
    old = submit()
    Request.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=80))
    assert queries.duplicate_candidates(submit(), dispatcher_li) == []


def test_departments_see_callers_only_with_the_contact_permission_and_every_reveal_is_audited(
    submit, dispatcher_li, dept_water_zhao
):
    from django.contrib.auth.models import Permission

    request = submit()
    actions.accept_suggestion(request, actor=dispatcher_li)
    assert not queries.can_see_contact(dept_water_zhao, request)
    with pytest.raises(PermissionDenied):
        actions.reveal_contact(request, actor=dept_water_zhao, reason="约上门")
    dept_water_zhao.user_permissions.add(Permission.objects.get(codename="contact_citizen"))
    from cityloop.core.models import User

    zhao = User.objects.get(pk=dept_water_zhao.pk)
    assert actions.reveal_contact(request, actor=zhao, reason="约上门")["phone"] == "13812345678"
    assert AuditRecord.objects.filter(action="request.reveal_contact", actor_id=zhao.pk).count() == 1


def test_a_confidential_caller_is_hidden_from_everyone_but_the_dispatcher(
    submit, dispatcher_li, dept_water_zhao
):
    from django.contrib.auth.models import Permission

    from cityloop.core.models import User

    request = submit(confidential=True)
    actions.accept_suggestion(request, actor=dispatcher_li)
    dept_water_zhao.user_permissions.add(Permission.objects.get(codename="contact_citizen"))
    assert not queries.can_see_contact(User.objects.get(pk=dept_water_zhao.pk), request)
    assert queries.can_see_contact(dispatcher_li, request)


def test_the_classifier_suggestion_never_overrides_the_operators_choice(submit, dispatcher_li, city):
    request = submit(category="01.01.01")
    assert request.suggested_category is None or request.category.code == "01.01.01"
    actions.classify_request(request, Category.objects.get(city=city, code="02.01.02"), actor=dispatcher_li)
    assert Request.objects.get(pk=request.pk).category.code == "02.01.02"


def test_a_sensor_case_waits_for_the_data_and_closes_or_reopens(city, dept_water_zhao):
    water = Department.objects.get(city=city, code="WATER")
    street = Jurisdiction.objects.get(city=city, code="D1S1")
    case = actions.open_case(
        source="brain",
        source_ref="device:W1:leak",
        title="夜间持续流量",
        description="水表夜间最小流量持续偏高",
        department=water,
        street=street,
        lon=116.02,
        lat=39.95,
        evidence={"night_min": 0.12},
        actor=SYSTEM,
    )
    again = actions.open_case(
        source="brain",
        source_ref="device:W1:leak",
        title="夜间持续流量",
        description="再次告警",
        department=water,
        street=street,
        lon=116.02,
        lat=39.95,
        actor=SYSTEM,
    )
    assert again.pk == case.pk  # one case per ongoing problem
    from cityloop.notify.models import Message

    told = Message.objects.get(event="brain.case", channel="inbox", user=dept_water_zhao)  # once, not twice
    assert case.tracking_no in told.body and "夜间持续流量" in told.body
    [order] = case.orders.all()
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="fixed", text="已修复漏点", actor=dept_water_zhao)
    assert queries.case_status(case.pk) == Status.AWAITING_VERIFICATION
    case.refresh_from_db()
    actions.reopen_case(case, reason="leak came back", evidence={"night_min": 0.2}, actor=SYSTEM)
    assert queries.case_status(case.pk) == Status.DISPATCHED
    case.refresh_from_db()
    order = case.orders.get(status=OrderStatus.PENDING)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="fixed", text="更换阀门", actor=dept_water_zhao)
    actions.confirm_fixed(Request.objects.get(pk=case.pk), evidence={"normal_hours": 24}, actor=SYSTEM)
    assert queries.case_status(case.pk) == Status.CLOSED
