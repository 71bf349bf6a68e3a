"""Operators acknowledge alarms and mute devices: every change audited, refusals name the field and
the rule in the page's language, and a muted device's new alarms are recorded but open no case."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from cityloop.brain import actions
from cityloop.brain.actions.alarms import record_alarms
from cityloop.brain.models import Alarm, Device
from cityloop.brain.rules import AlarmEvent

pytestmark = pytest.mark.django_db


def _event(device, type_="spike", ts=None):
    return AlarmEvent(
        device_idx=device.idx,
        type=type_,
        ts=float(ts if ts is not None else time.time() - 60),
        value=120.0,
        score=5.0,
        evidence={"device": device.code},
        received_at=time.time(),
    )


def _audit(action):
    from cityloop.core.models import AuditRecord

    return list(AuditRecord.objects.filter(action=action).order_by("seq"))


def _refusal(call) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call()
    with translation.override("zh-hans"):
        zh = {k: str(v[0]) for k, v in caught.value.message_dict.items()}
    with translation.override("en"):
        en = {f"{k}@en": str(v[0]) for k, v in caught.value.message_dict.items()}
    return zh | en


def test_acknowledging_an_alarm_records_who_when_and_the_note(devices, dispatcher_li):
    (alarm,) = record_alarms([_event(devices["N1"])])
    done = actions.acknowledge_alarm(alarm, note="  已通知城管巡查  ", actor=dispatcher_li)
    assert (done.acknowledged_by, done.ack_note) == (dispatcher_li, "已通知城管巡查")
    assert done.acknowledged_at == Alarm.objects.get(pk=alarm.pk).acknowledged_at is not None
    (record,) = _audit("alarm.acknowledge")
    assert record.object_id == str(alarm.pk) and record.actor_id == dispatcher_li.pk
    assert "已通知城管巡查" in record.summary


def test_an_alarm_is_acknowledged_once_and_a_long_note_is_refused(devices, dispatcher_li):
    (alarm,) = record_alarms([_event(devices["N1"])])
    refused = _refusal(lambda: actions.acknowledge_alarm(alarm, note="x" * 501, actor=dispatcher_li))
    assert refused["note@en"] == "a note has at most 500 characters" and "500" in refused["note"]
    actions.acknowledge_alarm(alarm, actor=dispatcher_li)
    refused = _refusal(lambda: actions.acknowledge_alarm(alarm, actor=dispatcher_li))
    assert refused["alarm@en"] == "this alarm has already been acknowledged"
    assert refused["alarm"] == "该报警已被确认过"
    assert len(_audit("alarm.acknowledge")) == 1


def test_a_mute_needs_a_reason_and_lasts_from_an_hour_to_thirty_days(devices, dispatcher_li):
    n1 = devices["N1"]
    refused = _refusal(lambda: actions.mute_device(n1, hours=24, reason="  ", actor=dispatcher_li))
    assert refused["reason"] == "请说明静音原因，好让下一位值班人员知道"
    for hours in (None, 0, 721):
        refused = _refusal(
            lambda h=hours: actions.mute_device(n1, hours=h, reason="施工", actor=dispatcher_li)
        )
        assert refused["hours@en"] == "a mute lasts from 1 hour to 30 days (720 hours)"
    assert Device.objects.get(pk=n1.pk).muted_until is None and not _audit("device.mute")


def test_someone_who_cannot_see_the_brain_may_not_mute_or_acknowledge(devices, citizen_wang):
    (alarm,) = record_alarms([_event(devices["N1"])])
    with pytest.raises(PermissionDenied):
        actions.mute_device(devices["N1"], hours=2, reason="施工", actor=citizen_wang)
    with pytest.raises(PermissionDenied):
        actions.acknowledge_alarm(alarm, actor=citizen_wang)


def test_a_muted_device_records_its_alarms_but_opens_no_case_until_the_mute_ends(devices, dispatcher_li):
    from cityloop.hotline.models import Request

    n1 = devices["N1"]
    actions.mute_device(n1, hours=6, reason="道路施工，噪声预期偏高", actor=dispatcher_li)
    (record,) = _audit("device.mute")
    assert record.actor_id == dispatcher_li.pk and "道路施工" in record.summary
    (alarm,) = record_alarms([_event(n1)])
    assert alarm.request_id is None and alarm.muted_until is not None
    assert not Request.objects.filter(channel="brain").exists()
    assert [r.object_id for r in _audit("alarm.muted")] == [str(alarm.pk)]
    record_alarms([_event(n1, "anomaly")])
    assert not Request.objects.filter(channel="brain").exists()

    actions.unmute_device(n1, actor=dispatcher_li)
    assert len(_audit("device.unmute")) == 1
    refused = _refusal(lambda: actions.unmute_device(n1, actor=dispatcher_li))
    assert refused["device@en"] == "this device is not muted"
    # the problem goes on after the mute: now it gets its case
    (again,) = record_alarms([_event(n1)])
    assert again.pk == alarm.pk and again.request_id is not None
    assert Request.objects.filter(channel="brain").count() == 1


def test_the_device_page_takes_the_forms_by_post_only_and_shows_refusals_in_its_language(
    client, devices, dispatcher_li
):
    (alarm,) = record_alarms([_event(devices["N1"])])
    client.force_login(dispatcher_li)
    assert client.get("/brain/devices/N1/mute/").status_code == 405
    assert client.get(f"/brain/alarms/{alarm.pk}/acknowledge/").status_code == 405

    got = client.post(
        "/brain/devices/N1/mute/", {"mute-hours": "4", "mute-reason": ""}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert got.status_code == 400 and "请说明静音原因" in got.content.decode()
    got = client.post(
        "/brain/devices/N1/mute/", {"mute-hours": "4", "mute-reason": ""}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "say why the device is muted" in got.content.decode()
    got = client.post("/brain/devices/N1/mute/", {"mute-hours": "4", "mute-reason": "施工"})
    assert got.status_code == 302
    page = client.get("/brain/devices/N1/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "data-muted-until" in page and "施工" in page

    got = client.post(f"/brain/alarms/{alarm.pk}/acknowledge/", {f"ack{alarm.pk}-note": "seen"})
    assert got.status_code == 302
    page = client.get("/brain/devices/N1/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f'data-acknowledged="{alarm.pk}"' in page and "seen" in page
    assert Alarm.objects.get(pk=alarm.pk).acknowledged_at <= timezone.now()


def test_a_second_acknowledgement_and_a_muted_alarm_are_shown_on_the_pages(client, devices, dispatcher_li):
    n1 = devices["N1"]
    actions.mute_device(n1, hours=6, reason="施工", actor=dispatcher_li)
    (alarm,) = record_alarms([_event(n1)])
    client.force_login(dispatcher_li)
    pulse = client.get("/brain/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f'data-muted="{alarm.pk}"' in pulse and "静音至" in pulse
    url, data = f"/brain/alarms/{alarm.pk}/acknowledge/", {f"ack{alarm.pk}-note": ""}
    assert client.post(url, data).status_code == 302
    again = client.post(url, data, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert again.status_code == 400 and "该报警已被确认过" in again.content.decode()
