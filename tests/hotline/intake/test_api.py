"""The hotline's JSON API at /api/v1: every endpoint, its errors, idempotency and who may do what."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cityloop.core.actions import create_token
from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.hotline.models import Arbitration, Attachment, Extension, Order, Request, Status
from tests.hotline.texts import texted_code

pytestmark = pytest.mark.django_db

WATER_CUT = {
    "description": "楼里停水了，一整天没有水",
    "caller_name": "王小明",
    "caller_phone": "13812345678",
    "category": "02.01.01",
}


class Api:
    """A Django test client holding one user's API token."""

    def __init__(self, user, scopes=("hotline",), header="bearer"):
        _, secret = create_token(user=user, name=f"{user.username} app", scopes=list(scopes), actor=SYSTEM)
        self.user = user
        self.headers = (
            {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if header == "bearer" else {"HTTP_X_API_KEY": secret}
        )
        self.client = Client()

    def get(self, path, **params):
        return self.client.get(f"/api/v1{path}", params, **self.headers)

    def post(self, path, body=None, **headers):
        return self.client.post(
            f"/api/v1{path}",
            json.dumps(body or {}),
            content_type="application/json",
            **self.headers,
            **headers,
        )


@pytest.fixture
def as_user(city):
    return Api


@pytest.fixture
def submit_json(city, tiny_places, dispatcher_li):
    """File a request through the API as the dispatcher (default: a water cut in 金融街 D1S1)."""
    api = Api(dispatcher_li)

    def make(place="D1S1C1", **overrides):
        lon, lat = tiny_places[place]
        response = api.post("/requests", {**WATER_CUT, "lon": lon, "lat": lat, **overrides})
        assert response.status_code == 201, response.content
        return response.json()

    return make


def fields_of(response) -> set[str]:
    assert response.status_code == 400, response.content
    return {item["field"] for item in response.json()["detail"]}


# --- intake -------------------------------------------------------------------------------------------------


def test_a_submit_files_a_located_request_and_answers_201(city, tiny_places, dispatcher_li):
    lon, lat = tiny_places["D1S1C1"]
    response = Api(dispatcher_li).post(
        "/requests", {**WATER_CUT, "lon": lon, "lat": lat, "attributes": {"floor": 6}}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["tracking_no"].startswith("R") and body["status"] == "new" and body["channel"] == "api"
    assert (body["district"]["code"], body["street"]["code"], body["community"]["code"]) == (
        "D1",
        "D1S1",
        "D1S1C1",
    )
    assert body["category"] == "02.01.01" and body["attributes"] == {"floor": 6}
    assert body["caller"] == {"name": "王小明", "phone": "13812345678", "email": "", "masked": False}
    stored = Request.objects.get(tracking_no=body["tracking_no"])
    assert stored.channel == "api" and stored.finish_due is not None
    assert AuditRecord.objects.filter(
        action="request.submit", object_id=str(stored.pk), actor_id=dispatcher_li.pk
    ).exists()


def test_a_retried_submit_with_the_same_idempotency_key_files_one_request_and_replays_the_first(
    city, tiny_places, dispatcher_li
):
    api = Api(dispatcher_li)
    lon, lat = tiny_places["D2S1"]
    body = {**WATER_CUT, "lon": lon, "lat": lat}
    first = api.post("/requests", body, HTTP_IDEMPOTENCY_KEY="7c0f7f4e-retry")
    again = api.post("/requests", body, HTTP_IDEMPOTENCY_KEY="7c0f7f4e-retry")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotency-Replayed"] == "true" and "Idempotency-Replayed" not in first
    assert again.json() == first.json()
    assert Request.objects.count() == 1


def test_different_idempotency_keys_file_two_requests(city, tiny_places, dispatcher_li):
    api = Api(dispatcher_li)
    lon, lat = tiny_places["D2S1"]
    body = {**WATER_CUT, "lon": lon, "lat": lat}
    one = api.post("/requests", body, HTTP_IDEMPOTENCY_KEY="key-1")
    two = api.post("/requests", body, HTTP_IDEMPOTENCY_KEY="key-2")
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["tracking_no"] != two.json()["tracking_no"] and Request.objects.count() == 2


def test_reusing_an_idempotency_key_for_another_request_is_a_conflict(city, tiny_places, dispatcher_li):
    api = Api(dispatcher_li)
    lon, lat = tiny_places["D2S1"]
    assert (
        api.post("/requests", {**WATER_CUT, "lon": lon, "lat": lat}, HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )
    other = api.post(
        "/requests",
        {**WATER_CUT, "description": "路灯坏了", "lon": lon, "lat": lat},
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert other.status_code == 409 and "already used" in other.json()["detail"]
    assert Request.objects.count() == 1


def test_an_idempotency_key_over_128_characters_is_refused_by_name(city, dispatcher_li):
    response = Api(dispatcher_li).post(
        "/requests", {**WATER_CUT, "address": "白塔寺"}, HTTP_IDEMPOTENCY_KEY="k" * 129
    )
    assert fields_of(response) == {"Idempotency-Key"} and Request.objects.count() == 0


def test_bad_input_gets_400_naming_every_bad_field_and_stores_nothing(city, dispatcher_li):
    response = Api(dispatcher_li).post(
        "/requests",
        {
            "description": " ",
            "caller_phone": "abc",
            "caller_email": "not-mail",
            "lon": 200,
            "lat": 39.9,
            "category": "99.99",
        },
    )
    assert fields_of(response) == {"description", "caller_phone", "caller_email", "lon", "category"}
    assert all(item["message"] for item in response.json()["detail"])
    assert Request.objects.count() == 0


def test_a_point_outside_the_city_is_refused_with_the_reason(city, tiny_places, dispatcher_li):
    lon, lat = tiny_places["outside_city"]
    response = Api(dispatcher_li).post("/requests", {**WATER_CUT, "lon": lon, "lat": lat})
    assert fields_of(response) == {"lon"} and "outside" in response.json()["detail"][0]["message"]


def test_malformed_json_values_get_the_same_400_shape_naming_the_fields(city, dispatcher_li):
    response = Api(dispatcher_li).post(
        "/requests", {"lat": "north", "lon": 116.0, "urgency": "soon", "complex": "maybe"}
    )
    assert fields_of(response) == {"description", "lat", "urgency", "complex"}
    assert Request.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400(city, dispatcher_li):
    api = Api(dispatcher_li)
    response = api.client.post(
        "/api/v1/requests", "description=x", content_type="application/json", **api.headers
    )
    assert response.status_code == 400


# --- authentication and scopes ------------------------------------------------------------------------------


def test_no_token_or_a_bad_token_is_401(city):
    assert (
        Client().post("/api/v1/requests", json.dumps(WATER_CUT), content_type="application/json").status_code
        == 401
    )
    bad = Client().get("/api/v1/requests", HTTP_AUTHORIZATION="Bearer clk_0000_nonsense")
    assert bad.status_code == 401


def test_a_token_without_the_hotline_scope_is_403(city, dispatcher_li):
    response = Api(dispatcher_li, scopes=("brain",)).get("/requests")
    assert response.status_code == 403 and "hotline" in response.json()["detail"]


def test_a_read_token_may_search_but_not_submit(city, dispatcher_li, submit_json):
    submit_json()
    reader = Api(dispatcher_li, scopes=("read",))
    assert reader.get("/requests").json()["count"] == 1
    assert reader.post("/requests", {**WATER_CUT, "address": "白塔寺"}).status_code == 403


def test_the_token_may_come_in_an_x_api_key_header(city, dispatcher_li, submit_json):
    submit_json()
    assert Api(dispatcher_li, header="x-api-key").get("/requests").json()["count"] == 1


def test_a_citizens_token_files_as_the_citizen_who_alone_sees_it(
    city, citizen_wang, outsider_zhou, tiny_places
):
    wang, zhou = Api(citizen_wang), Api(outsider_zhou)
    lon, lat = tiny_places["D1S2"]
    number = wang.post("/requests", {**WATER_CUT, "lon": lon, "lat": lat}).json()["tracking_no"]
    assert Request.objects.get(tracking_no=number).citizen == citizen_wang
    assert wang.get(f"/requests/{number}").status_code == 200
    assert [r["tracking_no"] for r in wang.get("/requests").json()["items"]] == [number]
    assert zhou.get(f"/requests/{number}").status_code == 404
    assert zhou.get("/requests").json() == {"count": 0, "offset": 0, "limit": 50, "items": []}


def test_a_citizen_may_not_use_the_dispatcher_operations(city, citizen_wang):
    citizen = Api(citizen_wang)
    assert citizen.get("/dispatch/queue").status_code == 403
    assert citizen.get("/follow-up/queue").status_code == 403
    assert citizen.get("/orders").status_code == 403
    assert citizen.post("/dispatch/bulk", {"tracking_nos": ["R000000-00001"]}).status_code == 403


# --- search, detail, export, track --------------------------------------------------------------------------


def test_an_unknown_number_is_404(city, dispatcher_li):
    assert Api(dispatcher_li).get("/requests/R000000-99999").status_code == 404


def test_search_filters_by_status_category_place_channel_date_and_text(city, dispatcher_li, submit_json):
    water = submit_json()
    clutter = submit_json("D2S2", category="01.01.01", description="楼道里乱堆乱放杂物")
    api = Api(dispatcher_li)

    def numbers(**params):
        return [r["tracking_no"] for r in api.get("/requests", **params).json()["items"]]

    assert numbers() == [clutter["tracking_no"], water["tracking_no"]]
    assert numbers(category="02") == [water["tracking_no"]]
    assert numbers(street="D2S2") == [clutter["tracking_no"]] == numbers(district="D2")
    assert numbers(q="乱堆") == [clutter["tracking_no"]] == numbers(q=clutter["tracking_no"])
    assert numbers(status="new", channel="api") == numbers() and numbers(status="closed") == []
    assert numbers(created_after="2000-01-01T00:00:00Z", created_before="2000-01-02T00:00:00Z") == []
    page = api.get("/requests", limit=1, offset=1).json()
    assert page["count"] == 2 and [r["tracking_no"] for r in page["items"]] == [water["tracking_no"]]
    assert fields_of(api.get("/requests", limit=0)) == {"limit"}
    assert fields_of(api.get("/requests", created_after="yesterday")) == {"created_after"}


def test_the_csv_export_has_the_same_filters(city, dispatcher_li, submit_json):
    water = submit_json()
    submit_json("D2S2", category="01.01.01", description="楼道里乱堆乱放杂物")
    response = Api(dispatcher_li).get("/requests.csv", category="02.01")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(r["tracking_no"], r["street"], r["caller_phone"]) for r in rows] == [
        (water["tracking_no"], "D1S1", "13812345678")
    ]


def test_the_api_csv_export_guards_a_formula_in_a_description(city, dispatcher_li, submit_json):
    submit_json(description='=HYPERLINK("http://evil.example","点我")停水', address="@SUM(A1:A9)")
    exported = b"".join(Api(dispatcher_li).get("/requests.csv").streaming_content).decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert row["title"].startswith("'=HYPERLINK") and row["address"] == "'@SUM(A1:A9)"
    assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values())


def test_the_page_and_the_api_export_the_same_columns(
    city, dispatcher_li, submit_json, client, persona_password
):
    submit_json()
    from_api = b"".join(Api(dispatcher_li).get("/requests.csv").streaming_content).decode("utf-8-sig")
    assert client.login(username="dispatcher_li", password=persona_password)
    page = client.get("/hotline/search/", {"format": "csv"})
    from_page = b"".join(page.streaming_content).decode("utf-8-sig")
    assert from_api.splitlines()[0] == from_page.splitlines()[0]
    assert from_api.splitlines()[1] == from_page.splitlines()[1]


def test_the_detail_has_the_timeline_and_masks_the_caller_for_a_department(
    city, dispatcher_li, dept_water_zhao, submit_json
):
    number = submit_json()["tracking_no"]
    dispatcher, zhao = Api(dispatcher_li), Api(dept_water_zhao)
    assert zhao.get(f"/requests/{number}").status_code == 404  # not sent to the department yet
    assert dispatcher.post(f"/requests/{number}/dispatch", {"accept_suggestion": True}).status_code == 201
    detail = zhao.get(f"/requests/{number}").json()
    assert detail["caller"] == {"name": "王**", "phone": "138****", "email": "", "masked": True}
    assert [e["kind"] for e in detail["timeline"]] == ["submitted", "dispatched"]
    assert detail["orders"][0]["unit"]["code"] == "WATER" and detail["orders"][0]["timer"] == "ok"
    assert dispatcher.get(f"/requests/{number}").json()["caller"]["phone"] == "13812345678"


def test_revealing_the_caller_needs_the_permission_and_is_audited(
    city, dispatcher_li, dept_water_zhao, submit_json
):
    from django.contrib.auth.models import Permission

    number = submit_json()["tracking_no"]
    Api(dispatcher_li).post(f"/requests/{number}/dispatch", {"accept_suggestion": True})
    zhao = Api(dept_water_zhao)
    assert zhao.post(f"/requests/{number}/reveal-contact", {"reason": "约上门"}).status_code == 403
    dept_water_zhao.user_permissions.add(Permission.objects.get(codename="contact_citizen"))
    no_reason = zhao.post(f"/requests/{number}/reveal-contact", {"reason": " "})
    assert no_reason.status_code == 400 and "reason" in no_reason.content.decode()
    assert not AuditRecord.objects.filter(action="request.reveal_contact").exists()
    revealed = zhao.post(f"/requests/{number}/reveal-contact", {"reason": "约上门"})
    assert revealed.status_code == 200 and revealed.json()["phone"] == "13812345678"
    assert (
        AuditRecord.objects.filter(action="request.reveal_contact", actor_id=dept_water_zhao.pk).count() == 1
    )


def test_tracking_needs_the_access_code_and_shows_only_the_public_timeline(city, submit_json):
    number = submit_json()["tracking_no"]
    code = texted_code(number)
    public = Client().get(f"/api/v1/track/{number}", {"code": code})
    assert public.status_code == 200
    body = public.json()
    assert body["status"] == "new" and body["street"] == "金融街街道" and "caller" not in body
    assert [(e["kind"], e["actor"], e["data"]) for e in body["timeline"]] == [("submitted", None, {})]
    wrong = Client().get(f"/api/v1/track/{number}", {"code": "2222222222"})
    unknown = Client().get("/api/v1/track/R000000-99999", {"code": code})
    assert wrong.status_code == unknown.status_code == 404 and wrong.json() == unknown.json()
    assert fields_of(Client().get(f"/api/v1/track/{number}")) == {"code"}


def test_the_last_four_phone_digits_no_longer_open_the_api_tracking(city, submit_json):
    number = submit_json()["tracking_no"]
    assert Client().get(f"/api/v1/track/{number}", {"code": "5678"}).status_code == 404
    assert Client().get(f"/api/v1/track/{number}", {"last4": "5678"}).status_code == 400


def test_guessing_access_codes_through_the_api_is_stopped_per_tracking_number(city, submit_json):
    from django.core.cache import cache

    from cityloop.hotline.intake.views import TRACK_FAILURES

    cache.clear()
    number = submit_json()["tracking_no"]
    for i in range(TRACK_FAILURES):
        # A new forwarded address per guess changes nothing: the number itself is counted too.
        Client(REMOTE_ADDR=f"10.0.{i // 250}.{i % 250}", HTTP_X_FORWARDED_FOR=f"10.9.9.{i}").get(
            f"/api/v1/track/{number}", {"code": "2222222222"}
        )
    blocked = Client(REMOTE_ADDR="10.1.1.1").get(f"/api/v1/track/{number}", {"code": texted_code(number)})
    assert blocked.status_code == 429
    cache.clear()


# --- photos -------------------------------------------------------------------------------------------------


def _png_with_gps() -> bytes:
    from PIL import Image

    image, exif, out = Image.new("RGB", (8, 8), "red"), Image.Exif(), io.BytesIO()
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0)}
    image.save(out, format="PNG", exif=exif.tobytes())
    return out.getvalue()


