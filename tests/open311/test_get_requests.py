"""GET requests: every field in both formats, the filters, windows, paging and the extensions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from tests.open311.conftest import parse, xml_items

pytestmark = pytest.mark.django_db

W3 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


def _phone_request(city, place=(116.02, 39.95), **fields):
    lon, lat = place
    values = {
        "description": "楼里停水了",
        "caller_phone": "13812345678",
        "lon": lon,
        "lat": lat,
        "category_code": "02.01.01",
    }
    values.update(fields)
    request, _ = actions.submit_request(Submission(**values), city=city, channel="phone", actor=SYSTEM)
    return request


def test_a_request_has_every_field_in_json(post, client):
    number = parse(post())[0]["service_request_id"]
    [record] = parse(client.get(f"/open311/v2/requests/{number}.json"))
    assert list(record) == FIELDS
    assert record["service_request_id"] == number and record["status"] == "open"
    assert record["service_name"] == "停水" and record["service_code"] == "02.01.01"
    assert (
        record["description"] == "三号楼停水一天了" and record["service_notice"] == "水务局 24 小时内联系您"
    )
    assert record["status_notes"] is None and record["agency_responsible"] is None  # not dispatched yet
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3.match(record[name]) and record[name].endswith("+08:00"), name
    assert record["address"] == "丰盛社区, 金融街街道, 西城区" and record["address_id"] == "D1S1C1"
    assert record["zipcode"] == "100032"  # the gazetteer's only postcode for 金融街街道
    assert (record["lat"], record["long"]) == (39.95, 116.02)
    assert record["media_url"] == "https://example.org/p.jpg"


def test_a_request_has_every_field_in_xml(post, client):
    number = parse(post("xml")).findtext("request/service_request_id")
    root = parse(client.get(f"/open311/v2/requests/{number}.xml"))
    assert root.tag == "service_requests" and len(root) == 1
    [item] = xml_items(root, "request")
    assert list(item) == FIELDS
    assert item["status"] == "open" and item["lat"] == "39.95" and item["long"] == "116.02"
    assert item["status_notes"] == "" and W3.match(item["requested_datetime"])


def test_an_unknown_request_is_a_404_in_both_formats(client, city):
    response = client.get("/open311/v2/requests/R000000-00000.json")
    assert response.status_code == 404
    assert parse(response) == [
        {"code": 404, "description": "service_request_id: no published request 'R000000-00000' in TC"}
    ]
    assert parse(client.get("/open311/v2/requests/R1.xml")).findtext("error/code") == "404"


def test_open311_never_publishes_a_confidential_callers_request(client, city):
    request = _phone_request(city, confidential=True, caller_name="匿名")
    assert client.get(f"/open311/v2/requests/{request.tracking_no}.json").status_code == 404
    listed = client.get("/open311/v2/requests.json").content.decode()
    assert request.tracking_no not in listed and "匿名" not in listed


def test_filters_by_service_code_and_status(client, city, dispatcher_li):
    water = _phone_request(city)
    clutter = _phone_request(city, category_code="01.01.01", description="楼道乱堆乱放")
    merged = _phone_request(city)
    actions.merge_requests(merged, into=water, actor=dispatcher_li)

    def ids(query):
        return [r["service_request_id"] for r in parse(client.get(f"/open311/v2/requests.json?{query}"))]

    assert ids("") == [merged.tracking_no, clutter.tracking_no, water.tracking_no]  # newest first
    assert ids("service_code=01.01.01") == [clutter.tracking_no]
    assert ids("service_code=01.01.01,02.01.01&status=open") == [clutter.tracking_no, water.tracking_no]
    assert ids("status=closed") == [merged.tracking_no]
    assert ids("status=open&status=closed") == ids("")
    bad = client.get("/open311/v2/requests.json?status=pending")
    assert bad.status_code == 400 and parse(bad)[0]["description"] == "status: open or closed, not pending"
    [record] = parse(client.get(f"/open311/v2/requests/{merged.tracking_no}.json"))
    assert (
        record["status_notes"] == f"merged into {water.tracking_no}" and record["expected_datetime"] is None
    )


def test_service_request_ids_override_every_other_filter(client, city):
    first, second = _phone_request(city), _phone_request(city, category_code="01.01.01")
    query = f"service_request_id={second.tracking_no},{first.tracking_no},R9&service_code=99&status=closed"
    records = parse(client.get(f"/open311/v2/requests.json?{query}"))
    assert [r["service_request_id"] for r in records] == [second.tracking_no, first.tracking_no]


def test_the_default_window_is_the_last_90_days(client, city):
    old = _phone_request(city, received_at=timezone.now() - timedelta(days=100))
    recent = _phone_request(city)
    assert [r["service_request_id"] for r in parse(client.get("/open311/v2/requests.json"))] == [
        recent.tracking_no
    ]
    start = (timezone.now() - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (timezone.now() - timedelta(days=95)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = parse(client.get(f"/open311/v2/requests.json?start_date={start}&end_date={end}"))
    assert [r["service_request_id"] for r in found] == [old.tracking_no]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "start_date=2026-01-01T00:00:00Z&end_date=2026-04-02T00:00:01Z",
            "end_date: the range from start_date to end_date spans more than 90 days",
        ),
        (
            "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "end_date: must not be before start_date",
        ),
        ("start_date=2026-01-01T00:00:00", "start_date: '2026-01-01T00:00:00' needs a time zone"),
        ("end_date=yesterday", "end_date: 'yesterday' is not a W3C datetime"),
        ("page=0", "page: must be a whole number from 1 to 1000000"),
        ("page_size=1001", "page_size: at most 1000"),
        ("extensions=maybe", "extensions: true or false"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_them(client, city, query, expected):
    response = client.get(f"/open311/v2/requests.json?{query}")
    assert response.status_code == 400 and parse(response)[0]["description"].startswith(expected)


def test_a_window_of_exactly_90_days_and_dates_with_offsets_are_accepted(client, city):
    request = _phone_request(city)
    day = timezone.localtime(request.created_at).date()
    query = f"start_date={day - timedelta(days=89)}&end_date={day + timedelta(days=1)}"
    assert len(parse(client.get(f"/open311/v2/requests.json?{query}"))) == 1
    start = (
        (timezone.now() - timedelta(hours=1)).astimezone().isoformat(timespec="seconds").replace("+", "%2B")
    )
    assert len(parse(client.get(f"/open311/v2/requests.json?start_date={start}"))) == 1


def test_results_are_capped_and_paged(client, city, settings):
    made = [_phone_request(city) for _ in range(5)]
    settings.OPEN311 = {**settings.OPEN311, "max_page_size": 3}
    newest_first = [r.tracking_no for r in reversed(made)]
    assert [r["service_request_id"] for r in parse(client.get("/open311/v2/requests.json"))] == newest_first[
        :3
    ]
    page2 = parse(client.get("/open311/v2/requests.json?page=2&page_size=2"))
    assert [r["service_request_id"] for r in page2] == newest_first[2:4]
    settings.OPEN311 = {**settings.OPEN311, "max_page_size": 1000}
    assert len(parse(client.get("/open311/v2/requests.json"))) == 5


def test_updated_after_and_before_select_by_the_last_change(client, city, dispatcher_li):
    quiet, busy = _phone_request(city), _phone_request(city)
    moment = timezone.now()
    actions.accept_suggestion(busy, actor=dispatcher_li)
    after = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    found = parse(client.get(f"/open311/v2/requests.json?updated_after={after}"))
    assert [r["service_request_id"] for r in found] == [busy.tracking_no]
    found = parse(client.get(f"/open311/v2/requests.json?updated_before={after}"))
    assert [r["service_request_id"] for r in found] == [quiet.tracking_no]


def test_extensions_add_the_detailed_status_and_the_public_notes(
    client, city, dispatcher_li, dept_water_zhao
):
    request = _phone_request(city)
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.add_note(order, text="维修队已出发", public=True, actor=dept_water_zhao)
    actions.add_note(order, text="内部：等配件", public=False, actor=dept_water_zhao)
    plain = parse(client.get(f"/open311/v2/requests/{request.tracking_no}.json"))[0]
    assert "cityloop_status" not in plain and "notes" not in plain
    [record] = parse(client.get(f"/open311/v2/requests/{request.tracking_no}.json?extensions=true"))
    assert record["cityloop_status"] == "in_progress" and record["cityloop_status_name"]
    assert [n["text"] for n in record["notes"]] == ["维修队已出发"] and W3.match(
        record["notes"][0]["datetime"]
    )
    assert record["status_notes"] == "维修队已出发" and record["agency_responsible"] == "市水务局"
    root = parse(
        client.get(f"/open311/v2/requests.xml?extensions=true&service_request_id={request.tracking_no}")
    )
    assert root.findtext("request/cityloop_status") == "in_progress"
    assert root.findtext("request/notes/note/text") == "维修队已出发"
