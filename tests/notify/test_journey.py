"""Issue 14's "done when": one request from intake to follow-up, heard by the citizen at a real SMTP
server and a signed SMS gateway in their language and in order; a whistle summons reaching the
department's robot through a running delivery worker with no page opened."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from django.utils import timezone, translation

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from cityloop.hotline.models import Channel
from cityloop.notify import deliver
from cityloop.notify.models import Message, Status
from cityloop.org.models import Department
from tests.brain.conftest import database_url
from tests.clock import pinned_command, pinned_env
from tests.notify import test_channels_robots as robots_test
from tests.notify import test_channels_sms as sms_test
from tests.notify.fake_http import serve

CITIZEN_EVENTS = ["request.received", "request.replied", "request.rating_link", "request.reopened"]
SMS_CODES = {event: f"SMS_4653010{i:02d}" for i, event in enumerate(CITIZEN_EVENTS)}


def _wait_until(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def sms_gateway(monkeypatch, tmp_path):
    """The fake dysmsapi (it checks the signature as Alibaba Cloud does) and the settings that use it."""
    monkeypatch.setattr(sms_test, "TEMPLATES", SMS_CODES)
    templates = tmp_path / "sms.yaml"
    templates.write_text("".join(f"{e}: {c}\n" for e, c in SMS_CODES.items()), encoding="utf-8")
    with serve(sms_test._dysmsapi) as provider:
        monkeypatch.setenv("CITYLOOP_SMS_PROVIDER", "aliyun")
        monkeypatch.setenv("CITYLOOP_SMS_ENDPOINT", provider.url)
        monkeypatch.setenv("CITYLOOP_SMS_ACCESS_KEY_ID", sms_test.KEY_ID)
        monkeypatch.setenv("CITYLOOP_SMS_ACCESS_KEY_SECRET", sms_test.SECRET)
        monkeypatch.setenv("CITYLOOP_SMS_SIGN_NAME", "测试市12345")
        monkeypatch.setenv("CITYLOOP_SMS_TEMPLATES", str(templates))
        yield provider


def _texts(gateway) -> list[tuple[str, str, dict]]:
    by_code = {c: e for e, c in SMS_CODES.items()}
    return [
        (q["PhoneNumbers"], by_code[q["TemplateCode"]], json.loads(q["TemplateParam"]))
        for q in gateway.state.get("delivered", [])
    ]


def _mails(smtp, to: str) -> list[tuple[str, str]]:
    return [
        (m["X-CityLoop-Event"], m.get_payload(decode=True).decode()) for m in smtp.received if m["To"] == to
    ]


@pytest.mark.django_db
def test_one_request_from_intake_to_follow_up_tells_everyone_in_order_and_in_their_language(
    city, tiny_places, smtp, sms_gateway, dispatcher_li, dept_water_zhao
):
    dept_water_zhao.email = "zhao@water.example.cn"
    dept_water_zhao.save()
    lon, lat = tiny_places["D1S1C1"]
    water = {"lon": lon, "lat": lat, "category_code": "02.01.01", "description": "楼里停水了"}
    by_phone, _ = actions.submit_request(
        Submission(caller_phone="13812345678", **water), city=city, channel=Channel.PHONE, actor=SYSTEM
    )
    with translation.override("en"):  # filed through the API in English, with an e-mail address only
        by_mail, _ = actions.submit_request(
            Submission(caller_email="li@example.com", **water), city=city, channel=Channel.API, actor=SYSTEM
        )
    deliver.deliver_due()
    orders = [actions.accept_suggestion(r, actor=dispatcher_li)[0] for r in (by_phone, by_mail)]
    deliver.deliver_due()
    for order in orders:
        actions.sign_order(order, actor=dept_water_zhao)
        actions.reply_order(order, outcome="fixed", text="已更换阀门，恢复供水。", actor=dept_water_zhao)
        deliver.deliver_due()
    # the citizen on the phone rates with the code their phone received: not resolved, so it reopens
    rating = next(p for _, e, p in _texts(sms_gateway) if e == "request.rating_link")
    actions.rate_with_code(rating["code"], resolved=False, satisfaction="unsatisfied", actor=SYSTEM)
    deliver.deliver_due()

    texts = _texts(sms_gateway)
    assert [e for _, e, _ in texts] == CITIZEN_EVENTS  # in order, each once
    assert {phone for phone, _, _ in texts} == {"13812345678"}
    assert all(p["no"] == by_phone.tracking_no for _, _, p in texts)
    assert texts[0][2]["code"] and texts[1][2]["reply"] == "已更换阀门，恢复供水。"

    mails = _mails(smtp, "li@example.com")
    assert [e for e, _ in mails] == CITIZEN_EVENTS[:3]
    assert "was received" in mails[0][1] and "has been answered" in mails[1][1]  # in English
    assert "/hotline/rate/" in mails[2][1]

    staff = _mails(smtp, "zhao@water.example.cn")
    assert [e for e, _ in staff] == [
        "order.new",
        "order.new",
        "order.new",
    ]  # two orders, then the reopened one
    assert "收到诉求" in staff[0][1] and "的新工单" in staff[0][1]  # in Chinese, the staff default
    assert not Message.objects.exclude(status__in=[Status.SENT]).exclude(channel="inbox").exists()
    # the codes reached the phone and the mailbox, and are no longer in the outbox
    assert not Message.objects.filter(body__contains=rating["code"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_whistle_summons_reaches_the_departments_robot_through_a_running_delivery_worker(
    city, street_chen, tmp_path
):
    with serve(robots_test._wecom) as wecom:
        robots = tmp_path / "robots.yaml"
        robots.write_text(
            f"water-duty:\n  kind: wecom\n  units: [WATER]\n"
            f"  url: {wecom.url}/cgi-bin/webhook/send?key={robots_test.WECOM_KEY}\n",
            encoding="utf-8",
        )
        env = pinned_env({**pinned_env(), "CITYLOOP_NOTIFY_ROBOTS": str(robots)})
        env["CITYLOOP_DATABASE_URL"] = database_url()
        env["CITYLOOP_TESTING"] = "0"  # the worker runs as it does in production
        worker = subprocess.Popen(
            pinned_command("cityloop.cli.main", "notify", "deliver", "--forever", "--poll", "0.1"), env=env
        )
        try:
            import os

            os.environ["CITYLOOP_NOTIFY_ROBOTS"] = str(robots)
            try:
                whistle = actions.blow_whistle(
                    street=street_chen.street,
                    departments=[Department.objects.get(city=city, code="WATER")],
                    title="地下管网渗漏",
                    need="水务查漏",
                    urgent=True,
                    finish_due=timezone.now() + timezone.timedelta(days=3),
                    actor=street_chen,
                )
            finally:
                del os.environ["CITYLOOP_NOTIFY_ROBOTS"]
            blown = time.monotonic()
            assert _wait_until(lambda: wecom.state.get("delivered"), seconds=60), "the robot never heard"
            took = time.monotonic() - blown
            (doc,) = wecom.state["delivered"]
            assert "报到" in doc["markdown"]["content"] and "金融街街道" in doc["markdown"]["content"]
            print(f"whistle summons reached the robot {took:.2f} s after the commit")
            message = Message.objects.get(event="whistle.summons", channel="wecom")
            assert _wait_until(lambda: Message.objects.get(pk=message.pk).status == Status.SENT, seconds=10)
            assert whistle.pk
        finally:
            worker.terminate()
            worker.wait(timeout=15)