def test_a_photo_is_checked_by_content_and_its_location_stripped(city, dispatcher_li, submit_json):
    from PIL import Image

    number = submit_json()["tracking_no"]
    api = Api(dispatcher_li)
    url = f"/api/v1/requests/{number}/photos"
    ok = api.client.post(url, {"photo": SimpleUploadedFile("door.png", _png_with_gps())}, **api.headers)
    assert ok.status_code == 201, ok.content
    assert ok.json()["content_type"] == "png" and ok.json()["location_kept"] is False
    stored = Attachment.objects.get(pk=ok.json()["id"])
    assert 0x8825 not in Image.open(stored.file.path).getexif()
    kept = api.client.post(
        url,
        {"photo": SimpleUploadedFile("door.png", _png_with_gps()), "keep_location": "true"},
        **api.headers,
    )
    assert kept.json()["location_kept"] is True
    fake = api.client.post(
        url, {"photo": SimpleUploadedFile("x.jpg", b"MZ not an image at all")}, **api.headers
    )
    assert fields_of(fake) == {"photo"} and "by content" in fake.json()["detail"][0]["message"]
    assert fields_of(api.client.post(url, {}, **api.headers)) == {"photo"}
    assert Attachment.objects.count() == 2
    assert AuditRecord.objects.filter(action="request.attach_photo").count() == 2


