"""The audit page on a 390 px phone: a long nested summary reads as short pairs and its whole record
opens in place, and neither makes the page scroll sideways, in Chinese and in English."""

from __future__ import annotations

from cityloop.core import audit
from cityloop.core.actors import SYSTEM
from tests.browser.conftest import login, switch_language
from tests.conftest import PERSONA_PASSWORD

PHONE = {"width": 390, "height": 844}
FITS = "document.documentElement.scrollWidth <= window.innerWidth"
# On a phone a table scrolls inside itself (display:block), so the page alone would not show a record
# a screen wide: the opened record must wrap within the phone's width too.
WHOLE_FITS = "e => e.getBoundingClientRect().width <= window.innerWidth"


def test_an_auditor_reads_a_long_nested_summary_on_a_phone_in_both_languages(page, auditor_qian):
    after = {"address": "朝阳区双井街道" * 30, "path": "/a-long-path-without-any-space/" + "x" * 300}
    audit.record(SYSTEM, "order.edit", ("order", "7"), before={"address": None}, after=after)
    page.set_viewport_size(PHONE)
    login(page, "auditor_qian", PERSONA_PASSWORD)
    page.goto("/audit/")
    row = page.locator("table.audit tbody tr", has_text="order.edit").first
    assert "after.address" in row.inner_text() and '{"address"' not in row.inner_text()
    assert page.evaluate(FITS)
    row.locator("details.whole summary", has_text="完整记录").click()
    assert "x" * 300 in row.locator("details.whole pre").inner_text()
    assert page.evaluate(FITS) and row.locator("details.whole pre").evaluate(WHOLE_FITS)

    switch_language(page, "en")
    page.goto("/audit/")
    row = page.locator("table.audit tbody tr", has_text="order.edit").first
    row.locator("details.whole summary", has_text="The whole record").click()
    assert "x" * 300 in row.locator("details.whole pre").inner_text()
    assert page.evaluate(FITS) and row.locator("details.whole pre").evaluate(WHOLE_FITS)
