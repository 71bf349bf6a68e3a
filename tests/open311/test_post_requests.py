"""POST requests: the api_key, the location, the attributes, every optional field, and rate limits."""

from __future__ import annotations

import pytest

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.hotline import queries as hotline_queries
from cityloop.hotline.models import Request
from tests.open311.conftest import parse

pytestmark = pytest.mark.django_db


def _problems(response) -> list[str]:
    return [e["description"] for e in parse(response)]


def test_a_posted_request_returns_its_tracking_number_and_lands_in_the_dispatch_queue(post, city, app_user):
    response = post()
    assert response.status_code == 200
    [answer] = parse(response)
    assert answer == {
        "service_request_id": answer["service_request_id"],
        "service_notice": "水务局 24 小时内联系您",
        "account_id": "acct-9",
    }
    request = Request.objects.get(tracking_no=answer["service_request_id"])
    assert isinstance(answer["service_request_id"], str) and request.channel == "open311"
    assert list(hotline_queries.dispatch_queue(city)) == [request]
    assert (request.category.code, request.street.code, request.community.code) == (
        "02.01.01",
        "D1S1",
        "D1S1C1",
    )
    assert request.attributes == {"FLOOR": 3, "KIND": "building"}
    assert (request.caller_name, request.caller_phone, request.caller_email) == (
        "小明 王",
        "13812345678",
        "wang@example.org",
    )
    assert request.evidence["open311"] == {
        "media_url": "https://example.org/p.jpg",
        "device_id": "dev-1",
        "account_id": "acct-9",
        "api_token": request.evidence["open311"]["api_token"],
    }
    audit = AuditRecord.objects.get(action="request.submit", object_id=str(request.pk))
    assert audit.actor_id == app_user.pk