def test_a_photo_over_ten_megabytes_is_refused(city, dispatcher_li, submit_json):
    number = submit_json()["tracking_no"]
    api = Api(dispatcher_li)
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024)
    response = api.client.post(
        f"/api/v1/requests/{number}/photos", {"photo": SimpleUploadedFile("big.png", big)}, **api.headers
    )
    assert fields_of(response) == {"photo"} and "10 MB" in response.json()["detail"][0]["message"]


# --- dispatch -----------------------------------------------------------------------------------------------


def test_the_queue_shows_the_suggestion_and_one_click_dispatches_it(city, dispatcher_li, submit_json):
    first, second = submit_json(), submit_json("D2S2", category="01.01.01", description="楼道里乱堆乱放")
    api = Api(dispatcher_li)
    queue = api.get("/dispatch/queue").json()
    assert [(q["tracking_no"], q["suggested_units"], q["timer"]) for q in queue] == [
        (first["tracking_no"], ["department:WATER"], "ok"),
        (second["tracking_no"], ["street:D2S2"], "ok"),
    ]
    [order] = api.post(f"/requests/{first['tracking_no']}/dispatch", {"accept_suggestion": True}).json()
    assert (order["unit_kind"], order["unit"]["code"], order["route"], order["status"]) == (
        "department",
        "WATER",
        "direct",
        "pending",
    )
    assert [q["tracking_no"] for q in api.get("/dispatch/queue").json()] == [second["tracking_no"]]


