"""Discovery, the service list and service definitions, in both formats; and the generic errors."""

from __future__ import annotations

import shutil

import pytest

from cityloop.core.actors import SYSTEM
from cityloop.openapi.open311 import definitions
from cityloop.org.packs import load_pack
from tests.open311.conftest import parse, xml_items

pytestmark = pytest.mark.django_db


def test_discovery_names_the_endpoint_its_formats_and_how_to_get_a_key(client, city):
    data = parse(client.get("/open311/v2/discovery.json"))
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(data)
    [endpoint] = data["endpoints"]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"] and endpoint["type"] == "production"
    root = parse(client.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery" and root.findtext("key_service")
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]


def test_services_are_the_leaf_categories_grouped_by_their_first_level(client, city):
    services = parse(client.get("/open311/v2/services.json"))
    assert [s["service_code"] for s in services] == ["01.01.01", "01.01.02", "02.01.01", "02.01.02"]
    water = services[2]
    assert water == {
        "service_code": "02.01.01",
        "service_name": "停水",
        "description": "水务 › 供水 › 停水",
        "metadata": True,
        "type": "realtime",
        "group": "水务",
        "keywords": "水务, Water, 供水, Water supply, 停水, No water, 没水",
    }
    assert services[0]["type"] == "batch" and services[0]["metadata"] is False
    root = parse(client.get("/open311/v2/services.xml"))
    items = xml_items(root, "service")
    assert root.tag == "services" and items[2]["metadata"] == "true" and items[0]["metadata"] == "false"
    assert items[2]["group"] == "水务" and items[2]["service_code"] == "02.01.01"


def test_service_names_follow_the_language_asked_for(client, city):
    services = parse(client.get("/open311/v2/services.json", HTTP_ACCEPT_LANGUAGE="en"))
    assert services[2]["service_name"] == "No water" and services[2]["group"] == "Water"


def test_a_service_definition_lists_every_attribute_field(client, city):
    data = parse(client.get("/open311/v2/services/02.01.01.json"))
    assert data["service_code"] == "02.01.01"
    floor, kind, signs = data["attributes"][:3]
    assert floor == {
        "variable": True,
        "code": "FLOOR",
        "datatype": "number",
        "required": True,
        "datatype_description": "整数",
        "order": 1,
        "description": "哪一层没水",
        "values": [],
    }
    assert kind["values"] == [{"key": "home", "name": "我家"}, {"key": "building", "name": "整栋楼"}]
    assert signs["datatype"] == "multivaluelist" and signs["required"] is False
    assert [a["datatype"] for a in data["attributes"]] == [
        "number",
        "singlevaluelist",
        "multivaluelist",
        "datetime",
        "text",
        "string",
        "string",
    ]
    assert data["attributes"][-1]["variable"] is False
    root = parse(client.get("/open311/v2/services/02.01.01.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "02.01.01"
    first = root.find("attributes/attribute")
    assert [c.tag for c in first] == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ]
    assert [
        (v.findtext("key"), v.findtext("name")) for v in root.findall("attributes/attribute[2]/values/value")
    ] == [("home", "我家"), ("building", "整栋楼")]


def test_a_service_without_a_definition_has_no_attributes(client, city):
    assert parse(client.get("/open311/v2/services/02.01.02.json")) == {
        "service_code": "02.01.02",
        "attributes": [],
    }


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_service_code_is_a_404_naming_it(client, city, fmt):
    response = client.get(f"/open311/v2/services/99.99.{fmt}")
    assert response.status_code == 404
    body = parse(response)
    if fmt == "json":
        assert body == [{"code": 404, "description": "service_code: '99.99' is not a service of TC"}]
    else:
        assert body.tag == "errors" and body.findtext("error/code") == "404"
        assert "'99.99'" in body.findtext("error/description")


def test_an_unknown_format_or_path_gets_an_open311_404_in_xml(client, city):
    for path in ("services.yaml", "services", "nothing-here.xml", "requests/R1.html"):
        response = client.get(f"/open311/v2/{path}")
        assert response.status_code == 404, path
        assert parse(response).tag == "errors"
    assert parse(client.get("/open311/v2/nothing-here.json"))[0]["code"] == 404


def test_a_wrong_method_is_a_400_with_the_allowed_ones(client, city):
    response = client.delete("/open311/v2/requests.json")
    assert response.status_code == 400 and response["Allow"] == "GET, POST"
    assert "DELETE is not allowed" in parse(response)[0]["description"]


def _second_city(tmp_path, tiny_pack):
    from cityloop.org.actions import import_pack

    folder = tmp_path / "second"
    shutil.copytree(tiny_pack, folder)
    geo = folder / "jurisdictions.geojson"
    geo.write_text(geo.read_text(encoding="utf-8").replace('"TC"', '"TX"'), encoding="utf-8")
    meta = folder / "pack.yaml"
    meta.write_text(meta.read_text(encoding="utf-8").replace("code: tc", "code: tx"), encoding="utf-8")
    return import_pack(load_pack(folder), actor=SYSTEM)


def test_with_several_cities_the_jurisdiction_id_is_required_and_checked(client, city, tmp_path, tiny_pack):
    assert client.get("/open311/v2/services.json").status_code == 200  # one city: the parameter is optional
    response = client.get("/open311/v2/services.json?jurisdiction_id=anywhere.gov")
    assert (
        response.status_code == 404
    )  # but a city it does not host is an error, not another city's catalogue
    _second_city(tmp_path, tiny_pack)
    missing = client.get("/open311/v2/services.json?jurisdiction_id=")
    assert missing.status_code == 400 and "jurisdiction_id: required" in parse(missing)[0]["description"]
    unknown = client.get("/open311/v2/services.xml?jurisdiction_id=anywhere.gov")
    assert unknown.status_code == 404 and "jurisdiction_id" in parse(unknown).findtext("error/description")
    assert client.get("/open311/v2/services.json?jurisdiction_id=TX").status_code == 200
    assert client.get("/open311/v2/services.json?jurisdiction_id=tc").status_code == 200
    assert client.get("/open311/v2/requests.json?jurisdiction_id=tx").status_code == 200


def test_the_shipped_definitions_are_valid_and_name_leaf_categories_of_their_pack():
    for pack_code in ("nyc", "beijing"):
        pack = load_pack(pack_code)
        parents = {c.get("parent") for c in pack.categories}
        leaves = {c["code"] for c in pack.categories if c["code"] not in parents}
        found = definitions.read_file(pack.path / "open311.yaml")
        assert found and set(found) <= leaves, pack_code
        assert all(d.attributes for d in found.values())


def test_a_broken_definition_file_names_the_service_and_the_rule(tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    path = tmp_path / "open311.yaml"
    path.write_text(
        'services:\n  "01":\n    attributes:\n      - {code: A, datatype: colour}\n', encoding="utf-8"
    )
    with pytest.raises(ImproperlyConfigured, match=r"services.01.attributes\[0\]: datatype must be one of"):
        definitions.read_file(path)
    path.write_text(
        'services:\n  "01":\n    attributes:\n      - {code: A, datatype: singlevaluelist}\n',
        encoding="utf-8",
    )
    with pytest.raises(ImproperlyConfigured, match="values are given for the list datatypes"):
        definitions.read_file(path)