def test_the_xml_answer_is_a_service_requests_list(post):
    root = parse(post("xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id").startswith("R")
    assert root.find("request/token") is None


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("key", [None, "", "clk_nope_nope", "not-a-token"])
def test_a_missing_or_invalid_api_key_is_a_403(post, fmt, key):
    response = post(fmt, api_key=key)
    assert response.status_code == 403
    text = (
        parse(response)[0]["description"] if fmt == "json" else parse(response).findtext("error/description")
    )
    assert text.startswith("api_key: ")
    assert Request.objects.count() == 0


def test_a_token_without_the_open311_scope_or_revoked_is_refused(post, app_user):
    from cityloop.core.actions import create_token, revoke_token

    other, secret = create_token(user=app_user, name="hotline app", scopes=["hotline", "read"], actor=SYSTEM)
    assert post(api_key=secret).status_code == 403
    token, open311_secret = create_token(user=app_user, name="old app", scopes=["open311"], actor=SYSTEM)
    assert post(api_key=open311_secret).status_code == 200
    revoke_token(token, actor=SYSTEM)
    assert post(api_key=open311_secret).status_code == 403


def test_the_location_may_be_an_address_string(post):
    response = post(lat=None, long=None, address_string="白塔寺东边的胡同")
    request = Request.objects.get(tracking_no=parse(response)[0]["service_request_id"])
    assert request.street.code == "D1S2" and request.lon is None and request.address == "白塔寺东边的胡同"


def test_the_location_may_be_an_address_id_the_code_of_a_community_or_street(post):
    response = post(lat=None, long=None, address_id="D1S1C2")
    request = Request.objects.get(tracking_no=parse(response)[0]["service_request_id"])
    assert (request.street.code, request.community.code) == ("D1S1", "D1S1C2")
    assert request.evidence["open311"]["address_id"] == "D1S1C2"
    bad = post(lat=None, long=None, address_id="NOWHERE")
    assert bad.status_code == 400 and _problems(bad) == [
        "address_id: 'NOWHERE' is not a district, street or community code of TC"
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lat": None, "long": None}, "location"),
        ({"lat": "95", "long": "116.02"}, "lat"),
        ({"lat": "39.95", "long": "-181"}, "long"),
        ({"lat": "abc", "long": "116.02"}, "lat"),
        ({"long": None}, "long"),
        ({"lat": "39.9", "long": "116.6"}, "lat/long"),
    ],
)
def test_a_bad_location_is_a_400_naming_the_field(post, overrides, field):
    response = post(**overrides)
    assert response.status_code == 400
    assert any(p.startswith(f"{field}: ") for p in _problems(response)), _problems(response)
    assert Request.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"attribute[FLOOR]": None}, "attribute[FLOOR]: required"),
        ({"attribute[KIND]": "street"}, "attribute[KIND]: 'street' is not one of building, home"),
        ({"attribute[FLOOR]": "three"}, "attribute[FLOOR]: must be a number, not 'three'"),
        ({"attribute[FLOOR]": ["3", "4"]}, "attribute[FLOOR]: takes one value (number), got 2"),
        (
            {"attribute[SIGNS][]": ["none", "loud"]},
            "attribute[SIGNS]: 'loud' is not one of dirty, none, weak",
        ),
        (
            {"attribute[SINCE]": "2026-01-05 07:00"},
            "attribute[SINCE]: must be an ISO 8601 datetime with a time zone, not '2026-01-05 07:00'",
        ),
        (
            {"attribute[METER]": "12\n34"},
            "attribute[METER]: a string has no line breaks (use a text attribute for those)",
        ),
        (
            {"attribute[COLOUR]": "red"},
            "attribute[COLOUR]: not an attribute of this service (attributes: FLOOR, KIND, "
            "SIGNS, SINCE, NOTE, METER)",
        ),
        ({"attribute[INFO]": "x"}, "attribute[INFO]: not an attribute of this service"),
        (
            {"attribute[KIND][x]": "home"},
            "attribute[KIND][x]: attributes are sent as attribute[code] or attribute[code][]",
        ),
        ({"service_code": "99"}, "service_code: '99' is not a service of TC"),
        ({"service_code": None}, "service_code: required (see services.json)"),
        ({"description": "长" * 4001}, "description: at most 4000 characters (got 4001)"),
        ({"email": "not-an-email"}, "email: not a valid e-mail address"),
        ({"phone": "call me"}, "phone: digits only"),
        ({"media_url": "javascript:alert(1)"}, "media_url: must be an http or https URL"),
        ({"first_name": "x" * 201}, "first_name: at most 200 characters"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(post, overrides, expected):
    response = post(**overrides)
    assert response.status_code == 400
    assert any(p.startswith(expected) for p in _problems(response)), _problems(response)
    assert Request.objects.count() == 0


def test_every_problem_is_reported_at_once(post):
    problems = _problems(post(**{"attribute[FLOOR]": None, "attribute[KIND]": "x", "lat": "100"}))
    assert [p.split(":")[0] for p in problems] == ["lat", "attribute[FLOOR]", "attribute[KIND]"]


def test_list_and_typed_attributes_are_stored_cleaned(post):
    response = post(
        **{
            "attribute[SIGNS][]": ["none", "dirty"],
            "attribute[SINCE]": "2026-01-05T07:00:00+08:00",
            "attribute[FLOOR]": "2.5",
            "attribute[NOTE]": "第一行\n第二行",
            "attribute[METER]": "M-1",
        }
    )
    request = Request.objects.get(tracking_no=parse(response)[0]["service_request_id"])
    assert request.attributes == {
        "FLOOR": 2.5,
        "KIND": "building",
        "SIGNS": ["none", "dirty"],
        "SINCE": "2026-01-05T07:00:00+08:00",
        "NOTE": "第一行\n第二行",
        "METER": "M-1",
    }


def test_the_description_is_optional_and_then_made_from_the_service_and_attributes(post):
    response = post(description=None, email=None, phone=None, first_name=None, last_name=None)
    request = Request.objects.get(tracking_no=parse(response)[0]["service_request_id"])
    assert request.description == "停水\nFLOOR: 3\nKIND: building"


def test_a_body_that_is_not_a_form_is_refused(client, city, api_key):
    response = client.post("/open311/v2/requests.json", {"api_key": api_key}, content_type="application/json")
    assert response.status_code == 400 and parse(response)[0]["description"].startswith(
        "body: send the fields"
    )


def test_a_batch_service_answers_with_a_token_that_later_gives_the_id(post, client):
    response = post(service_code="01.01.01", **{"attribute[FLOOR]": None, "attribute[KIND]": None})
    [answer] = parse(response)
    assert (
        set(answer) == {"token", "service_notice", "account_id"}
        and answer["service_notice"] == "街道核实后生成编号"
    )
    request = Request.objects.get()
    [found] = parse(client.get(f"/open311/v2/tokens/{answer['token']}.json"))
    assert found == {"service_request_id": request.tracking_no, "token": answer["token"]}
    root = parse(client.get(f"/open311/v2/tokens/{answer['token']}.xml"))
    assert root.findtext("request/service_request_id") == request.tracking_no
    unknown = client.get("/open311/v2/tokens/nope.json")
    assert unknown.status_code == 404 and parse(unknown)[0]["description"].startswith("token: ")


def test_posts_are_limited_per_key_with_retry_after(post, settings):
    settings.OPEN311 = {**settings.OPEN311, "rate_limit_per_key": (2, 60)}
    assert post().status_code == 200 and post().status_code == 200
    refused = post()
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert (
        parse(refused)[0]["code"] == 429 and "at most 2 every 60 seconds" in parse(refused)[0]["description"]
    )
    assert Request.objects.count() == 2


def test_posts_are_limited_per_ip_even_with_bad_keys(post, settings):
    settings.OPEN311 = {**settings.OPEN311, "rate_limit_per_ip": (3, 60)}
    assert [post(api_key="clk_bad_guess").status_code for _ in range(3)] == [403, 403, 403]
    refused = post()
    assert refused.status_code == 429 and refused["Retry-After"]
    assert Request.objects.count() == 0


def test_the_sliding_window_lets_a_client_in_again_once_old_hits_leave_it():
    from cityloop.openapi.open311 import ratelimit
    from cityloop.openapi.open311.render import Open311Error

    ratelimit.hit("t", limit=2, seconds=10, now=100.0)
    ratelimit.hit("t", limit=2, seconds=10, now=105.0)
    with pytest.raises(Open311Error) as caught:
        ratelimit.hit("t", limit=2, seconds=10, now=108.0)
    assert caught.value.headers == {"Retry-After": "2"}
    ratelimit.hit("t", limit=2, seconds=10, now=110.5)  # the hit at 100 has left the window