def test_classify_then_dispatch_to_named_units_the_first_leading(city, dispatcher_li, submit_json):
    number = submit_json(category="")["tracking_no"]
    api = Api(dispatcher_li)
    assert fields_of(api.post(f"/requests/{number}/classify", {"category": "77"})) == {"category"}
    assert api.post(f"/requests/{number}/classify", {"category": "01.01.01"}).json()["category"] == "01.01.01"
    bad = api.post(f"/requests/{number}/dispatch", {"units": [{"kind": "street", "code": "NOPE"}]})
    assert fields_of(bad) == {"units"} and "NOPE" in bad.json()["detail"][0]["message"]
    assert fields_of(
        api.post(f"/requests/{number}/dispatch", {"units": [{"kind": "ward", "code": "X"}]})
    ) == {"units.0.kind"}
    orders = api.post(
        f"/requests/{number}/dispatch",
        {"units": [{"kind": "street", "code": "D1S1"}, {"kind": "department", "code": "CITYMGMT"}]},
    )
    assert orders.status_code == 201
    assert [(o["unit"]["code"], o["route"], o["lead"]) for o in orders.json()] == [
        ("D1S1", "first_receiver", True),
        ("CITYMGMT", "direct", False),
    ]


def test_a_street_official_may_not_dispatch(city, street_chen, submit_json):
    number = submit_json()["tracking_no"]
    response = Api(street_chen).post(f"/requests/{number}/dispatch", {"accept_suggestion": True})
    assert response.status_code == 403 and Order.objects.count() == 0


