"""The checklist linter: each pattern refused, each rule named with its field; publishing enforces it."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from cityloop.core.actors import SYSTEM
from cityloop.services import actions as services_actions
from cityloop.services import catalogue, rules
from tests.services.conftest import WATER_DEF

LEX = catalogue.lexicon()


def item_with_material(name: str, **material) -> dict:
    data = copy.deepcopy(WATER_DEF)
    data["code"] = "T-1"
    data["materials"].append({"key": "extra", "name": name, "legal_basis": "《某条例》第一条", **material})
    return data


def codes(findings, field=None):
    return {f.code for f in findings if field is None or f.field == field}


VAGUE = [
    ("其他材料", "CL101"),
    ("其他相关材料", "CL101"),
    ("其它申请材料", "CL101"),
    ("Other materials", "CL101"),
    ("other supporting documents", "CL101"),
    ("法律法规要求的其他材料", "CL102"),
    ("法律、行政法规规定的其他文件", "CL102"),
    ("Documents as required by law", "CL102"),
    ("as prescribed by the regulations", "CL102"),
    ("相关材料", "CL103"),
    ("有关证明", "CL103"),
    ("relevant documents", "CL103"),
    ("related materials", "CL103"),
    ("身份证、户口簿等材料", "CL104"),
    ("ID card, lease etc.", "CL104"),
    ("lease, deed and so on", "CL104"),
    ("有关部门要求的证明", "CL105"),
    ("主管部门认为需要提供的材料", "CL105"),
    ("papers as requested by the competent authority", "CL105"),
]


@pytest.mark.parametrize(("text", "code"), VAGUE)
def test_each_vague_material_pattern_is_refused_with_its_rule_and_field(text, code):
    findings = rules.lint_item(item_with_material(text), LEX)
    assert code in codes(findings, "materials.extra.name"), [str(f) for f in findings]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("符合法律、行政法规规定的其他条件", "CL102"),
        ("有关部门要求的其他条件", "CL105"),
        ("meets other requirements set by laws", "CL102"),
    ],
)
def test_vague_acceptance_conditions_are_refused(text, code):
    data = item_with_material("用水设计图")
    data["conditions"].append(text)
    assert code in codes(rules.lint_item(data, LEX), f"conditions[{len(data['conditions']) - 1}]")


def test_the_clean_demo_shaped_item_has_no_findings():
    data = copy.deepcopy(WATER_DEF)
    data["code"] = "T-1"
    assert rules.lint_item(data, LEX) == []


def test_a_material_without_legal_basis_is_refused():
    findings = rules.lint_item(item_with_material("用水设计图", legal_basis=""), LEX)
    assert codes(findings, "materials.extra.legal_basis") == {"CL201"}


def test_an_item_without_an_article_is_refused():
    data = item_with_material("用水设计图")
    data["legal_basis"] = "供水管理有关规定"
    assert codes(rules.lint_item(data, LEX), "legal_basis") == {"CL202"}


@pytest.mark.parametrize("source", ["elicence", "data_sharing"])
def test_asking_to_upload_what_the_government_can_fetch_is_refused(source):
    findings = rules.lint_item(
        item_with_material(
            "不动产权证书", source=source, record_type="property_certificate", upload_required=True
        ),
        LEX,
    )
    assert codes(findings, "materials.extra.upload_required") == {"CL301"}


def test_asking_the_applicant_for_a_registry_record_is_refused():
    findings = rules.lint_item(item_with_material("营业执照副本"), LEX)
    assert codes(findings, "materials.extra.source") == {"CL302"}


def test_a_duplicate_material_name_is_refused():
    findings = rules.lint_item(item_with_material("用水需求说明"), LEX)
    assert codes(findings, "materials.extra.name") == {"CL401"}


def test_two_unconditional_materials_proving_the_same_fact_are_refused():
    findings = rules.lint_item(item_with_material("用水申请书", proves="bundle_form"), LEX)
    assert codes(findings, "materials.extra.proves") == {"CL401"}


def test_the_lexicon_can_be_overridden_by_a_setting(settings, tmp_path):
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        "vague:\n  - {code: X900, rule: local-rule, message: no, patterns: ['用水需求']}\nregistry: {}\n",
        encoding="utf-8",
    )
    settings.CITYLOOP_SERVICES_LEXICON = str(path)
    data = copy.deepcopy(WATER_DEF)
    data["code"] = "T-1"
    assert codes(rules.lint_item(data, catalogue.lexicon())) == {"X900"}


def test_publishing_a_draft_with_findings_is_refused_and_names_the_field(departments):
    data = item_with_material("其他材料")
    data.pop("code")
    item = services_actions.create_item(code="T-1", department=departments["WATER"], data=data, actor=SYSTEM)
    with pytest.raises(ValidationError) as exc:
        services_actions.publish_version(item.draft(), actor=SYSTEM)
    assert "CL101" in " ".join(exc.value.message_dict["materials.extra.name"])
    assert item.current_version() is None


def test_lint_command_exits_non_zero_on_findings_and_zero_when_clean(departments, items, capsys):
    call_command("services", "lint")
    assert "0 findings" in capsys.readouterr().out
    draft = services_actions.start_draft(items["WATER-1"], actor=SYSTEM)
    data = catalogue.editable_dict(draft)
    data["conditions"].append("有关部门要求的其他条件")
    services_actions.update_draft(draft, data, actor=SYSTEM)
    with pytest.raises(CommandError) as exc:
        call_command("services", "lint")
    assert exc.value.returncode == 1
    assert "CL105" in capsys.readouterr().out


def test_a_finding_gives_the_values_its_message_names_so_a_page_can_word_it_in_its_language():
    from django.utils import translation

    from cityloop.services import editor
    from cityloop.services.models import MaterialSource

    material = item_with_material("不动产权证书", source="elicence", upload_required=True)
    (upload,) = [f for f in rules.lint_item(material, LEX) if f.code == "CL301"]
    assert dict(upload.values) == {"source": "elicence"}
    (record,) = [f for f in rules.lint_item(item_with_material("营业执照副本"), LEX) if f.code == "CL302"]
    assert dict(record.values)["record"] in record.message
    (twice,) = [f for f in rules.lint_item(item_with_material("用水需求说明"), LEX) if f.code == "CL401"]
    assert f"materials.{dict(twice.values)['other']}" in twice.message
    with translation.override("zh-hans"):
        _, words = editor.translate_finding(upload, [])
        label = str(dict(MaterialSource.choices)["elicence"])
    assert label in words and "elicence" not in words
