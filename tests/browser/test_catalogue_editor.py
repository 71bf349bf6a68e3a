"""The catalogue editor's structured form in a real browser: no JavaScript, a 390 px phone, both languages."""

from __future__ import annotations

from cityloop.services.models import ServiceItem
from tests.browser.conftest import login, switch_language
from tests.conftest import PERSONA_PASSWORD
from tests.services.conftest import WATER_DEF, publish

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