def test_bulk_dispatch_dispatches_what_it_can_and_says_why_it_skipped_the_rest(
    city, dispatcher_li, submit_json
):
    good, unclassified = submit_json(), submit_json(category="", description="请回电话")
    api = Api(dispatcher_li)
    result = api.post(
        "/dispatch/bulk", {"tracking_nos": [good["tracking_no"], unclassified["tracking_no"]]}
    ).json()
    assert result["dispatched"] == [good["tracking_no"]]
    assert [s["tracking_no"] for s in result["skipped"]] == [unclassified["tracking_no"]]
    assert result["skipped"][0]["reason"]
    assert fields_of(api.post("/dispatch/bulk", {"tracking_nos": ["R000000-00009"]})) == {"tracking_nos"}
    assert fields_of(api.post("/dispatch/bulk", {"tracking_nos": []})) == {"tracking_nos"}


def test_nearby_duplicates_are_offered_and_merged(city, dispatcher_li, submit_json):
    primary, duplicate = submit_json(), submit_json()
    api = Api(dispatcher_li)
    offered = api.get(f"/requests/{duplicate['tracking_no']}/duplicates").json()
    assert [r["tracking_no"] for r in offered] == [primary["tracking_no"]]
    assert fields_of(api.post(f"/requests/{duplicate['tracking_no']}/merge", {"into": "R000000-00009"})) == {
        "into"
    }
    merged = api.post(f"/requests/{duplicate['tracking_no']}/merge", {"into": primary["tracking_no"]}).json()
    assert merged["status"] == "merged" and merged["merged_into"] == primary["tracking_no"]
    assert fields_of(
        api.post(f"/requests/{primary['tracking_no']}/merge", {"into": primary["tracking_no"]})
    ) == {"into"}


def test_a_citizen_token_cannot_read_strangers_requests_through_duplicates(
    city, tiny_places, citizen_wang, street_chen, submit_json
):
    """Issue 11 #1: a citizen filed a request anywhere and read every open request within 200 m."""
    stranger = submit_json(description="邻居家漏水，电话 13900001111")
    wang = Api(citizen_wang)
    lon, lat = tiny_places["D1S1C1"]
    own = wang.post("/requests", {**WATER_CUT, "lon": lon, "lat": lat})
    assert own.status_code == 201, own.content
    for outsider in (wang, Api(street_chen)):
        answer = outsider.get(f"/requests/{own.json()['tracking_no']}/duplicates")
        assert answer.status_code in (403, 404)
        assert stranger["tracking_no"].encode() not in answer.content
        assert b"13900001111" not in answer.content


def test_duplicate_candidates_pass_through_the_askers_scope(city, dispatcher_li, citizen_wang, submit_json):
    from cityloop.hotline import queries

    primary, duplicate = submit_json(), submit_json()
    dup = Request.objects.get(tracking_no=duplicate["tracking_no"])
    assert [r.tracking_no for r in queries.duplicate_candidates(dup, dispatcher_li)] == [
        primary["tracking_no"]
    ]
    assert queries.duplicate_candidates(dup, citizen_wang) == []


# --- the unit's work, extensions, arbitration, follow-up ----------------------------------------------------


