"""Open311 fixtures: service definitions for the tiny city, an API key, and format-aware helpers."""

from __future__ import annotations

import json
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest

from cityloop.core.actors import SYSTEM

DEFINITIONS = """
publish:
  default: full
services:
  "02.01.01":
    service_notice: 水务局 24 小时内联系您
    keywords: [没水]
    attributes:
      - {code: FLOOR, datatype: number, required: true, description: 哪一层没水, datatype_description: 整数}
      - code: KIND
        datatype: singlevaluelist
        required: true
        description: 停水范围
        values: [{key: home, name: 我家}, {key: building, name: 整栋楼}]
      - code: SIGNS
        datatype: multivaluelist
        required: false
        description: 现象
        values: [{key: none, name: 完全没水}, {key: weak, name: 水很小}, {key: dirty, name: 水发黄}]
      - {code: SINCE, datatype: datetime, required: false, description: 从何时开始}
      - {code: NOTE, datatype: text, required: false, description: 补充说明}
      - {code: METER, datatype: string, required: false, description: 水表号}
      - {code: INFO, datatype: string, required: false, variable: false, description: 只用于说明}
  "01.01.01":
    type: batch
    service_notice: 街道核实后生成编号
"""


@pytest.fixture(autouse=True)
def _open311_settings(settings, tmp_path):
    from django.core.cache import cache

    path = tmp_path / "open311.yaml"
    path.write_text(DEFINITIONS, encoding="utf-8")
    settings.OPEN311 = {
        "definition_files": {"tc": str(path)},
        "rate_limit_per_key": (1000, 60),
        "rate_limit_per_ip": (1000, 60),
    }
    settings.LANGUAGE_CODE = "zh-hans"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def app_user(db):
    from cityloop.core.actions import add_user

    return add_user(
        username="fixmystreet_app", password="x", role="citizen", actor=SYSTEM, check_password=False
    )


@pytest.fixture
def api_key(app_user):
    from cityloop.core.actions import create_token

    _, secret = create_token(user=app_user, name="FixMyStreet", scopes=["open311"], actor=SYSTEM)
    return secret


def parse(response):
    """JSON → Python; XML → ElementTree root (checked to be UTF-8 XML with a declaration)."""
    if response["Content-Type"].startswith("application/json"):
        return json.loads(response.content.decode("utf-8"))
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(response.content)


def xml_items(root, item_tag):
    """<root><item><a>1</a>...</item></root> → [{"a": "1", ...}] (nested lists kept as elements)."""
    return [
        {child.tag: (child.text or "") if len(child) == 0 else child for child in item}
        for item in root.findall(item_tag)
    ]


@pytest.fixture
def post(client, city, api_key, tiny_places):
    """POST a request (JSON answer by default) at 丰盛社区 for 停水, with valid attributes."""

    def send(fmt: str = "json", **overrides):
        lon, lat = tiny_places["D1S1C1"]
        data = {
            "api_key": api_key,
            "service_code": "02.01.01",
            "lat": str(lat),
            "long": str(lon),
            "description": "三号楼停水一天了",
            "attribute[FLOOR]": "3",
            "attribute[KIND]": "building",
            "email": "wang@example.org",
            "first_name": "小明",
            "last_name": "王",
            "phone": "13812345678",
            "device_id": "dev-1",
            "account_id": "acct-9",
            "media_url": "https://example.org/p.jpg",
        }
        data.update(overrides)
        data = {k: v for k, v in data.items() if v is not None}
        return client.post(
            f"/open311/v2/requests.{fmt}",
            urlencode(data, doseq=True),
            content_type="application/x-www-form-urlencoded; charset=utf-8",
        )

    return send
