"""The classifier's page in a real browser, without JavaScript, on a 390 px wide phone, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

from cityloop.hotline.models import ClassifierRun
from tests.browser.conftest import login, switch_language
from tests.conftest import PERSONA_PASSWORD

PHONE = {"width": 390, "height": 844}


def test_an_admin_reads_the_classifier_history_on_a_phone_in_both_languages(page, admin_zhang):
    at = datetime(2026, 11, 16, 19, 0, tzinfo=UTC)
    ClassifierRun.objects.create(
        started_at=at,
        finished_at=at,
        trigger="schedule",
        base_csv="/var/lib/cityloop/a-very-long-path-without-any-space-in-it/" + "x" * 80 + ".csv",
        base_rows=298,
        train_rows=237,
        heldout_rows=61,
        candidate_accuracy=0.8033,
        candidate_macro_f1=0.8110,
        current_accuracy=0.8033,
        current_macro_f1=0.8110,
        reason="accuracy 0.8033 is not higher than the current model's 0.8033",
    )
    page.set_viewport_size(PHONE)
    login(page, "admin_zhang", PERSONA_PASSWORD)
    page.get_by_role("link", name="分类器").first.click()
    assert page.url.endswith("/hotline/classifier/")
    assert page.locator("h1").inner_text() == "类别分类器"
    assert "不高于当前模型的 0.8033" in page.locator("#runs").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    switch_language(page, "en")
    assert page.locator("h1").inner_text() == "The category classifier"
    assert "not higher than the current model's 0.8033" in page.locator("#runs").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
