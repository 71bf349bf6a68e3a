"""A certificate page links to the public verify page, which says valid — and, once revoked, why not."""

from __future__ import annotations

from cityloop.core.actors import SYSTEM
from cityloop.seal import actions
from tests.browser.conftest import login
from tests.conftest import PERSONA_PASSWORD


def test_a_certificate_verifies_on_the_public_page_until_it_is_revoked(
    page, admin_zhang, tmp_path, monkeypatch
):
    monkeypatch.setenv("CITYLOOP_KEY_DIR", str(tmp_path / "keys"))
    cert = actions.issue_certificate(
        issuer_department=None,
        holder_name="王小明",
        holder_id="110101199001011234",
        title="营业执照",
        fields={"名称": "小明餐饮有限公司"},
        source_ref="services.application:1",
        actor=SYSTEM,
    )
    login(page, "admin_zhang", PERSONA_PASSWORD)
    page.goto(cert.get_absolute_url())
    assert page.locator("h1").inner_text() == "营业执照"
    assert page.locator(".seal-qr svg").count() == 1
    payload = page.locator("#seal-payload").inner_text()

    page.click("#verify-link")
    assert page.url.endswith("/seal/verify/")
    page.fill("#id_payload", payload)
    page.click("main form button[type=submit]")
    result = page.locator(".seal-result")
    assert result.get_attribute("data-result") == "valid"
    assert "证照有效" in result.inner_text()
    assert cert.serial in result.inner_text()

    page.goto(cert.get_absolute_url())
    page.fill("#id_reason", "营业执照已注销")
    page.click("form[action$='/revoke/'] button[type=submit]")
    assert "营业执照已注销" in page.locator(".seal-revoked").inner_text()

    page.click("#verify-link")
    page.fill("#id_payload", payload)
    page.click("main form button[type=submit]")
    result = page.locator(".seal-result")
    assert result.get_attribute("data-result") == "invalid"
    assert "已于" in result.inner_text() and "撤销：营业执照已注销" in result.inner_text()
