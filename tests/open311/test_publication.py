"""What Open311 publishes: the city's choice per category, valid GeoReport v2, never a citizen's words,
and a 400 in Open311's own format for any malformed parameter."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
from django.db import connection

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from cityloop.hotline.models import Event, Request
from tests.open311.conftest import parse

pytestmark = pytest.mark.django_db

SCHEMA = json.loads((Path(__file__).parent / "georeport_v2.schema.json").read_text(encoding="utf-8"))


def _filed(city, category="02.01.01", **fields):
    values = {
        "description": "楼里停水了",
        "caller_phone": "13812345678",
        "lon": 116.0234567,
        "lat": 39.9512345,
        "category_code": category,
        "address": "丰盛胡同 3 号楼",
    }
    values.update(fields)
    request, _ = actions.submit_request(Submission(**values), city=city, channel="phone", actor=SYSTEM)
    return request


def _policy(settings, tmp_path, text):
    from tests.open311.conftest import DEFINITIONS

    path = tmp_path / "policy.yaml"
    path.write_text(DEFINITIONS.replace("publish:\n  default: full\n", text), encoding="utf-8")
    settings.OPEN311 = {**settings.OPEN311, "definition_files": {"tc": str(path)}}


def test_every_listed_request_validates_against_the_georeport_v2_schema(client, city):
    _filed(city)
    _filed(city, category="01.01.01", description="楼道乱堆乱放")
    _filed(city, category="")  # unclassified
    listed = parse(client.get("/open311/v2/requests.json"))
    jsonschema.validate(listed, SCHEMA)
    services = {s["service_code"] for s in parse(client.get("/open311/v2/services.json"))}
    assert listed and all(r["service_code"] in services for r in listed)


def test_an_unclassified_request_is_not_listed_until_a_dispatcher_classifies_it(client, city, dispatcher_li):
    request = _filed(city, category="", description="有个东西坏了")
    assert request.tracking_no not in client.get("/open311/v2/requests.json").content.decode()
    assert client.get(f"/open311/v2/requests/{request.tracking_no}.json").status_code == 404
    from cityloop.org.models import Category

    actions.classify_request(request, Category.objects.get(city=city, code="02.01.01"), actor=dispatcher_li)
    [record] = parse(client.get(f"/open311/v2/requests/{request.tracking_no}.json"))
    assert record["service_code"] == "02.01.01"


def test_a_full_category_publishes_the_description_and_coordinates_rounded_to_100_m(client, city):
    request = _filed(city)
    [record] = parse(client.get(f"/open311/v2/requests/{request.tracking_no}.json"))
    assert record["description"] == "楼里停水了" and record["address"] == "丰盛胡同 3 号楼"
    assert (record["lat"], record["long"]) == (39.951, 116.023)


def test_a_summary_category_publishes_the_place_not_the_citizens_words_or_address(
    client, city, settings, tmp_path
):
    _policy(settings, tmp_path, 'publish:\n  default: full\n  categories: {"02": summary}\n')
    request = _filed(city)
    [record] = parse(client.get(f"/open311/v2/requests/{request.tracking_no}.json"))
    assert record["description"] is None and "丰盛胡同" not in json.dumps(record, ensure_ascii=False)
    assert record["address"] and (record["lat"], record["long"]) == (39.95, 116.02)
    jsonschema.validate([record], SCHEMA)


def test_a_summary_categorys_updates_say_what_happened_not_the_units_words(
    client, city, settings, tmp_path, dispatcher_li, dept_water_zhao
):
    _policy(settings, tmp_path, 'publish:\n  default: full\n  categories: {"02": summary}\n')
    request = _filed(city)
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(
        order, outcome="resolved", text="已给丰盛胡同3号楼王先生家恢复供水", actor=dept_water_zhao
    )
    updates = client.get("/open311/v2/servicerequestupdates.json").content.decode()
    assert "王先生" not in updates and "the handling unit replied" in updates


def test_a_category_the_city_keeps_private_is_not_published_at_all(client, city, settings, tmp_path):
    _policy(settings, tmp_path, 'publish:\n  default: full\n  categories: {"02.01": none}\n')
    hidden, shown = _filed(city), _filed(city, category="01.01.01", description="楼道乱堆乱放")
    listed = client.get("/open311/v2/requests.json").content.decode()
    assert hidden.tracking_no not in listed and shown.tracking_no in listed
    assert client.get(f"/open311/v2/requests/{hidden.tracking_no}.xml").status_code == 404
    assert hidden.tracking_no not in client.get("/open311/v2/servicerequestupdates.json").content.decode()


def test_a_pack_that_says_nothing_publishes_summaries(client, city, settings, tmp_path):
    _policy(settings, tmp_path, "")
    request = _filed(city)
    [record] = parse(client.get(f"/open311/v2/requests/{request.tracking_no}.json"))
    assert record["description"] is None


def test_open311_never_publishes_a_citizens_follow_up_comment_or_reopening_reason(
    client, city, dispatcher_li, dept_water_zhao, settings
):
    settings.HOTLINE = {**settings.HOTLINE, "reopen_on": ["unresolved"]}
    request = _filed(city)
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="resolved", text="已恢复供水", actor=dept_water_zhao)
    request.refresh_from_db()
    actions.rate_with_code(
        actions.issue_rating_link(request, actor=SYSTEM),
        resolved=False,
        satisfaction="unsatisfied",
        comment="我家邻居王大妈说根本没修",
        actor=SYSTEM,
    )
    updates = client.get("/open311/v2/servicerequestupdates.json").content.decode()
    detail = client.get(f"/open311/v2/requests/{request.tracking_no}.json?extensions=true").content.decode()
    for body in (updates, detail):
        assert "王大妈" not in body
    assert "已恢复供水" in updates


def test_an_api_key_in_the_query_string_is_refused(client, city, api_key, tiny_places):
    lon, lat = tiny_places["D1S1C1"]
    answer = client.post(
        f"/open311/v2/requests.json?api_key={api_key}",
        f"service_code=02.01.01&lat={lat}&long={lon}&description=x&attribute[FLOOR]=3&attribute[KIND]=home",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 400 and parse(answer)[0]["description"].startswith(
        "api_key: send it in the POST"
    )
    assert not Request.objects.exists()


def test_an_unknown_jurisdiction_is_an_error_not_the_default_city(client, city):
    for fmt in ("json", "xml"):
        answer = client.get(f"/open311/v2/services.{fmt}?jurisdiction_id=nyc")
        assert answer.status_code == 404
    assert (
        "jurisdiction_id"
        in parse(client.get("/open311/v2/requests.json?jurisdiction_id=nyc"))[0]["description"]
    )


@pytest.mark.parametrize(
    "query",
    [
        "start_date=9999-12-31",
        "end_date=0001-01-01T00:00:00Z",
        "start_date=0001-01-01T00:00:00%2B23:59",
        "updated_after=9999-12-31T23:59:59-23:59",
        "page=%C2%B2",
        "page=99999999999999999999",
        "page=-1",
        "page_size=100000",
        "page_size=%E2%91%A0",
        "status=%00",
        "service_request_id=%00",
    ],
)
@pytest.mark.parametrize("path", ["requests", "servicerequestupdates"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_malformed_parameter_is_a_400_in_open311s_format_never_a_500(client, city, query, path, fmt):
    if path == "servicerequestupdates" and query.startswith(
        ("updated_after", "status", "service_request_id")
    ):
        pytest.skip("not a parameter of the updates feed")
    answer = client.get(f"/open311/v2/{path}.{fmt}?{query}")
    assert answer.status_code in (200, 400), answer.content[:300]
    body = parse(answer)
    if answer.status_code == 400:
        assert (body[0]["code"] if fmt == "json" else int(body.findtext("error/code"))) == 400


def test_a_control_character_cannot_break_requests_xml(client, city):
    request = _filed(city)
    # As if stored before the text rule, or by a door that forgot it: the XML writer is safe anyway.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE hotline_request SET description = %s, address = %s WHERE id = %s",
            ["停水\x01了\x1b", "地址\x0b", request.pk],
        )
    for path in ("requests.xml", f"requests/{request.tracking_no}.xml", "servicerequestupdates.xml"):
        ET.fromstring(client.get(f"/open311/v2/{path}").content)  # raises on invalid XML
    assert "停水了" in client.get("/open311/v2/requests.xml").content.decode()


def test_a_control_character_posted_through_open311_is_cleaned_at_the_door(post, client):
    number = parse(post(description="三号楼\x01停水\x00一天了"))[0]["service_request_id"]
    assert Request.objects.get(tracking_no=number).description == "三号楼停水一天了"
    ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").content)


UPDATE = {
    "update_id": "fms-1",
    "status": "open",
    "updated_datetime": "2026-11-26T10:00:00+08:00",
    "description": "还是没水",
}


@pytest.mark.parametrize(
    "field", ["description", "update_id", "first_name", "last_name", "email", "account_id", "media_url"]
)
def test_a_control_character_in_an_app_update_is_cleaned_at_the_door_never_a_500(
    client, post, api_key, field
):
    from urllib.parse import urlencode

    number = parse(post())[0]["service_request_id"]
    body = {**UPDATE, "api_key": api_key, "service_request_id": number, "first_name": "小明"}
    body[field] = body.get(field, "acct-9") + "\x00\x01"
    answer = client.post(
        "/open311/v2/servicerequestupdates.json",
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code in (200, 400), answer.content[:300]
    if field != "email" and field != "media_url":
        assert answer.status_code == 200
    for line in Event.objects.filter(kind="open311_update"):
        assert "\x00" not in line.text + json.dumps(line.data) and "\x01" not in line.text
    ET.fromstring(client.get("/open311/v2/servicerequestupdates.xml").content)


@pytest.mark.parametrize(
    "field",
    [
        "description",
        "address_string",
        "address_id",
        "device_id",
        "account_id",
        "first_name",
        "attribute[NOTE]",
        "attribute[METER]",
        "attribute[SIGNS][]",
        "attribute[KIND]",
        "service_code",
        "jurisdiction_id",
    ],
)
def test_a_control_character_in_any_field_of_an_open311_post_is_cleaned_never_a_500(client, post, field):
    clean = {"address_id": "D1S1C1", "attribute[SIGNS][]": "weak", "attribute[KIND]": "home"}
    clean.update({"service_code": "02.01.01", "jurisdiction_id": "TC"})
    value = clean.get(field, "三号楼")
    answer = post(**{field: value[:2] + "\x00\x01\x1b" + value[2:]})
    assert answer.status_code == 200, answer.content[:300]
    number = parse(answer)[0]["service_request_id"]
    stored = Request.objects.get(tracking_no=number)
    assert "\x00" not in json.dumps([stored.description, stored.address, stored.attributes, stored.evidence])
    ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").content)


def test_a_control_character_from_the_api_or_the_web_form_cannot_break_open311_xml(
    client, city, dispatcher_li, tiny_places
):
    from django.test import Client

    from cityloop.core.actions import create_token

    lon, lat = tiny_places["D1S1C1"]
    _, secret = create_token(user=dispatcher_li, name="app", scopes=["hotline"], actor=SYSTEM)
    api = Client().post(
        "/api/v1/requests",
        json.dumps(
            {
                "description": "楼里\x01停水\x1b了",
                "caller_phone": "13812345678",
                "category": "02.01.01",
                "lon": lon,
                "lat": lat,
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert api.status_code in (200, 201), api.content[:300]
    web = Client().post(
        "/hotline/submit/",
        {"description": "路灯\x01不亮\x0b了", "address": "丰盛胡同\x01", "caller_phone": "13812345678"},
    )
    assert web.status_code in (200, 302), web.content[:300]
    stored = list(Request.objects.order_by("id"))
    assert [r.description for r in stored] == ["楼里停水了", "路灯不亮了"]
    for request in stored:  # the web form's request is unclassified: classify it so it is listed
        if request.category_id is None:
            from cityloop.org.models import Category

            actions.classify_request(
                request, Category.objects.get(city=city, code="01.01.01"), actor=dispatcher_li
            )
    listing = ET.fromstring(client.get("/open311/v2/requests.xml").content)
    assert {r.findtext("service_request_id") for r in listing.findall("request")} == {
        r.tracking_no for r in stored
    }
    for request in stored:
        ET.fromstring(client.get(f"/open311/v2/requests/{request.tracking_no}.xml").content)
    ET.fromstring(client.get("/open311/v2/servicerequestupdates.xml").content)
