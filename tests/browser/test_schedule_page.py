"""The schedule page in a real browser, without JavaScript, on a 390 px wide phone, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

from cityloop.core.models import JobRun
from tests.browser.conftest import login, switch_language
from tests.conftest import PERSONA_PASSWORD

PHONE = {"width": 390, "height": 844}


def test_an_admin_reads_the_schedule_on_a_phone_in_both_languages(page, admin_zhang):
    at = datetime(2026, 11, 18, 1, 59, tzinfo=UTC)
    JobRun.objects.create(
        name="notify.deliver",
        slot=at,
        started_at=at,
        finished_at=at,
        ok=False,
        said="SMTPServerDisconnected: /var/lib/cityloop/a-very-long-path-without-any-space-in-it/" + "x" * 80,
    )
    page.set_viewport_size(PHONE)
    login(page, "admin_zhang", PERSONA_PASSWORD)
    page.get_by_role("link", name="定时任务").first.click()
    assert page.url.endswith("/schedule/")
    assert page.locator("h1").inner_text() == "定时任务"
    card = page.locator("#job-notifydeliver")
    assert "失败" in card.inner_text() and "近期失败" in card.inner_text()
    assert "每 5 分钟" in page.locator("#job-brainmaintenance").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    switch_language(page, "en")
    assert page.locator("h1").inner_text() == "Schedule"
    assert "Recent failures" in page.locator("#job-notifydeliver").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
