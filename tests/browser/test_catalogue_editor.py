"""The catalogue editor's structured form in a real browser: no JavaScript, a 390 px phone, both languages."""

from __future__ import annotations

from cityloop.services.models import ServiceItem
from tests.browser.checks import AXE, AXE_RUN, MEASURE, _check, _untranslated
from tests.browser.conftest import _new_page, login, switch_language
from tests.conftest import PERSONA_PASSWORD
from tests.services.conftest import WATER_DEF, publish
from tests.web.test_every_page_zh import english_msgids

PHONE = {"width": 390, "height": 844}
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def test_an_admin_edits_a_materials_legal_basis_on_a_phone_in_both_languages(page, admin_zhang, city):
    publish("WATER-1", city.departments.get(code="WATER"), WATER_DEF)
    page.set_viewport_size(PHONE)
    login(page, "admin_zhang", PERSONA_PASSWORD)
    page.goto("/services/editor/WATER-1/")
    page.click("button[value=draft]")
    assert page.evaluate(FITS)
    assert not page.locator("#definition").is_visible()  # the YAML box waits, folded, under the form
    # the fifth material is 用水需求说明 (key "demand"); its legal basis sits in its own row
    assert page.input_value("#id_m-4-key") == "demand"
    page.fill("#id_m-4-legal_basis", "《城市供水条例》第二十二条")
    page.locator("#structured button[value=form]").first.click()
    assert "草稿已保存" in page.locator(".messages").inner_text()
    draft = ServiceItem.objects.get(code="WATER-1").draft()
    assert draft.materials.get(key="demand").legal_basis == "《城市供水条例》第二十二条"
    rows = page.locator("#structured fieldset.row").count()
    page.click("button[value=more-materials]")
    assert page.locator("#structured fieldset.row").count() == rows + 2
    assert page.evaluate(FITS)

    switch_language(page, "en")
    assert "Legal basis (law and article)" in page.locator("#m-4").inner_text()
    assert page.evaluate(FITS)


def test_the_editor_with_findings_and_refusals_passes_the_walks_checks(
    chromium, live_server, admin_zhang, city
):
    """The walk reaches the editor of a published item (no draft); this opens the form itself, with a
    finding next to a field and a refused save, and applies the walk's checks: no sideways scroll at
    390 px, nothing untranslated, axe-core's WCAG 2 A/AA rules, in both languages."""
    item = publish("WATER-1", city.departments.get(code="WATER"), WATER_DEF)
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN", viewport=PHONE)
    context.add_init_script(path=str(AXE))
    page = _new_page(context)
    try:
        login(page, "admin_zhang", PERSONA_PASSWORD)
        page.goto("/services/editor/WATER-1/")
        page.click("button[value=draft]")
        page.fill("#id_m-4-legal_basis", "")
        page.locator("#structured button[value=form]").first.click()
        assert item.draft().materials.get(key="demand").legal_basis == ""
        english = english_msgids()
        for language in ("zh-hans", "en"):
            if language == "en":
                switch_language(page, "en")
            problems = _check(page, "/services/editor/WATER-1/", language, english)
            page.fill("#id_item-committed_days", "99")  # above the legal limit: refused by the action
            page.locator("#structured button[value=form]").first.click()
            assert page.locator("#errors a[href='#id_item-committed_days']").count() == 1
            seen = page.evaluate(MEASURE)
            problems += ["refused save: sideways scroll"] if seen["wide"] else []
            if language == "zh-hans":
                problems += _untranslated(seen["texts"], english)
            problems += [f"refused save: axe {v}" for v in page.evaluate(AXE_RUN, None)]
            assert not problems, f"{language}: {problems}"
    finally:
        context.close()
