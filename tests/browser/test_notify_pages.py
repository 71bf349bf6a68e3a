"""The notification pages in a real browser, without JavaScript, on a 390 px wide phone, in both languages."""

from __future__ import annotations

from django.db import transaction

from cityloop.notify import actions
from cityloop.notify.models import Message, Status
from cityloop.notify.recipients import To, people
from tests.browser.conftest import login, switch_language
from tests.conftest import PERSONA_PASSWORD

PHONE = {"width": 390, "height": 844}
PARAMS = {
    "no": "R20261118-00001",
    "reply": "已修复。",
    "unit": "金融街街道",
    "respond_due": "2026-11-18 12:00",
    "category": "路灯",
    "street": "金融街街道",
    "deadline": "2026-11-18 10:30",
}


def _fits(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_staff_member_reads_their_notifications_from_the_badge_on_a_phone(page, dispatcher_li):
    with transaction.atomic():
        actions.queue("order.new", people([dispatcher_li]), PARAMS, link="/hotline/queue/")
        actions.queue("whistle.summons", people([dispatcher_li]), {**PARAMS, "no": "R20261118-00002"})
    page.set_viewport_size(PHONE)
    login(page, "dispatcher_li", PERSONA_PASSWORD)
    badge = page.locator("#notify-badge")
    assert badge.get_attribute("data-unread") == "2"
    assert _fits(page)

    badge.click()
    assert page.url.endswith("/notify/")
    assert page.locator("h1").inner_text() == "通知"
    assert page.locator(".note.unread").count() == 2
    assert "吹哨：请于 2026-11-18 10:30 前报到" in page.locator(".note").first.inner_text()
    assert _fits(page)

    page.locator(".note.unread").first.get_by_role("button", name="标为已读").click()
    assert page.locator(".note.unread").count() == 1
    assert page.locator("#notify-badge").get_attribute("data-unread") == "1"
    assert "已将 1 条通知标为已读" in page.locator(".messages").inner_text()

    switch_language(page, "en")
    assert page.locator("h1").inner_text() == "Notifications"
    page.get_by_role("button", name="Mark all read").click()
    assert page.locator(".note.unread").count() == 0
    assert page.locator("#notify-badge").get_attribute("data-unread") == "0"
    assert _fits(page)


def test_preferences_show_a_broken_rule_next_to_its_field_and_save_on_a_phone(page, dispatcher_li):
    page.set_viewport_size(PHONE)
    login(page, "dispatcher_li", PERSONA_PASSWORD)
    page.goto("/notify/preferences/")
    assert "紧急消息在免打扰时段内照常发送" in page.locator("main").inner_text()
    assert _fits(page)
    page.fill("#id_quiet_from", "22:00")
    page.uncheck("#id_email")
    page.click("main form.form button[type=submit]")
    error = page.locator("[data-field=quiet_until] .error").inner_text()
    assert "免打扰时段请同时填写开始和结束时间" in error
    assert _fits(page)

    page.fill("#id_quiet_until", "07:00")
    page.click("main form.form button[type=submit]")
    assert "通知设置已保存" in page.locator(".messages").inner_text()
    assert page.input_value("#id_quiet_until") == "07:00"

    switch_language(page, "en")
    page.check("#id_email")  # the account has no e-mail address
    page.click("main form.form button[type=submit]")
    assert "your account has no e-mail address" in page.locator("[data-field=email] .error").inner_text()
    assert "Urgent messages still come during quiet hours" in page.locator("main").inner_text()
    assert _fits(page)


def test_an_administrator_resends_a_dead_letter_from_the_outbox_on_a_phone(page, admin_zhang):
    with transaction.atomic():
        (dead,) = actions.queue(
            "request.replied", [To("email", "wang.xiaoming.long.address@example.cn")], PARAMS
        )
        actions.queue("request.replied", [To("sms", "13800001234")], {**PARAMS, "no": "R20261118-00002"})
    Message.objects.filter(pk=dead.pk).update(
        status=Status.DEAD, attempts=5, last_error="550 5.1.1 <wang.xiaoming.long.address@example.cn>: " * 3
    )
    page.set_viewport_size(PHONE)
    login(page, "admin_zhang", PERSONA_PASSWORD)
    page.goto("/notify/outbox/")
    assert page.locator("h1").inner_text() == "发件箱"
    assert _fits(page)
    assert "13800001234" not in page.locator("table.outbox").inner_text()
    assert "*******1234" in page.locator("table.outbox").inner_text()

    page.click("#dead-letters")
    assert page.url.endswith("?status=dead")
    assert page.locator("tr[data-status=dead]").count() == 1
    assert _fits(page)
    page.check(f"input[name=ids][value='{dead.pk}']")
    page.get_by_role("button", name="重发所选消息").click()
    assert "已将 1 条消息重新排队" in page.locator(".messages").inner_text()
    assert page.url.endswith("?status=dead")
    assert page.locator("tr[data-status=dead]").count() == 0
    dead.refresh_from_db()
    assert dead.status == Status.QUEUED

    switch_language(page, "en")
    page.goto("/notify/outbox/")
    assert page.locator("h1").inner_text() == "Outbox"
    page.select_option("#id_channel", "sms")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("tr[data-uid]").count() == 1
    assert _fits(page)
