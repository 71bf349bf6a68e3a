"""Bulk CSV import of call-centre records: good rows kept, bad rows listed with line and reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from cityloop.core.models import AuditRecord
from cityloop.hotline.intake.imports import import_requests
from cityloop.hotline.models import Attachment, Event, Request

pytestmark = pytest.mark.django_db

HEADER = "ref,received_at,caller_name,caller_phone,description,address,lon,lat,category,urgency,agent\n"
ROWS = [
    "C-1,2024-05-01 09:30,张三,13812345678,楼里停水了,金融街购物中心,,,02.01.01,urgent,7号\n",
    "C-2,,李四,13900001111,路边乱堆乱放,,116.08,39.95,,,8号\n",
    "C-3,not-a-date,王五,abc,,,,,99,soon,9号\n",
    '"C-4",,赵六,13700002222,"门口占道经营\n一直没人管",白塔寺,,,,,\n',
    "C-5,,,,井盖丢了,,116.6,39.9,,,\n",
]


def test_good_rows_are_kept_and_bad_rows_are_listed_with_line_and_reason(city, dispatcher_li):
    result = import_requests((HEADER + "".join(ROWS)).encode("utf-8"), city=city, actor=dispatcher_li)
    assert [line for line, _ in result.kept] == [2, 3, 5]
    assert [line for line, _ in result.bad] == [4, 7]
    reason = dict(result.bad)[4]
    for field in ("received_at", "urgency", "description", "caller_phone", "category"):
        assert field in reason
    assert "outside" in dict(result.bad)[7]
    first = dict(result.kept)[2]
    assert (first.channel, first.urgency, first.category.code, first.street.code) == (
        "csv",
        "urgent",
        "02.01.01",
        "D1S1",
    )
    assert first.created_at.strftime("%Y-%m-%d") == "2024-05-01" and first.attributes == {"agent": "7号"}
    assert dict(result.kept)[5].description == "门口占道经营\n一直没人管"
    assert result.extra_columns == ["agent"]


def test_a_bad_row_stores_nothing_at_all(city, dispatcher_li):
    import_requests(HEADER + ROWS[2], city=city, actor=dispatcher_li)
    assert Request.objects.count() == 0 and Event.objects.count() == 0 and Attachment.objects.count() == 0
    assert not AuditRecord.objects.filter(action="request.submit").exists()


def test_the_intake_rules_name_each_bad_field(city, dispatcher_li):
    result = import_requests(HEADER + "C-9,,王五,abc,,,,,99,,\n", city=city, actor=dispatcher_li)
    [(line, reason)] = result.bad
    assert line == 2
    for field in ("description", "caller_phone", "category", "address"):
        assert field in reason


def test_a_second_import_of_the_same_refs_creates_nothing_new(city, dispatcher_li):
    text = HEADER + ROWS[0] + ROWS[1]
    import_requests(text, city=city, actor=dispatcher_li)
    again = import_requests(text, city=city, actor=dispatcher_li)
    assert again.kept == [] and [line for line, _ in again.already] == [2, 3]
    assert Request.objects.count() == 2


def test_a_file_without_the_description_column_imports_nothing(city, dispatcher_li):
    with pytest.raises(ValidationError) as caught:
        import_requests("ref,address\nC-1,白塔寺\n", city=city, actor=dispatcher_li)
    assert "description" in caught.value.message_dict["file"][0]
    assert Request.objects.count() == 0


def test_a_file_that_is_not_utf8_is_refused_with_the_reason(city, dispatcher_li):
    with pytest.raises(ValidationError) as caught:
        import_requests((HEADER + ROWS[0]).encode("gbk"), city=city, actor=dispatcher_li)
    assert "UTF-8" in caught.value.message_dict["file"][0]


def test_a_row_with_more_values_than_columns_is_bad(city, dispatcher_li):
    result = import_requests("description,address\n停水,白塔寺,多余\n", city=city, actor=dispatcher_li)
    assert result.bad == [(2, "1 more value(s) than the header has columns")]


def test_only_a_dispatcher_may_import(city, street_chen):
    with pytest.raises(PermissionDenied):
        import_requests(HEADER + ROWS[0], city=city, actor=street_chen)
    assert Request.objects.count() == 0


def test_the_import_is_audited_as_a_whole(city, dispatcher_li):
    import_requests(HEADER + ROWS[0] + ROWS[2], city=city, actor=dispatcher_li)
    record = AuditRecord.objects.get(action="request.import")
    assert record.actor_id == dispatcher_li.pk


def test_the_cli_imports_and_lists_bad_lines_on_stderr(city, tmp_path, capsys):
    path = tmp_path / "calls.csv"
    path.write_text(HEADER + ROWS[0] + ROWS[2], encoding="utf-8")
    call_command("hotline", "import", "--csv", str(path), "--city", city.code)
    out, err = capsys.readouterr()
    assert "kept 1 row(s)" in out and "line 3:" in err
    assert Request.objects.get().channel == "csv"


def test_a_row_received_in_year_one_is_listed_and_the_rows_after_it_are_kept(city, dispatcher_li):
    ancient = "C-9,0001-01-01 00:00,钱七,13812345678,楼里停水了,金融街购物中心,,,02.01.01,,\n"
    result = import_requests(HEADER + ROWS[0] + ancient + ROWS[1], city=city, actor=dispatcher_li)
    assert [line for line, _ in result.kept] == [2, 4]
    [(line, reason)] = result.bad
    assert line == 3 and "received_at" in reason and "2000" in reason
    assert AuditRecord.objects.get(action="request.import").summary.count('"bad":1') == 1


def test_a_field_over_the_csv_limit_is_listed_and_the_rows_after_it_are_kept(city, dispatcher_li):
    huge = "C-8,,钱七,13812345678," + "水" * 140_000 + ",金融街购物中心,,,02.01.01,,\n"
    result = import_requests(HEADER + ROWS[0] + huge + ROWS[1], city=city, actor=dispatcher_li)
    assert [line for line, _ in result.kept] == [2, 4]
    [(line, reason)] = result.bad
    assert line == 3 and "description" in reason and "4000" in reason
    assert AuditRecord.objects.filter(action="request.import").count() == 1


def test_control_characters_in_a_row_are_cleaned_before_they_are_stored(city, dispatcher_li):
    dirty = "C-7,,钱\x01七,13812345678,楼里\x00停水了\x1b,金融街\x7f购物中心,,,02.01.01,,坐席\x00\n"
    result = import_requests(HEADER + dirty + ROWS[1], city=city, actor=dispatcher_li)
    assert [line for line, _ in result.kept] == [2, 3] and result.bad == []
    request = dict(result.kept)[2]
    request.refresh_from_db()
    assert (request.description, request.caller_name, request.address) == (
        "楼里停水了",
        "钱七",
        "金融街购物中心",
    )
    assert request.attributes == {"agent": "坐席"}
