"""The notification pages: a person's inbox and its badge on every page, preferences, the admins' outbox."""

from __future__ import annotations

import re
from datetime import time as clock_time

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cityloop.core.models import AuditRecord
from cityloop.notify import actions
from cityloop.notify.models import Message, Preference, Status
from cityloop.notify.recipients import To, people

pytestmark = pytest.mark.django_db

INBOX, PREFERENCES, OUTBOX = "/notify/", "/notify/preferences/", "/notify/outbox/"
PARAMS = {
    "no": "R20261118-00001",
    "reply": "已修复。",
    "reason": "仍未解决",
    "unit": "金融街街道",
    "respond_due": "2026-11-18 12:00",
    "category": "路灯",
    "street": "金融街街道",
    "deadline": "2026-11-18 10:30",
}


def _client(user, language="zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def _tell(users, event="order.new", no="R20261118-00001", link="/hotline/orders/1/") -> list[Message]:
    with transaction.atomic():
        return actions.queue(event, people(users), {**PARAMS, "no": no}, about=("request", no), link=link)


def _send(to, event="request.replied", no="R20261118-00001", status=Status.QUEUED, **fields) -> Message:
    with transaction.atomic():
        (m,) = actions.queue(event, [to], {**PARAMS, "no": no}, about=("request", no))
    Message.objects.filter(pk=m.pk).update(status=status, **fields)  # as the delivery worker leaves it
    m.refresh_from_db()
    return m


def _unread_badge(html: str) -> str:
    found = re.search(r'id="notify-badge"[^>]*data-unread="(\d+)"', html)
    assert found, "no unread badge in the page's header"
    return found.group(1)


# -- the inbox -----------------------------------------------------------------------------------------


def test_the_inbox_shows_ones_own_messages_newest_first_with_the_unread_marked(
    dispatcher_li, leader_sun, pinned_now
):
    (old,) = _tell([dispatcher_li], no="R20261118-00001")
    (new,) = _tell([dispatcher_li], event="whistle.summons", no="R20261118-00002", link="")
    _tell([leader_sun], no="R20261118-00099")
    Message.objects.filter(pk=old.pk).update(created_at=pinned_now.replace(hour=8), read_at=pinned_now)

    html = _client(dispatcher_li).get(INBOX).content.decode()
    assert html.index("R20261118-00002") < html.index("R20261118-00001")
    assert "R20261118-00099" not in html  # someone else's
    assert f'data-message="{new.pk}"' in html and f'class="card note unread" data-message="{new.pk}"' in html
    assert f'class="card note" data-message="{old.pk}"' in html
    assert 'href="/hotline/orders/1/"' in html
    assert "2026-11-18 10:00" in html and "2026-11-18 08:00" in html  # city time, not UTC
    assert "吹哨：请于 2026-11-18 10:30 前报到" in html and "新工单 R20261118-00001" in html
    english = _client(dispatcher_li, "en").get(INBOX).content.decode()
    assert "Mark all read" in english and "全部标为已读" in html


def test_marking_one_message_read_and_then_all_touches_only_ones_own(dispatcher_li, leader_sun):
    first, second = _tell([dispatcher_li]) + _tell([dispatcher_li], no="R20261118-00002")
    (theirs,) = _tell([leader_sun])
    client = _client(dispatcher_li)

    answer = client.post(INBOX, {"id": [first.pk, theirs.pk]})
    assert answer.status_code == 302 and answer["Location"] == INBOX
    assert Message.objects.get(pk=first.pk).read_at is not None
    assert Message.objects.get(pk=second.pk).read_at is None
    assert Message.objects.get(pk=theirs.pk).read_at is None
    assert "已将 1 条通知标为已读" in client.get(INBOX).content.decode()

    client.post(INBOX, {"all": "1"})
    assert Message.objects.get(pk=second.pk).read_at is not None
    assert Message.objects.get(pk=theirs.pk).read_at is None
    assert "全部标为已读" not in client.get(INBOX).content.decode()


def test_the_inbox_needs_a_sign_in_and_a_citizen_sees_their_own_empty_one(citizen_wang):
    assert "/login/" in Client().get(INBOX)["Location"]
    assert Client().post(INBOX, {"all": "1"}).status_code == 302
    html = _client(citizen_wang).get(INBOX).content.decode()
    assert "暂无通知" in html


def test_the_csrf_token_is_required_to_mark_read(dispatcher_li):
    (m,) = _tell([dispatcher_li])
    client = Client(enforce_csrf_checks=True)
    client.force_login(dispatcher_li)
    assert client.post(INBOX, {"id": m.pk}).status_code == 403
    assert Message.objects.get(pk=m.pk).read_at is None


# -- the badge -----------------------------------------------------------------------------------------


def test_every_staff_page_shows_the_unread_count_with_one_count_query(city, dispatcher_li, street_chen):
    _tell([dispatcher_li])
    _tell([dispatcher_li], no="R20261118-00002")
    _tell([street_chen])
    client = _client(dispatcher_li)
    for url in ("/", reverse("hotline:queue"), INBOX):
        with CaptureQueriesContext(connection) as captured:
            html = client.get(url).content.decode()
        assert _unread_badge(html) == "2", url
        assert 'href="/notify/"' in html
        counts = [q["sql"] for q in captured.captured_queries if "notify_message" in q["sql"]]
        if url != INBOX:  # the inbox page reads the messages themselves as well
            assert len(counts) == 1, counts
    client.post(INBOX, {"all": "1"})
    assert _unread_badge(client.get("/").content.decode()) == "0"
    assert _unread_badge(_client(street_chen).get("/").content.decode()) == "1"


def test_an_anonymous_visitor_has_no_badge_and_costs_no_count(city):
    with CaptureQueriesContext(connection) as captured:
        html = Client().get("/").content.decode()
    assert 'id="notify-badge"' not in html
    assert not [q for q in captured.captured_queries if "notify_message" in q["sql"]]


# -- preferences ---------------------------------------------------------------------------------------


def test_preferences_refused_by_the_rules_show_the_rule_next_to_its_field(dispatcher_li):
    client = _client(dispatcher_li)
    html = client.get(PREFERENCES).content.decode()
    assert "紧急消息在免打扰时段内照常发送" in html  # urgent messages still come in quiet hours

    answer = client.post(
        PREFERENCES, {"language": "zh-hans", "email": "on", "sms": "on", "quiet_from": "22:00"}
    )
    assert answer.status_code == 400
    html = answer.content.decode()

    def field(name: str) -> str:
        start = html.index(f'data-field="{name}"')
        return html[start : html.index("</div>", start)]

    assert "您的账号没有电子邮箱地址" in field("email")
    assert "您的账号没有手机号码" in field("sms")
    assert "免打扰时段请同时填写开始和结束时间" in field("quiet_until")
    assert not Preference.objects.filter(user=dispatcher_li).exists()

    english = _client(dispatcher_li, "en").post(PREFERENCES, {"language": "xx", "quiet_until": "25:00"})
    text = english.content.decode()
    assert english.status_code == 400
    assert "Select a valid choice" in text and "Enter a valid time" in text


def test_saved_preferences_are_stored_audited_and_shown_again(dispatcher_li):
    dispatcher_li.email, dispatcher_li.phone = "li@example.cn", "13800001234"
    dispatcher_li.save(update_fields=["email", "phone"])
    client = _client(dispatcher_li)
    answer = client.post(
        PREFERENCES,
        {"language": "en", "sms": "on", "quiet_from": "22:00", "quiet_until": "07:00", "digest": "on"},
    )
    assert answer.status_code == 302 and answer["Location"] == PREFERENCES
    pref = Preference.objects.get(user=dispatcher_li)
    assert (pref.language, pref.email, pref.sms, pref.digest) == ("en", False, True, True)
    assert (pref.quiet_from, pref.quiet_until) == (clock_time(22), clock_time(7))
    assert AuditRecord.objects.filter(action="notify.preferences", actor_id=dispatcher_li.pk).exists()
    html = client.get(PREFERENCES).content.decode()
    assert "通知设置已保存" in html
    assert 'value="22:00"' in html and 'value="07:00"' in html
    assert re.search(r'<option value="en" selected>', html)


# -- the outbox ----------------------------------------------------------------------------------------


def test_only_administrators_open_the_outbox_or_resend(city, admin_zhang, dispatcher_li, auditor_qian):
    dead = _send(To("email", "wang@example.cn"), status=Status.DEAD, attempts=5)
    assert _client(admin_zhang).get(OUTBOX).status_code == 200
    for user in (dispatcher_li, auditor_qian):
        assert _client(user).get(OUTBOX).status_code == 403
        assert _client(user).post(OUTBOX, {"ids": [dead.pk]}).status_code == 403
    assert Message.objects.get(pk=dead.pk).status == Status.DEAD
    assert "/login/" in Client().get(OUTBOX)["Location"]
    menu = _client(admin_zhang).get("/").content.decode()
    assert 'href="/notify/outbox/"' in menu
    assert 'href="/notify/outbox/"' not in _client(dispatcher_li).get("/").content.decode()


def test_the_outbox_filters_by_status_channel_event_and_tracking_number(admin_zhang):
    _send(To("email", "wang@example.cn"), no="R20261118-00001", status=Status.SENT)
    _send(To("sms", "13800001234"), no="R20261118-00002", status=Status.DEAD, last_error="550 no such user")
    _send(To("sms", "13900005678"), event="request.reopened", no="R20261118-00003")
    with transaction.atomic():  # the in-app inbox is not the outbox
        actions.queue("order.new", [To("inbox", str(admin_zhang.pk), admin_zhang.pk)], PARAMS)
    client = _client(admin_zhang)

    def shown(**query) -> list[str]:
        html = client.get(OUTBOX, query).content.decode()
        return sorted(re.findall(r"<small>(R2026\d+-\d+)</small>", html))

    assert shown() == ["R20261118-00001", "R20261118-00002", "R20261118-00003"]
    assert shown(status="dead") == ["R20261118-00002"]
    assert shown(channel="sms") == ["R20261118-00002", "R20261118-00003"]
    assert shown(event="request.reopened") == ["R20261118-00003"]
    assert shown(about="R20261118-00001") == ["R20261118-00001"]
    assert shown(status="sent", channel="sms") == []
    assert shown(status="nonsense") == shown()  # a value that is no choice filters nothing

    html = client.get(OUTBOX).content.decode()
    assert re.search(r'<div data-status="dead"><dt><a href="\?status=dead">死信</a></dt><dd>1</dd>', html)
    assert re.search(r'<div data-status="queued">.*?<dd>1</dd>', html)  # the inbox is never sent
    assert 'id="dead-letters" href="?status=dead">1 条死信' in html
    assert "550 no such user" in client.get(OUTBOX, {"status": "dead"}).content.decode()


def test_the_outbox_masks_phone_numbers_and_email_addresses_but_their_last_four_characters(admin_zhang):
    _send(To("email", "wang.xiaoming@example.cn"))
    _send(To("sms", "13800001234"))
    _send(To("wecom", "duty-room-1"))
    html = _client(admin_zhang).get(OUTBOX).content.decode()
    assert "wang.xiaoming" not in html and "13800001234" not in html
    assert "*" * 20 + "e.cn" in html
    assert "*" * 7 + "1234" in html
    assert "duty-room-1" in html  # a robot's name is no one's contact


def test_resending_a_dead_letter_queues_it_again_and_is_audited(admin_zhang):
    dead = _send(To("email", "wang@example.cn"), status=Status.DEAD, attempts=5, last_error="550 rejected")
    queued = _send(To("email", "li@example.cn"))
    client = _client(admin_zhang)
    html = client.get(OUTBOX, {"status": "dead"}).content.decode()
    assert f'name="ids" value="{dead.pk}"' in html
    assert f'name="ids" value="{queued.pk}"' not in client.get(OUTBOX).content.decode()

    answer = client.post(OUTBOX, {"ids": [dead.pk, queued.pk], "query": "status=dead&page=x&evil=1"})
    assert answer.status_code == 302 and answer["Location"] == "/notify/outbox/?status=dead"
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.last_error) == (Status.QUEUED, 0, "")
    record = AuditRecord.objects.get(action="notify.resend", object_id=str(dead.pk))
    assert record.actor_id == admin_zhang.pk
    page = client.get(answer["Location"]).content.decode()
    assert "已将 1 条消息重新排队" in page and "只有死信和已发送的消息可以重发" in page
    assert client.post(OUTBOX, {}).status_code == 302


def test_the_outbox_shows_fifty_messages_a_page_and_keeps_the_filter_across_pages(admin_zhang):
    with transaction.atomic():
        actions.queue_many(
            actions.Note("request.replied", (To("sms", f"1380000{i:04d}"),), PARAMS, ("request", f"R{i}"))
            for i in range(61)
        )
    client = _client(admin_zhang)
    first = client.get(OUTBOX, {"channel": "sms"}).content.decode()
    assert first.count('name="ids"') == 0 and first.count("<tr data-uid=") == 50
    assert 'href="?channel=sms&amp;page=2"' in first
    second = client.get(OUTBOX, {"channel": "sms", "page": "2"}).content.decode()
    assert second.count("<tr data-uid=") == 11
    assert client.get(OUTBOX, {"page": "99"}).status_code == 200


def test_every_notification_page_speaks_both_languages(admin_zhang):
    client = _client(admin_zhang)
    for url, zh, en in (
        (INBOX, "暂无通知", "No notifications yet."),
        (PREFERENCES, "免打扰开始时间", "Quiet hours from"),
        (OUTBOX, "发件箱", "Outbox"),
    ):
        assert zh in client.get(url).content.decode()
        assert en in _client(admin_zhang, "en").get(url).content.decode()
