"""A small catalogue on the tiny test city: two items of 市水务局 (WATER), one of 市城市管理委员会
(CITYMGMT, also the window department), and a bundle of all three with one dependency."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cityloop.core.actors import SYSTEM
from cityloop.services import actions as services_actions
from cityloop.services import clock
from cityloop.services.models import GovRecord, WindowDepartment
from tests.conftest import _add

BEIJING = ZoneInfo("Asia/Shanghai")
# Monday 2025-03-03 09:30 in Beijing: an ordinary working week (no holiday until 清明, 4 April)
MONDAY = dt.datetime(2025, 3, 3, 9, 30, tzinfo=BEIJING)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
HOLDER = "110101199001011234"

IDENTITY = {
    "key": "identity",
    "name": "申请人身份证件",
    "source": "elicence",
    "record_type": "id_card",
    "upload_required": False,
    "legal_basis": "《中华人民共和国居民身份证法》第十四条",
    "proves": "holder_identity",
}
FORM = {
    "key": "form",
    "name": "综合申请表",
    "legal_basis": "《优化营商环境条例》第三十五条",
    "proves": "bundle_form",
}


def definition(name: str, materials: list[dict], **extra) -> dict:
    return {
        "name": name,
        "legal_basis": "《城市供水条例》第二十一条",
        "conditions": ["用水地址在供水管网覆盖范围内"],
        "legal_days": 10,
        "committed_days": 2,
        "visits": 0,
        "materials": materials,
        **extra,
    }


WATER_DEF = definition(
    "供水接入",
    [
        FORM,
        IDENTITY,
        {
            "key": "lease",
            "name": "房屋租赁合同",
            "necessity": "conditional",
            "condition": {"premises": ["leased"]},
            "legal_basis": "《中华人民共和国民法典》第七百零七条",
            "proves": "premises",
        },
        {
            "key": "owned",
            "name": "房屋所有权证明",
            "necessity": "conditional",
            "condition": {"premises": ["owned"]},
            "source": "data_sharing",
            "record_type": "property_certificate",
            "upload_required": False,
            "legal_basis": "《不动产登记暂行条例》第二十七条",
            "proves": "premises",
        },
        {"key": "demand", "name": "用水需求说明", "legal_basis": "《城市供水条例》第二十一条"},
    ],
    situations=[
        {
            "key": "premises",
            "question": "房屋是？",
            "options": [{"value": "owned", "label": "自有"}, {"value": "leased", "label": "租赁"}],
        }
    ],
    result_title="供水接入通知书",
)
DRAIN_DEF = definition(
    "排水接入",
    [
        FORM,
        IDENTITY,
        {
            "key": "lease",
            "name": "房屋租赁合同（排水）",
            "necessity": "conditional",
            "condition": {"premises": ["leased"]},
            "legal_basis": "《中华人民共和国民法典》第七百零七条",
            "proves": "premises",
        },
        {"key": "plan", "name": "排水设施图", "legal_basis": "《城镇排水与污水处理条例》第二十一条"},
    ],
    situations=[
        {
            "key": "premises",
            "question": "房屋是？",
            "options": [{"value": "owned", "label": "自有"}, {"value": "leased", "label": "租赁"}],
        }
    ],
    committed_days=1,
)
SIGN_DEF = definition(
    "户外招牌设置",
    [
        FORM,
        IDENTITY,
        {
            "key": "safety",
            "name": "招牌安全承诺书",
            "source": "commitment",
            "upload_required": False,
            "legal_basis": "《北京市户外广告设施、牌匾标识和标语宣传品设置管理条例》第二十条",
        },
    ],
    committed_days=0.5,
    legal_days=5,
)


@pytest.fixture
def citizen_wang(db):
    """王小明, whose identity a window clerk has verified (HOLDER): he applies online as that holder."""
    user = _add("citizen_wang", "citizen", "王小明")
    user.id_number = HOLDER
    user.save(update_fields=["id_number"])
    return user


@pytest.fixture
def departments(city):
    return {d.code: d for d in city.departments.all()}


@pytest.fixture
def clerk_liu(departments):
    WindowDepartment.objects.create(department=departments["CITYMGMT"])
    return _add("clerk_liu", "department", "刘窗口", department=departments["CITYMGMT"])


@pytest.fixture
def housing_he(departments):
    return _add("housing_he", "department", "何住建", department=departments["D1HOUSING"])


def publish(code, department, data):
    item = services_actions.create_item(code=code, department=department, data=data, actor=SYSTEM)
    services_actions.publish_version(item.draft(), actor=SYSTEM)
    return item


@pytest.fixture
def items(departments):
    with clock.frozen(MONDAY - dt.timedelta(days=7)):
        return {
            "WATER-1": publish("WATER-1", departments["WATER"], WATER_DEF),
            "WATER-2": publish("WATER-2", departments["WATER"], DRAIN_DEF),
            "SIGN-1": publish("SIGN-1", departments["D1HOUSING"], SIGN_DEF),
        }


@pytest.fixture
def bundle(items):
    return services_actions.create_bundle(
        code="OPEN-SHOP",
        name="开店一件事",
        actor=SYSTEM,
        members=[(items["WATER-1"], []), (items["WATER-2"], ["WATER-1"]), (items["SIGN-1"], [])],
    )


@pytest.fixture
def records(db):
    GovRecord.objects.create(
        holder_id=HOLDER, record_type="id_card", title="居民身份证", issuer="公安局", data={"name": "王小明"}
    )
    GovRecord.objects.create(
        holder_id=HOLDER,
        record_type="property_certificate",
        title="不动产权证书",
        issuer="规划自然资源委",
        data={"number": "京(2021)0012345"},
    )


@pytest.fixture
def monday():
    with clock.frozen(MONDAY):
        yield MONDAY
