"""Small things people meet every day: the public home's two doors, a citizen's own details filled in,
codes shown as words, and the leaders' pages opening on a month that is over."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import translation

from cityloop.hotline.models import MonthlyStat
from cityloop.hotline.performance import leaders
from cityloop.hotline.templatetags.hotline_labels import outcome_label, route_label

pytestmark = pytest.mark.django_db


def test_the_public_home_offers_reporting_and_tracking_without_an_account(client, city):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'href="/hotline/submit/"' in page and "我要反映" in page
    assert 'href="/hotline/track/"' in page and "查询诉求" in page
    assert 'href="/login/"' in page


def test_a_signed_in_citizens_name_and_phone_are_filled_in_and_staffs_are_not(
    client, city, citizen_wang, dispatcher_li
):
    citizen_wang.full_name, citizen_wang.phone = "王小明", "13812345678"
    citizen_wang.save(update_fields=["full_name", "phone"])
    client.force_login(citizen_wang)
    form = client.get("/hotline/submit/").context["form"]
    assert (form["caller_name"].value(), form["caller_phone"].value()) == ("王小明", "13812345678")
    client.force_login(dispatcher_li)
    form = client.get("/hotline/submit/").context["form"]
    assert not form["caller_name"].value() and not form["caller_phone"].value()


def test_an_outcome_and_a_route_are_words_in_the_pages_language():
    with translation.override("zh-hans"):
        assert (str(outcome_label("fixed")), str(route_label("direct"))) == ("已修复", "直派部门")
    with translation.override("en"):
        assert (str(outcome_label("partial")), str(route_label("first_receiver"))) == (
            "Partly resolved",
            "first receiver, leads the case",
        )
    assert outcome_label("something-new") == "something-new"  # an unknown code is shown as stored


def _month_with_data(month: date) -> None:
    MonthlyStat.objects.create(month=month, unit_kind="district", unit_id=1, received=3)


def test_the_leaders_pages_open_on_the_last_complete_month(pinned_now):
    running = pinned_now.date().replace(day=1)  # the tests' clock: 2026-11-18 → November is running
    _month_with_data(date(2026, 10, 1))
    _month_with_data(running)
    assert leaders.latest_month() == date(2026, 10, 1)


def test_with_only_the_running_month_the_pages_open_on_it(pinned_now):
    running = pinned_now.date().replace(day=1)
    _month_with_data(running)
    assert leaders.latest_month() == running


def test_the_category_and_unit_pickers_are_grouped_for_a_page_without_javascript(
    client, city, dispatcher_li, submit
):
    client.force_login(dispatcher_li)
    intake = client.get("/hotline/intake/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert intake.count("<optgroup") >= 2 and '<optgroup label="02 ' in intake
    request = submit()
    detail = client.get(f"/hotline/requests/{request.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<optgroup label="街乡">' in detail and '<optgroup label="部门">' in detail


def test_a_bad_photo_is_explained_in_the_pages_language(client, city, tiny_places):
    from django.core.files.uploadedfile import SimpleUploadedFile

    lon, lat = tiny_places["D1S1C1"]
    form = {"kind": "help", "description": "井盖丢了", "caller_phone": "13812345678", "lon": lon, "lat": lat}
    fake = SimpleUploadedFile("x.jpg", b"MZ not an image at all", content_type="image/jpeg")
    page = client.post("/hotline/submit/", {**form, "photos": fake}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "x.jpg：不是 JPEG、PNG 或 WebP 图片" in page.content.decode()
