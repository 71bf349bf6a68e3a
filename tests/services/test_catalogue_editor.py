"""The catalogue editor's structured form (issue 17 part 5): an item's fields, its situations and its
materials edited without JavaScript, saved through ``update_draft`` (validated and audited there), with
the linter's findings and the refusals next to the field they concern, in Chinese and English."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings

from cityloop.core.models import AuditRecord
from cityloop.services import catalogue
from tests.web.test_every_page_zh import english_msgids, visible_text

URL = "/services/editor/WATER-1/"


class _FormReader(HTMLParser):
    """What a browser would post from the structured form: every text field, select and ticked
    checkbox with its current value."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self.inside = False
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "structured":
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.data[a["name"]] = "on"
            elif a.get("type") != "submit":
                self.data[a["name"]] = a.get("value") or ""
        elif tag == "textarea":
            self.textarea = a["name"]
            self.data[self.textarea] = ""
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select:
            self.data.setdefault(self.select, a.get("value", ""))
            if "selected" in a:
                self.data[self.select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None
        elif tag == "form":
            self.inside = False

    def handle_data(self, data):
        if self.textarea and self.inside:
            self.data[self.textarea] += data


def form_of(page: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(page)
    assert "s-TOTAL" in reader.data, "the page has no structured form"
    return dict(reader.data)


def row_of(data: dict[str, str], prefix: str, key: str) -> str:
    """The prefix (``m-3``) of the row whose key field holds ``key``."""
    for name, value in data.items():
        if name.startswith(prefix + "-") and name.endswith("-key") and value == key:
            return name.removesuffix("-key")
    raise AssertionError(f"no row {key}")


def fieldset(page: str, prefix: str) -> str:
    match = re.search(rf'<fieldset id="{prefix}".*?</fieldset>', page, re.S)
    assert match, prefix
    return match.group(0)


@pytest.fixture
def editing(client, persona_password, admin_zhang, items):
    """admin_zhang with a fresh draft of WATER-1 open; the client speaks Chinese."""
    client.login(username="admin_zhang", password=persona_password)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    client.post(URL, {"action": "draft"})
    return items["WATER-1"].draft()


def test_saving_the_form_unchanged_keeps_every_stored_value(client, editing):
    before = catalogue.editable_dict(editing)
    response = client.post(URL, {**form_of(client.get(URL).content.decode()), "action": "form"})
    assert response.status_code == 302
    editing.refresh_from_db()
    assert catalogue.editable_dict(editing) == before


def test_each_situation_lists_the_materials_that_depend_on_its_answers(client, editing):
    page = client.get(URL).content.decode()
    data = form_of(page)
    premises = fieldset(page, row_of(data, "s", "premises"))
    assert "仅在某些答案下才需要的材料" in premises
    assert "«房屋租赁合同»: leased" in premises and "«房屋所有权证明»: owned" in premises
    assert "综合申请表" not in premises  # required whatever the answers


def test_a_materials_legal_basis_changes_through_the_form_and_is_audited(client, editing):
    data = form_of(client.get(URL).content.decode())
    row = row_of(data, "m", "demand")
    data[f"{row}-legal_basis"] = "《城市供水条例》第二十二条"
    response = client.post(URL, {**data, "action": "form"})
    assert response.status_code == 302
    demand = editing.materials.get(key="demand")
    assert demand.legal_basis == "《城市供水条例》第二十二条"
    record = AuditRecord.objects.filter(action="item_version.update").latest("seq")
    after = json.loads(record.summary)["after"]
    assert {m["key"]: m["legal_basis"] for m in after["materials"]}["demand"] == "《城市供水条例》第二十二条"


def test_adding_and_removing_a_situation_and_a_material(client, editing):
    data = form_of(client.get(URL).content.decode())
    materials = int(data["m-TOTAL"])
    page = client.post(URL, {**data, "action": "more-materials"}).content.decode()
    more = form_of(page)
    assert int(more["m-TOTAL"]) > materials  # more blank rows, what was typed kept
    blank = f"m-{int(more['m-TOTAL']) - 1}"
    more.update(
        {
            f"{blank}-key": "meter",
            f"{blank}-name": "水表安装位置图",
            f"{blank}-legal_basis": "《城市供水条例》第二十三条",
            f"{blank}-copies": "2",
        }
    )
    situations = int(more["s-TOTAL"])
    new_situation = f"s-{situations - 1}"  # the blank situation row offered under the stored one
    more.update(
        {
            f"{new_situation}-key": "usage",
            f"{new_situation}-question": "用水性质？",
            f"{new_situation}-options": "home | 居民\nshop | 商业 | Business",
        }
    )
    more[f"{row_of(more, 'm', 'demand')}-remove"] = "on"
    assert client.post(URL, {**more, "action": "form"}).status_code == 302
    stored = catalogue.editable_dict(editing)
    keys = [m["key"] for m in stored["materials"]]
    assert "meter" in keys and "demand" not in keys
    meter = next(m for m in stored["materials"] if m["key"] == "meter")
    assert meter["copies"] == 2 and meter["upload_required"] is True
    assert stored["situations"][-1] == {
        "key": "usage",
        "question": "用水性质？",
        "question_en": "",
        "options": [
            {"value": "home", "label": "居民"},
            {"value": "shop", "label": "商业", "label_en": "Business"},
        ],
    }
    # and remove the situation again
    data = form_of(client.get(URL).content.decode())
    data[f"{row_of(data, 's', 'usage')}-remove"] = "on"
    assert client.post(URL, {**data, "action": "form"}).status_code == 302
    assert [s["key"] for s in catalogue.editable_dict(editing)["situations"]] == ["premises"]


def test_a_bad_value_comes_back_with_what_was_typed_and_an_error_naming_the_field(client, editing):
    before = catalogue.editable_dict(editing)
    data = form_of(client.get(URL).content.decode())
    data["item-name"] = "供水接入（改）"
    data["item-committed_days"] = "两天"
    response = client.post(URL, {**data, "action": "form"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="两天"' in page and 'value="供水接入（改）"' in page
    assert "承诺时限（工作日）: 输入一个数字" in page  # the field's label and Django's rule
    summary = page[page.index('id="errors"') : page.index("</div>", page.index('id="errors"'))]
    assert 'href="#id_item-committed_days"' in summary and "事项 · 承诺时限（工作日）" in summary
    assert catalogue.editable_dict(editing) == before  # nothing saved
    # a rule the action checks (committed within the legal limit) lands next to its field, translated
    data["item-committed_days"] = "30"
    page = client.post(URL, {**data, "action": "form"}).content.decode()
    assert "承诺时限（工作日）: 承诺时限不能超过法定时限" in page
    assert 'value="30"' in page
    # a condition naming an answer the situation does not offer, on the material's row
    row = row_of(data, "m", "lease")
    data["item-committed_days"] = "2"
    data[f"{row}-condition"] = "premises: rented"
    page = client.post(URL, {**data, "action": "form"}).content.decode()
    assert "premises: rented" in fieldset(page, row)
    assert "rented：并非都是情形 premises 的答案" in fieldset(page, row)  # the action's rule, translated
    assert catalogue.editable_dict(editing) == before


def test_findings_appear_next_to_their_field_and_name_no_internal_key(client, editing):
    data = form_of(client.get(URL).content.decode())
    row = row_of(data, "m", "demand")
    data[f"{row}-legal_basis"] = ""
    data[f"{row}-name"] = "用水需求说明等材料"
    assert client.post(URL, {**data, "action": "form"}).status_code == 302
    page = client.get(URL).content.decode()
    own = fieldset(page, row)
    assert "CL201" in own and "CL104" in own  # next to the material's fields
    legal = re.search(
        r'<div class="field[^"]*has-finding[^"]*">\s*<label for="id_' + row + r'-legal_basis"', own
    )
    assert legal, "CL201 is shown next to the legal basis field"
    summary = page[page.index('id="findings"') : page.index("</div>", page.index('id="findings"'))]
    assert "CL201 无法律依据的材料" in summary and f'href="#id_{row}-legal_basis"' in summary
    assert "materials.demand" not in page and "material-without-legal-basis" not in page
    # publishing is refused, in the page's language, and the draft stays a draft
    page = client.post(URL, {"action": "publish"}, follow=True).content.decode()
    assert "未发布：检查发现 2 个问题" in page and "material-without-legal-basis" not in page
    assert editing.item.current_version().number == 1


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-hans", ["情形", "材料", "法律依据（法律及条款）", "高级：以 YAML 编辑整个定义"]),
        (
            "en",
            [
                "Situations",
                "Materials",
                "Legal basis (law and article)",
                "Advanced: edit the whole definition",
            ],
        ),
    ],
)
def test_the_editor_renders_in_both_languages(client, editing, language, words):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(URL).content.decode()
    for word in words:
        assert word in page
    if language == "zh-hans":  # no English phrase of the catalogues left untranslated
        english = english_msgids()
        assert not [run for run in visible_text(page) if run in english]


def test_a_yaml_error_is_translated_and_names_the_line(client, editing):
    text = "name: 供水接入\nlegal_days: 10\n  committed_days: [2\n"
    page = client.post(URL, {"action": "save", "definition": text}).content.decode()
    assert "事项定义（YAML）：第 3 行" in page
    assert '<details id="advanced" open>' in page and "committed_days: [2" in page