def test_a_unit_works_its_order_from_the_inbox_to_the_reply_and_the_citizen_rates_it(
    city, tiny_places, citizen_wang, dispatcher_li, dept_water_zhao
):
    wang, dispatcher, zhao = Api(citizen_wang), Api(dispatcher_li), Api(dept_water_zhao)
    lon, lat = tiny_places["D1S1C1"]
    number = wang.post("/requests", {**WATER_CUT, "lon": lon, "lat": lat}).json()["tracking_no"]
    [order] = dispatcher.post(f"/requests/{number}/dispatch", {"accept_suggestion": True}).json()
    oid = order["id"]
    assert [o["id"] for o in zhao.get("/orders", filter="new").json()] == [oid]
    assert zhao.get("/orders", filter="overdue").json() == []
    assert fields_of(zhao.get("/orders", filter="someday")) == {"filter"}
    assert zhao.post(f"/orders/{oid}/sign").json()["status"] == "signed"
    assert [o["id"] for o in zhao.get("/orders", filter="in_progress").json()] == [oid]
    assert fields_of(zhao.post(f"/orders/{oid}/notes", {"text": "  "})) == {"text"}
    assert zhao.post(f"/orders/{oid}/notes", {"text": "已派抢修队", "public": True}).status_code == 201
    assert fields_of(zhao.post(f"/orders/{oid}/contacts", {"channel": "pigeon", "summary": "x"})) == {
        "channel"
    }
    assert (
        zhao.post(f"/orders/{oid}/contacts", {"channel": "phone", "summary": "约好下午上门"}).status_code
        == 201
    )
    assert fields_of(zhao.post(f"/orders/{oid}/extensions", {"days": 99, "reason": "x"})) == {"days"}
    ext = zhao.post(f"/orders/{oid}/extensions", {"days": 2, "reason": "需要更换主管道"}).json()
    assert [e["id"] for e in dispatcher.get("/dispatch/extensions").json()] == [ext["id"]]
    assert zhao.post(f"/extensions/{ext['id']}/decide", {"approve": True}).status_code == 403
    assert fields_of(dispatcher.post(f"/extensions/{ext['id']}/decide", {"approve": False})) == {"note"}
    assert dispatcher.post(f"/extensions/{ext['id']}/decide", {"approve": True}).json()["approved"] is True
    assert Extension.objects.get(pk=ext["id"]).approved is True
    assert fields_of(zhao.post(f"/orders/{oid}/reply", {"outcome": "resolved", "text": ""})) == {"text"}
    assert (
        zhao.post(f"/orders/{oid}/reply", {"outcome": "resolved", "text": "已恢复供水"}).json()["status"]
        == "replied"
    )
    assert [r["tracking_no"] for r in dispatcher.get("/follow-up/queue").json()] == [number]
    rated = wang.post(f"/requests/{number}/follow-up", {"resolved": True, "satisfaction": "satisfied"})
    assert rated.status_code == 201 and rated.json()["channel"] == "web" and rated.json()["reopened"] is False
    assert Request.objects.get(tracking_no=number).status == Status.CLOSED
    timeline = [e["kind"] for e in wang.get(f"/requests/{number}").json()["timeline"]]
    assert "contact" not in timeline and {"submitted", "note", "replied", "followed_up"} <= set(timeline)


def test_another_unit_may_not_sign_an_order(city, dispatcher_li, street_chen, submit_json):
    number = submit_json()["tracking_no"]
    [order] = Api(dispatcher_li).post(f"/requests/{number}/dispatch", {"accept_suggestion": True}).json()
    response = Api(street_chen).post(f"/orders/{order['id']}/sign")  # the street sees its area, not the order
    assert response.status_code == 403 and Order.objects.get(pk=order["id"]).status == "pending"
    assert Api(street_chen).post("/orders/999999/sign").status_code == 404


def test_a_phone_follow_up_is_recorded_by_the_dispatcher_and_may_reopen(
    city, dispatcher_li, dept_water_zhao, outsider_zhou, submit_json
):
    number = submit_json()["tracking_no"]
    dispatcher, zhao = Api(dispatcher_li), Api(dept_water_zhao)
    [order] = dispatcher.post(f"/requests/{number}/dispatch", {"accept_suggestion": True}).json()
    zhao.post(f"/orders/{order['id']}/sign")
    zhao.post(f"/orders/{order['id']}/reply", {"outcome": "resolved", "text": "已恢复供水"})
    assert (
        Api(outsider_zhou)
        .post(f"/requests/{number}/follow-up", {"resolved": True, "satisfaction": "satisfied"})
        .status_code
        == 404
    )
    assert fields_of(
        dispatcher.post(f"/requests/{number}/follow-up", {"resolved": True, "satisfaction": "meh"})
    ) == {"satisfaction"}
    answer = dispatcher.post(
        f"/requests/{number}/follow-up", {"resolved": False, "satisfaction": "unsatisfied"}
    )
    assert answer.json()["channel"] == "phone" and answer.json()["reopened"] is True
    assert Request.objects.get(tracking_no=number).status == Status.DISPATCHED


