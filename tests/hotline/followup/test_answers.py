"""One answer per reply, and every page says whose it is (issue "The citizen's word is the citizen's")."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from cityloop.core.doors.forms import errors_in_english
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions, queries
from cityloop.hotline.models import FollowUp, Order, OrderStatus, Request, Status
from tests.hotline.texts import texted_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_and_language():
    """A clean throttle; and the language the pages here switch to is not left active for later tests."""
    cache.clear()
    with translation.override(translation.get_language()):
        yield
    cache.clear()


@pytest.fixture
def as_user(client, persona_password):
    def login(user, language="zh-hans"):
        client.logout()
        assert client.login(username=user.username, password=persona_password)
        client.cookies["django_language"] = language
        return client

    return login


def _reply(request: Request, unit_user, text: str = "已恢复供水") -> Request:
    order = Order.objects.filter(request=request, status=OrderStatus.PENDING).get()
    actions.sign_order(order, actor=unit_user)
    actions.reply_order(Order.objects.get(pk=order.pk), outcome="resolved", text=text, actor=unit_user)
    request.refresh_from_db()
    return request


def _replied(submit, dispatcher, unit_user) -> Request:
    request = submit()
    actions.accept_suggestion(request, actor=dispatcher)
    return _reply(request, unit_user)


def _phone(request, dispatcher, **answer):
    answer = {"resolved": True, "satisfaction": "satisfied", "comment": "电话里说水来了", **answer}
    return actions.record_follow_up(request, channel="phone", actor=dispatcher, **answer)


def _rate_online(request, **answer):
    answer = {"resolved": True, "satisfaction": "basic", "comment": "谢谢", **answer}
    code = texted_code(request.tracking_no, "rating_link")
    return actions.rate_with_code(code, actor=AnonymousUser(), **answer)


def _refusal(exc: pytest.ExceptionInfo) -> str:
    return " ".join(errors_in_english(exc.value)["request"])


def _track(client, request):
    client.logout()
    code = texted_code(request.tracking_no)
    client.post("/hotline/track/", {"tracking_no": request.tracking_no, "code": code})
    return client


def test_a_phone_follow_up_is_shown_as_the_operators_record_on_every_page(
    client, as_user, submit, dispatcher_li, dept_water_zhao
):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    rating_link = f"/hotline/rate/{texted_code(request.tracking_no, 'rating_link')}/"
    answer = _phone(request, dispatcher_li)
    assert answer.operator == dispatcher_li and answer.replied_at == request.replied_at

    status = _track(client, request).get(f"/hotline/track/{request.tracking_no}/").content.decode()
    assert "电话回访 · 记录人 李调度" in status and "记录人的备注： 电话里说水来了" in status
    assert "您的在线评价" not in status and "您的评价" not in status
    assert 'id="rate"' not in status  # the reply has its answer
    assert "电话回访，由话务员记录" in status  # the timeline's line says it too
    client.cookies["django_language"] = "en"
    english = client.get(f"/hotline/track/{request.tracking_no}/").content.decode()
    assert "Phone follow-up · recorded by 李调度" in english and "Your online rating" not in english

    link_page = client.get(rating_link).content.decode()
    assert "Phone follow-up · recorded by 李调度" in link_page and 'name="satisfaction"' not in link_page

    detail = as_user(dispatcher_li).get(f"/hotline/requests/{request.pk}/").content.decode()
    assert "电话回访 · 记录人 李调度" in detail


def test_the_citizens_online_rating_is_shown_as_theirs(
    client, as_user, submit, dispatcher_li, dept_water_zhao
):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    _rate_online(request)
    status = _track(client, request).get(f"/hotline/track/{request.tracking_no}/").content.decode()
    assert "您的在线评价" in status and "电话回访" not in status
    detail = as_user(dispatcher_li, "en").get(f"/hotline/requests/{request.pk}/").content.decode()
    assert "The citizen's online rating" in detail and "recorded by" not in detail


def test_a_citizen_who_rated_online_is_not_called(as_user, submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    client = as_user(dispatcher_li)
    assert request.tracking_no in client.get("/hotline/follow-ups/").content.decode()
    _rate_online(request)
    assert request not in queries.follow_up_queue()
    assert request.tracking_no not in client.get("/hotline/follow-ups/").content.decode()

    with pytest.raises(ValidationError) as refused:
        _phone(Request.objects.get(pk=request.pk), dispatcher_li)
    assert "already rated this reply online" in _refusal(refused)
    # The dispatcher's stale page posts the call anyway: the refusal says why, nothing changes.
    page = client.post(
        f"/hotline/follow-ups/{request.pk}/",
        {f"f{request.pk}-resolved": "no", f"f{request.pk}-satisfaction": "unsatisfied"},
    )
    assert page.status_code == 409 and "市民已在网上评价了这次答复" in page.content.decode()
    [kept] = FollowUp.objects.filter(request=request)
    assert kept.channel == "web" and kept.satisfaction == "basic"
    assert Request.objects.get(pk=request.pk).satisfaction == "basic"


def test_an_online_rating_after_a_phone_follow_up_is_refused(client, submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    code = texted_code(request.tracking_no, "rating_link")
    _phone(request, dispatcher_li, satisfaction="basic")
    with pytest.raises(ValidationError) as refused:
        actions.rate_with_code(code, resolved=False, satisfaction="unsatisfied", actor=AnonymousUser())
    assert "already answered by phone" in _refusal(refused) and "李调度" in _refusal(refused)
    posted = client.post(f"/hotline/rate/{code}/", {"resolved": "no", "satisfaction": "unsatisfied"})
    assert posted.status_code == 409 and "记录人 李调度" in posted.content.decode()
    assert FollowUp.objects.filter(request=request).count() == 1
    assert Request.objects.get(pk=request.pk).satisfaction == "basic"


def test_each_reply_gets_one_answer_and_every_answer_is_kept(
    submit, dispatcher_li, dept_water_zhao, settings
):
    settings.HOTLINE = {**settings.HOTLINE, "reopen_on": ["unresolved"], "reopen_limit": 2}
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    first = _rate_online(request, resolved=False, satisfaction="unsatisfied")
    request.refresh_from_db()
    assert first.reopened and request.status == Status.DISPATCHED
    request = _reply(request, dept_water_zhao, text="换了水泵")
    assert request in queries.follow_up_queue()  # a new reply, a new answer
    second = _phone(request, dispatcher_li)
    assert first.replied_at != second.replied_at == request.replied_at
    assert [f.channel for f in queries.answers(request)] == ["web", "phone"]
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the rule too
        FollowUp.objects.create(
            request=request,
            at=second.at + timedelta(minutes=1),
            channel="web",
            resolved=True,
            satisfaction="satisfied",
            replied_at=request.replied_at,
        )


def test_the_follow_up_list_shows_the_reply_and_the_number_only_after_a_reveal_with_a_reason(
    as_user, submit, dispatcher_li, dept_water_zhao
):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    client = as_user(dispatcher_li)
    page = client.get("/hotline/follow-ups/").content.decode()
    assert "已恢复供水" in page and "市水务局" in page
    assert "· 已解决" in page and "· resolved" not in page  # the outcome in words, not its code
    assert "138****" in page and "13812345678" not in page and "/reveal/" in page

    empty = client.post(f"/hotline/follow-ups/{request.pk}/reveal/", {f"r{request.pk}-reason": "  "})
    body = empty.content.decode()
    assert empty.status_code == 400 and f'id="id_r{request.pk}-reason_error"' in body
    assert "请说明查看来电人联系方式的理由" in body and "13812345678" not in body
    assert not AuditRecord.objects.filter(action="request.reveal_contact").exists()

    shown = client.post(f"/hotline/follow-ups/{request.pk}/reveal/", {f"r{request.pk}-reason": "回访致电"})
    assert shown.status_code == 200 and 'href="tel:13812345678"' in shown.content.decode()
    record = AuditRecord.objects.get(action="request.reveal_contact")
    assert json.loads(record.summary)["reason"] == "回访致电" and record.actor_id == dispatcher_li.pk


def test_a_reveal_without_a_reason_is_refused_on_every_door(as_user, submit, dispatcher_li):
    request = submit()
    with pytest.raises(ValidationError) as refused:
        actions.reveal_contact(request, actor=dispatcher_li, reason=" ")
    assert list(refused.value.message_dict) == ["reason"]
    page = as_user(dispatcher_li, "en").post(f"/hotline/requests/{request.pk}/reveal/", {"reason": ""})
    assert page.status_code == 400 and 'id="reveal-reason_error"' in page.content.decode()
    assert "say why you need the caller" in page.content.decode()
    assert not AuditRecord.objects.filter(action="request.reveal_contact").exists()
