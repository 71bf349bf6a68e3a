"""这也是我的问题: the nearby open requests a citizen sees before submitting, and joining one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cityloop.core.actors import SYSTEM
from cityloop.core.doors.forms import errors_in_english
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions, queries
from cityloop.hotline.models import Channel, Request, Status, Supporter

pytestmark = pytest.mark.django_db


def _file(city, lon, lat, *, text="门口堆满杂物", category="", phone="13900000001", **extra):
    sub = actions.Submission(
        description=text, caller_phone=phone, caller_name="赵先生", lon=lon, lat=lat, category_code=category
    )
    request, _ = actions.submit_request(sub, city=city, channel=Channel.WEB, actor=SYSTEM, **extra)
    return request


def _east(lon, metres):  # a point ``metres`` east of lon at latitude 39.95
    return lon + metres / 85_300


def test_the_nearby_list_shows_open_requests_within_the_radius_and_window_nearest_first(city, tiny_places):
    lon, lat = tiny_places["D1S1C1"]
    far = _file(city, _east(lon, 400), lat)
    near = _file(city, _east(lon, 100), lat, category="01.01.01")
    nearer = _file(city, _east(lon, 20), lat, category="01.01.02")
    closed = _file(city, lon, lat)
    Request.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    old = _file(city, lon, lat)
    Request.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    secret = _file(city, lon, lat)
    Request.objects.filter(pk=secret.pk).update(confidential=True)
    found = queries.nearby_open(city, lon, lat)
    assert [n.pk for n in found] == [nearer.pk, near.pk] and far.pk not in [n.pk for n in found]
    assert (
        90 <= found[1].distance_m <= 110 and found[1].category == "乱堆乱放" and found[1].place == "丰盛社区"
    )
    assert [n.pk for n in queries.nearby_open(city, lon, lat, category_code="01.01.01")] == [near.pk]


def test_the_nearby_list_never_carries_the_citizens_words_or_contact(client, city, tiny_places):
    lon, lat = tiny_places["D1S1C1"]
    _file(city, lon, lat, text="我是赵先生，电话13900000001，门口堆满杂物")
    answer = client.get(
        "/hotline/submit/nearby.json", {"lon": lon, "lat": lat}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    data = answer.json()
    assert data["radius_m"] == 300 and data["days"] == 30 and len(data["requests"]) == 1
    assert set(data["requests"][0]) == {
        "id",
        "category",
        "place",
        "status",
        "distance_m",
        "reported",
        "supporters",
    }
    text = answer.content.decode()
    assert "13900000001" not in text and "赵" not in text and "堆满" not in text and "TC" not in text
    assert "这也是我的问题" in data["html"] and "相距 0 米" in data["html"]


def test_a_citizen_joins_an_open_request_once_and_it_is_audited(city, tiny_places, citizen_wang):
    request = _file(city, *tiny_places["D1S1C1"])
    supporter = actions.support_request(request, actor=citizen_wang)
    assert supporter.citizen == citizen_wang and supporter.phone_hash == ""
    record = AuditRecord.objects.filter(action="request.support").get()
    assert record.object_id == str(request.pk) and '"supporters":1' in record.summary.replace(" ", "")
    with pytest.raises(ValidationError) as again:
        actions.support_request(request, actor=citizen_wang)
    assert "counts once" in errors_in_english(again.value)["request"][0]
    assert (
        Supporter.objects.count() == 1 and AuditRecord.objects.filter(action="request.support").count() == 1
    )


def test_anyone_without_an_account_joins_once_by_phone_however_it_is_written(city, tiny_places):
    request = _file(city, *tiny_places["D1S1C1"])
    actions.support_request(request, phone="138 1234-5678", actor=AnonymousUser())
    with pytest.raises(ValidationError) as again:
        actions.support_request(request, phone="13812345678", actor=AnonymousUser())
    assert "request" in again.value.message_dict
    actions.support_request(request, phone="13912345678", actor=AnonymousUser())
    assert queries.supporter_count(request) == 2
    assert "13812345678" not in str(list(Supporter.objects.values_list("phone_hash", flat=True)))


def test_joining_without_an_account_needs_a_phone_naming_the_field(city, tiny_places):
    request = _file(city, *tiny_places["D1S1C1"])
    with pytest.raises(ValidationError) as refused:
        actions.support_request(request, phone="", actor=AnonymousUser())
    assert list(refused.value.message_dict) == ["caller_phone"]
    assert (
        not Supporter.objects.exists() and not AuditRecord.objects.filter(action="request.support").exists()
    )


def test_a_closed_request_cannot_be_joined_naming_the_rule(city, tiny_places, citizen_wang):
    request = _file(city, *tiny_places["D1S1C1"])
    Request.objects.filter(pk=request.pk).update(status=Status.CLOSED)
    with pytest.raises(ValidationError) as refused:
        actions.support_request(request, actor=citizen_wang)
    assert list(refused.value.message_dict) == ["request"]
    assert "closed" in errors_in_english(refused.value)["request"][0]
    assert not Supporter.objects.exists()


def test_the_citizens_own_request_and_staff_cannot_join(city, tiny_places, citizen_wang, dispatcher_li):
    sub = actions.Submission(description="门口堆满杂物", caller_phone="13900000001", lon=116.02, lat=39.95)
    own, _ = actions.submit_request(
        sub, city=city, channel=Channel.WEB, citizen=citizen_wang, actor=citizen_wang
    )
    with pytest.raises(ValidationError) as refused:
        actions.support_request(own, actor=citizen_wang)
    assert "own request" in errors_in_english(refused.value)["request"][0]
    for actor in (dispatcher_li, SYSTEM):
        with pytest.raises(PermissionDenied):
            actions.support_request(own, actor=actor)


def _form(lon, lat, **values):
    return {
        "description": "门口又堆满了",
        "caller_phone": "13812345678",
        "kind": "help",
        "lon": lon,
        "lat": lat,
    } | values


def test_the_show_nearby_button_keeps_the_values_files_nothing_and_lists_them(client, city, tiny_places):
    lon, lat = tiny_places["D1S1C1"]
    existing = _file(city, lon, lat)
    answer = client.post("/hotline/submit/", _form(lon, lat, nearby="1"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = answer.content.decode()
    assert answer.status_code == 200 and Request.objects.count() == 1
    assert "门口又堆满了" in page and 'value="13812345678"' in page
    assert f'name="request" value="{existing.pk}"' in page and 'formaction="/hotline/submit/support/"' in page
    assert 'class="error"' not in page


def test_joining_from_the_form_counts_on_the_requests_pages(client, city, tiny_places, dispatcher_li):
    lon, lat = tiny_places["D1S1C1"]
    existing = _file(city, lon, lat)
    answer = client.post(
        "/hotline/submit/support/", _form(lon, lat, request=existing.pk), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert answer.status_code == 302 and answer["Location"] == "/hotline/submit/"
    assert Request.objects.count() == 1 and queries.supporter_count(existing) == 1
    again = client.post(
        "/hotline/submit/support/", _form(lon, lat, request=existing.pk), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert again.status_code == 400 and "每位市民只计一次" in again.content.decode()
    assert "门口又堆满了" in again.content.decode()  # what was typed is still there
    client.force_login(dispatcher_li)
    detail = client.get(f"/hotline/requests/{existing.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-supporters="1"' in detail and "另有 1 位市民表示这也是他们的问题" in detail


def test_the_citizen_sees_the_count_on_their_status_page(client, city, tiny_places, citizen_wang):
    sub = actions.Submission(description="门口堆满杂物", caller_phone="13900000001", lon=116.02, lat=39.95)
    own, _ = actions.submit_request(
        sub, city=city, channel=Channel.WEB, citizen=citizen_wang, actor=citizen_wang
    )
    actions.support_request(own, phone="13812345678", actor=AnonymousUser())
    client.force_login(citizen_wang)
    page = client.get(f"/hotline/track/{own.tracking_no}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-supporters="1"' in page and "1 more citizen said it is their problem too" in page