def test_repeated_returns_go_to_arbitration_decided_through_the_api(
    city, dispatcher_li, dept_water_zhao, street_chen, submit_json
):
    number = submit_json()["tracking_no"]
    dispatcher = Api(dispatcher_li)
    [order] = dispatcher.post(f"/requests/{number}/dispatch", {"accept_suggestion": True}).json()
    assert fields_of(Api(dept_water_zhao).post(f"/orders/{order['id']}/return", {"reason": ""})) == {"reason"}
    assert Api(dept_water_zhao).post(f"/orders/{order['id']}/return", {"reason": "属地问题"}).json()[
        "status"
    ] == ("returned")
    [order2] = dispatcher.post(
        f"/requests/{number}/dispatch", {"units": [{"kind": "street", "code": "D1S1"}]}
    ).json()
    Api(street_chen).post(f"/orders/{order2['id']}/return", {"reason": "供水管网问题，属水务"})
    [open_case] = dispatcher.get("/dispatch/arbitrations").json()
    assert open_case["tracking_no"] == number and len(open_case["units"]) == 2
    bad = dispatcher.post(
        f"/arbitrations/{open_case['id']}/decide",
        {"unit": {"kind": "department", "code": "WATER"}, "decision": " "},
    )
    assert fields_of(bad) == {"decision"}
    decided = dispatcher.post(
        f"/arbitrations/{open_case['id']}/decide",
        {"unit": {"kind": "department", "code": "WATER"}, "decision": "主管网爆管，水务负责"},
    )
    assert decided.status_code == 200 and decided.json()["decided_at"] is not None
    assert Arbitration.objects.get(pk=open_case["id"]).decided_by == dispatcher_li
    assert dispatcher.get("/dispatch/arbitrations").json() == []
    assert (
        Order.objects.filter(request__tracking_no=number, status="pending").get().department.code == "WATER"
    )


# --- the document -------------------------------------------------------------------------------------------


def test_the_openapi_document_lists_every_hotline_path_with_descriptions(city):
    document = Client().get("/api/v1/openapi.json").json()
    paths = document["paths"]
    expected = {
        "/api/v1/requests",
        "/api/v1/requests.csv",
        "/api/v1/requests/{tracking_no}",
        "/api/v1/requests/{tracking_no}/photos",
        "/api/v1/requests/{tracking_no}/classify",
        "/api/v1/requests/{tracking_no}/dispatch",
        "/api/v1/requests/{tracking_no}/merge",
        "/api/v1/requests/{tracking_no}/duplicates",
        "/api/v1/requests/{tracking_no}/reveal-contact",
        "/api/v1/requests/{tracking_no}/follow-up",
        "/api/v1/dispatch/queue",
        "/api/v1/dispatch/bulk",
        "/api/v1/dispatch/extensions",
        "/api/v1/extensions/{extension_id}/decide",
        "/api/v1/dispatch/arbitrations",
        "/api/v1/arbitrations/{arbitration_id}/decide",
        "/api/v1/follow-up/queue",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}/sign",
        "/api/v1/orders/{order_id}/return",
        "/api/v1/orders/{order_id}/notes",
        "/api/v1/orders/{order_id}/contacts",
        "/api/v1/orders/{order_id}/extensions",
        "/api/v1/orders/{order_id}/reply",
        "/api/v1/track/{tracking_no}",
    }
    assert expected <= set(paths)
    assert {p for p in paths if not p.startswith(("/api/v1/services/", "/api/v1/brain/"))} == expected
    submit = paths["/api/v1/requests"]["post"]
    assert submit["description"] and {"200", "201", "400", "401", "403", "409"} <= set(submit["responses"])
    assert "Idempotency-Key" in [p["name"] for p in submit["parameters"]]
    schemas = document["components"]["schemas"]
    assert schemas["SubmitIn"]["properties"]["description"]["examples"]
    assert {"HotlineBearer", "HotlineHeader"} <= set(document["components"]["securitySchemes"])
    assert submit["security"] == [{"HotlineBearer": []}, {"HotlineHeader": []}]
    assert "security" not in paths["/api/v1/track/{tracking_no}"]["get"]
    assert all(op.get("description") for path in expected for op in paths[path].values())


def test_the_submit_answer_holds_exactly_the_published_schemas_fields_in_its_order(
    submit_json, citizen_wang, tiny_places
):
    from cityloop.hotline.schemas import RequestOut

    answer = submit_json(attributes={"k": "v"})
    lon, lat = tiny_places["D1S1C1"]
    mine = Api(citizen_wang).post("/requests", {**WATER_CUT, "lon": lon, "lat": lat}).json()

    for body in (answer, mine):
        assert list(body) == list(RequestOut.model_fields)
        assert list(body["caller"]) == ["name", "phone", "email", "masked"]
        assert list(body["street"]) == ["code", "name"]
        assert RequestOut.model_validate(body).tracking_no == body["tracking_no"]
    assert answer["attributes"] == {"k": "v"} and answer["created_at"].endswith("Z")


