"""The submit page's map picker and pickers: the city's shapes for the map, a street chosen without a
map, a category chosen by the citizen, and the type-to-find marks on the long selects."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.models import Channel, Request

pytestmark = pytest.mark.django_db


def test_the_map_data_has_the_citys_districts_streets_and_gazetteer_in_the_pages_language(client, city):
    data = client.get("/hotline/submit/map.json", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    districts = {f["properties"]["code"]: f["properties"]["name"] for f in data["districts"]["features"]}
    streets = {f["properties"]["code"]: f["properties"] for f in data["streets"]["features"]}
    assert districts == {"D1": "西城区", "D2": "东城区"}
    assert set(streets) == {"D1S1", "D1S2", "D2S1", "D2S2"}
    assert streets["D1S1"]["name"] == "金融街街道" and streets["D1S1"]["parent"] == "D1"
    assert data["streets"]["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    mall = next(p for p in data["places"] if p["name"] == "金融街购物中心")
    assert mall["code"] == "D1S1C1" and mall["bbox"][0] < 116.02 < mall["bbox"][2]
    assert data["bounds"] == [116.0, 39.8, 116.4, 40.0]
    english = client.get("/hotline/submit/map.json", HTTP_ACCEPT_LANGUAGE="en").json()
    assert {f["properties"]["name"] for f in english["districts"]["features"]} == {
        "West District",
        "East District",
    }


def test_the_submit_page_offers_the_street_and_category_pickers_and_a_hidden_map(client, city):
    page = client.get("/hotline/submit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<select name="street"' in page and '<optgroup label="西城区">' in page
    assert 'name="category"' in page and "data-typeahead" in page
    assert "data-map-picker" in page and "hidden>" in page  # shown by the script only
    assert "/static/hotline/leaflet/leaflet.js" in page and "使用我的位置" in page
    assert "unpkg" not in page and "cdn" not in page.lower()


def _form(**values):
    return {"description": "路灯不亮", "caller_phone": "13812345678", "kind": "help", **values}


def test_a_citizen_without_a_map_places_the_request_by_choosing_its_street(client, city):
    response = client.post("/hotline/submit/", _form(street="D1S2"))
    assert response.status_code == 302, response.content.decode()[:2000]
    request = Request.objects.get()
    assert (request.street.code, request.district.code, request.lon) == ("D1S2", "D1", None)


def test_the_address_names_the_community_when_it_lies_in_the_chosen_street(client, city):
    client.post("/hotline/submit/", _form(street="D1S1", address="金融街购物中心门口"))
    request = Request.objects.get()
    assert (request.street.code, request.community.code) == ("D1S1", "D1S1C1")


def test_a_point_decides_the_street_over_the_chosen_one(client, city, tiny_places):
    lon, lat = tiny_places["D2S1"]
    client.post("/hotline/submit/", _form(street="D1S2", lon=lon, lat=lat))
    assert Request.objects.get().street.code == "D2S1"


def test_the_citizens_category_is_filed_and_nothing_is_guessed(client, city):
    client.post("/hotline/submit/", _form(address="白塔寺", category="02.01.01"))
    request = Request.objects.get()
    assert request.category.code == "02.01.01" and request.suggested_category is None


def test_an_unknown_street_is_refused_naming_the_field(city):
    sub = actions.Submission(description="路灯不亮", caller_phone="13812345678", street_code="NOPE")
    with pytest.raises(ValidationError) as refused:
        actions.submit_request(sub, city=city, channel=Channel.WEB, actor=SYSTEM)
    assert "street" in refused.value.message_dict and "NOPE" in refused.value.message_dict["street"][0]
    assert not Request.objects.exists()


def test_a_form_with_neither_address_street_nor_point_still_asks_where(client, city):
    response = client.post("/hotline/submit/", _form(), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200 and "address" in response.context["form"].errors


def test_the_dispatchers_category_and_unit_pickers_are_marked_for_type_to_find(client, city, dispatcher_li):
    from cityloop.hotline.forms import ArbitrationForm, ClassifyForm, DispatchForm, IntakeForm

    assert "data-typeahead" in str(IntakeForm()["category"])
    assert "data-typeahead" in str(ClassifyForm()["category"])
    assert "data-typeahead" in str(DispatchForm()["lead"]) and "data-typeahead" in str(
        DispatchForm()["others"]
    )
    assert "data-typeahead" in str(ArbitrationForm()["unit"])
    client.force_login(dispatcher_li)
    assert "/static/hotline/typeahead.js" in client.get("/hotline/intake/").content.decode()


def test_the_map_data_is_built_again_when_a_place_changes(client, city):
    from cityloop.org import queries as org_queries

    first = client.get("/hotline/submit/map.json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert first["Content-Type"] == "application/json" and "白塔街道" in first.content.decode()
    street = org_queries.place(city, level="street", code="D1S2")
    street.name = "白塔寺街道"
    street.save(update_fields=["name"])
    again = client.get("/hotline/submit/map.json", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "白塔寺街道" in again
