"""The business start-up bundle in a browser without JavaScript: apply, accept, approve, verify the result."""

from __future__ import annotations

import importlib.util

import pytest

from cityloop.services import demo as services_demo
from tests.browser.conftest import login

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
APPROVERS = ["approver_market", "approver_police", "approver_tax", "approver_social", "approver_tax"]


@pytest.fixture
def beijing(demo_database):
    # only this pillar's demo data is needed: the Beijing city, the personas and the catalogue
    demo_database("beijing", extensions=[services_demo.load])


def logout(page):
    page.click("form[action='/logout/'] button")


def test_a_citizen_starts_a_business_in_one_application_and_verifies_the_licence(page, beijing, tmp_path):
    login(page, "citizen_wang")
    page.goto("/services/")
    page.click("text=开办企业一件事")
    # the holder is the identity the window verified, not a number typed into a box (issue 11 #4)
    assert page.locator("#holder_id").count() == 0
    assert "您将以已核验的身份申请" in page.inner_text("main") and "王小明 (110…34)" in page.inner_text(
        "main"
    )
    page.click("button[name=apply]")
    assert page.locator("h1").get_attribute("data-status") == "draft"
    page.check("input[name='answers.premises'][value=owned]")
    page.check("input[name='answers.investor'][value=no]")
    page.check("input[name='answers.invoice'][value=yes]")
    page.click("#situations button[type=submit]")
    assert page.locator("#materials").count() == 1
    consent = page.locator("#consent").inner_text()
    assert (
        "房屋所有权证明" in consent and "不动产权证书" not in consent
    )  # nothing held is shown before consent
    page.check("#consent input[name=consent]")
    page.click("#consent button[type=submit]")
    assert "不动产权证书" in page.inner_text("main")  # fetched once the applicant consented
    page.click("form[action$='/commit/'] button")
    pdf = tmp_path / "material.pdf"
    pdf.write_bytes(PDF)
    for _ in range(6):  # the articles, the bank account, the staff list, the form: each asked once
        if not page.locator("#materials .error").count():
            break
        row = page.locator("#materials tr", has=page.locator(".error")).first
        row.locator("input[type=file]").set_input_files(str(pdf))
        row.locator("form[enctype] button").click()
        assert page.locator(".messages li.success").count() == 1, page.locator(".messages").inner_text()
    page.click("#submit-application")
    assert page.locator("h1").get_attribute("data-status") == "submitted"
    number = page.locator("h1 small").inner_text()
    logout(page)

    login(page, "window_liu")
    page.goto("/services/window/")
    page.click(f"text={number}")
    page.click("#accept")
    assert page.locator("h1").get_attribute("data-status") == "accepted"
    logout(page)

    for username in APPROVERS:
        login(page, username)
        page.goto("/services/tasks/")
        # the demo city's own applications wait at some desks too: approve this application's task
        page.locator("article.task", has=page.locator(f"a:text-is('{number}')")).locator(
            "button.approve"
        ).first.click()
        assert page.locator(".messages li").first.inner_text()
        logout(page)

    login(page, "citizen_wang")
    page.goto(f"/services/applications/{number}/")
    assert page.locator("h1").get_attribute("data-status") == "delivered"
    results = page.locator("#results li")
    assert results.count() == 5
    assert "营业执照" in page.locator("#results").inner_text()
    if importlib.util.find_spec("cityloop.seal") is None:
        return
    page.locator("#results li", has_text="营业执照").locator("a").first.click()
    payload = page.locator("#seal-payload").inner_text()
    page.goto("/seal/verify/")
    page.fill("textarea[name=payload]", payload)
    page.click("main form button[type=submit]")
    assert page.locator("[data-result]").get_attribute("data-result") == "valid"