def test_a_confidential_caller_is_fully_hidden_from_units_in_the_api_and_its_csv(
    city, submit_json, dispatcher_li, dept_water_zhao
):
    """Issue 11 #6: units saw the first character of the name and 7 of the 11 phone digits."""
    number = submit_json(confidential=True)["tracking_no"]
    assert (
        Api(dispatcher_li).post(f"/requests/{number}/dispatch", {"accept_suggestion": True}).status_code
        == 201
    )
    zhao = Api(dept_water_zhao)
    detail = zhao.get(f"/requests/{number}").json()
    assert detail["confidential"] is True
    assert detail["caller"] == {"name": "", "phone": "", "email": "", "masked": True}
    [listed] = zhao.get("/requests").json()["items"]
    assert listed["caller"] == detail["caller"]
    exported = b"".join(zhao.get("/requests.csv").streaming_content).decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert row["caller_name"] == "" and row["caller_phone"] == ""
    assert "王" not in exported and "138" not in exported
    assert Api(dispatcher_li).get(f"/requests/{number}").json()["caller"]["phone"] == "13812345678"


def test_a_tiny_png_of_49_million_pixels_is_refused_before_it_is_unpacked(city, dispatcher_li, submit_json):
    """Issue 11 #8: Pillow accepted up to ~179 M pixels per photo (a few kB of PNG)."""
    from PIL import Image

    from cityloop.hotline.intake import photos
    from tests.hotline.images import pixel_bomb_png

    bomb = pixel_bomb_png(7000, 7000)
    assert len(bomb) < 100_000
    number = submit_json()["tracking_no"]
    api = Api(dispatcher_li)
    response = api.client.post(
        f"/api/v1/requests/{number}/photos", {"photo": SimpleUploadedFile("bomb.png", bomb)}, **api.headers
    )
    assert response.status_code == 400 and fields_of(response) == {"photo"}
    assert "bomb.png" in response.json()["detail"][0]["message"]
    assert Attachment.objects.count() == 0
    assert Image.MAX_IMAGE_PIXELS == photos.MAX_PIXELS == 40_000_000
    small = pixel_bomb_png(4000, 3000)  # 12 M pixels: a real phone photo's size passes
    assert (
        api.client.post(
            f"/api/v1/requests/{number}/photos", {"photo": SimpleUploadedFile("ok.png", small)}, **api.headers
        ).status_code
        == 201
    )


# --- malformed input: a 400 naming the field, never a 500 --------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"created_after": "9999-12-31T23:59:59-23:59"}, "created_after"),
        ({"created_before": "0001-01-01T00:00:00+23:59"}, "created_before"),
        ({"created_before": "0.5"}, "created_before"),
        ({"created_after": "1700000000"}, "created_after"),
        ({"offset": "99999999999999999999"}, "offset"),
        ({"limit": "²"}, "limit"),
    ],
)
def test_a_malformed_list_filter_is_a_400_naming_it_not_a_500(city, dispatcher_li, query, field):
    for path in ("/requests", "/requests.csv") if field.startswith("created") else ("/requests",):
        answer = Api(dispatcher_li).get(path, **query)
        assert answer["Content-Type"].startswith("application/json")
        assert fields_of(answer) == {field}


def test_a_body_that_is_not_a_json_object_is_refused(city, dispatcher_li, submit_json):
    number = submit_json()["tracking_no"]
    api = Api(dispatcher_li)
    for body in ("[null, null]", "3", '"reason"'):
        answer = api.client.post(
            f"/api/v1/requests/{number}/reveal-contact", body, content_type="application/json", **api.headers
        )
        assert answer.status_code == 400, body
        assert answer.json()["detail"][0]["field"]


def test_an_unparseable_body_gets_the_documented_field_list(city, dispatcher_li, submit_json):
    number = submit_json()["tracking_no"]
    api = Api(dispatcher_li)
    answer = api.client.post(
        f"/api/v1/requests/{number}/reveal-contact", b"\x1f{", content_type="application/json", **api.headers
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": [{"field": "body", "message": "not valid JSON (or not the declared form encoding)"}]
    }


def test_every_operation_declares_its_error_answers(client, db):
    document = client.get("/api/v1/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), (method, path)


def test_a_nul_or_a_lone_surrogate_in_a_json_body_is_a_400_not_a_500(city, dispatcher_li):
    """JSON escapes can carry characters PostgreSQL refuses even in a lookup (schemathesis found it)."""
    api = Api(dispatcher_li)
    body = '{"tracking_nos": ["\\ud98bR\\uda41", "R261126-\\u000000042"]}'
    answer = api.client.post("/api/v1/dispatch/bulk", body, content_type="application/json", **api.headers)
    assert answer.status_code == 400 and answer.json()["detail"][0]["field"] == "tracking_nos"
