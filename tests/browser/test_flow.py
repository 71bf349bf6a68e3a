"""Issue 17's Done-when: one request walked through every role in a real browser, JavaScript on, with
the walk's checks (tests/browser/checks.py: sideways scroll, untranslated text, broken images, axe-core)
run on every page the walk lands on. The citizen reports on a phone (390 px): home → 我要反映 → a point
on the map → 诉求类型 → a category found by typing → a photo; tracks it and sees the photo's thumbnail.
Staff on a desk screen (1366 px): the dispatcher sends it, the unit replies with a photo of the finished
work; then the citizen rates it. In Chinese, and the citizen's part again in English.
"""

from __future__ import annotations

import io
import re

import pytest

from cityloop.hotline.models import Request
from tests.browser.checks import AXE, check_page
from tests.browser.conftest import _new_page, login, switch_language
from tests.conftest import PERSONA_PASSWORD
from tests.hotline.texts import texted_code
from tests.web.test_every_page_zh import english_msgids

PHONE, DESK = 390, 1366


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, format="JPEG")
    return out.getvalue()


class Walk:
    """One person's browser at one width; ``checked()`` runs the checks on the page as it is now."""

    def __init__(self, chromium, live_server, width: int, language: str, english: set[str]):
        self.context = chromium.new_context(
            base_url=live_server.url, locale="zh-CN", viewport={"width": width, "height": 844}
        )
        self.context.add_init_script(path=str(AXE))
        self.page = _new_page(self.context)
        self.width, self.language, self.english = width, language, english
        self.problems: list[str] = []
        if language != "zh-hans":
            self.page.goto("/")
            switch_language(self.page, language)

    def checked(self, step: str):
        self.problems += [
            f"{self.width}px {self.language} {step} {self.page.url}: {p}"
            for p in check_page(self.page, self.language, self.english)
        ]
        return self.page

    def close(self) -> list[str]:
        self.context.close()
        return self.problems


def _thumbnails_load(page) -> None:
    """Lazy thumbnails load once seen: scroll to them, then every one must have decoded."""
    thumbnails = page.locator("p.photos img")
    assert thumbnails.count() > 0
    for i in range(thumbnails.count()):
        thumbnails.nth(i).scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('p.photos img')].every(i => i.complete)")
    widths = thumbnails.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert all(w > 0 for w in widths), widths


def _citizen_reports(walk: Walk, description: str) -> tuple[str, str]:
    page = walk.page
    page.goto("/")
    walk.checked("home")
    page.locator("main a[href='/hotline/submit/']").first.click()
    page.locator("[data-map-picker]").wait_for(state="visible")
    page.locator("path.street-D1S1").wait_for(state="attached")
    walk.checked("submit")
    page.check("input[name=kind][value=complaint]")
    finder = page.locator("input[data-typeahead-for=category]")
    finder.fill("停水" if walk.language == "zh-hans" else "02.01.01")
    assert page.input_value("#id_category") == "02.01.01"
    page.locator("path.street-D1S1").click()  # the map picker fills the point and the street
    assert page.input_value("#id_street") == "D1S1" and page.input_value("#id_lon")
    page.fill("#id_description", description)
    page.fill("#id_caller_phone", "13812345678")
    page.set_input_files(
        "#id_photos", files=[{"name": "pipe.jpg", "mimeType": "image/jpeg", "buffer": _jpeg((40, 90, 160))}]
    )
    page.click("main form button[data-submit]")
    number = page.locator("[data-tracking-no]").get_attribute("data-tracking-no")
    code = page.locator("[data-access-code]").get_attribute("data-access-code")
    assert number and code, page.locator("main").inner_text()
    walk.checked("submitted")
    # tracking: the status page, the photo's thumbnail loaded
    page.locator(f"main a[href$='/{number}/']").click()
    _thumbnails_load(page)
    walk.checked("status")
    request = Request.objects.get(tracking_no=number)
    assert (request.kind, request.category.code, request.street.code) == ("complaint", "02.01.01", "D1S1")
    assert request.attachments.count() == 1
    return number, code


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_whole_flow_at_phone_and_desk_widths_is_clean(
    chromium, live_server, city, dispatcher_li, dept_water_zhao, language
):
    english = english_msgids()
    walks: list[Walk] = []

    def walk(width: int) -> Walk:
        walks.append(Walk(chromium, live_server, width, language, english))
        return walks[-1]

    try:
        citizen = walk(PHONE)
        number, _code = _citizen_reports(citizen, "楼里停水了，水管在漏")

        if language == "zh-hans":  # staff, in Chinese: the dispatcher sends it, the unit replies
            dispatcher = walk(DESK)
            page = dispatcher.page
            login(page, "dispatcher_li", PERSONA_PASSWORD)
            page.goto("/hotline/dispatch/")
            row = page.locator(f"tr[data-request='{number}']")
            dispatcher.checked("queue")
            assert "市水务局" in row.inner_text()
            row.locator("button[name=accept]").click()
            assert f"{number} 已派往 市水务局" in page.locator(".messages").inner_text()

            unit = walk(DESK)
            page = unit.page
            login(page, "dept_water_zhao", PERSONA_PASSWORD)
            page.goto("/hotline/inbox/")
            unit.checked("inbox")
            page.locator(f"tr[data-request='{number}'] button[data-action=sign]").click()
            unit.checked("signed")
            page.locator("details:has(form[data-form=reply]) summary").click()
            reply = page.locator("form[data-form=reply]")
            reply.locator("select").select_option("resolved")
            reply.locator("textarea").fill(
                "经现场核实，因小区老化水管破裂导致停水。市水务局已于11月18日更换水管，当天恢复供水，请您放心使用。"
            )
            reply.locator("input[type=file]").set_input_files(
                files=[{"name": "fixed.jpg", "mimeType": "image/jpeg", "buffer": _jpeg((60, 160, 60))}]
            )
            reply.locator("button[type=submit]").click()
            # a reply that names the unit, the time and the reason passes the quality check at once
            assert "已答复市民" in page.locator(".messages").inner_text()
            unit.checked("replied")

            # the citizen, back on the phone, sees both photos and rates it
            page = citizen.page
            page.reload()
            _thumbnails_load(page)
            assert page.locator("p.photos[data-stage=result] img").count() == 1
            citizen.checked("status, replied")
            page.fill("#id_code", texted_code(number, "rating_link"))
            page.check("input[name=resolved][value=yes]")
            page.check("input[name=satisfaction][value=satisfied]")
            page.fill("#id_comment", "修得很快，谢谢")
            page.click("#rate button[type=submit]")
            assert page.locator("[data-status]").get_attribute("data-status") == "closed"
            citizen.checked("rated")
            assert Request.objects.get(tracking_no=number).satisfaction == "satisfied"
    finally:
        problems = [p for w in walks for p in w.close()]
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


# Error pages: (how the visitor gets there, the status). The 400 is Django's own refusal of a form with
# more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS (a SuspiciousOperation), sent from the login page; the
# 500 comes from a test-only URL (tests/browser/urls_raising.py), never from the product's URLs.
TOO_MANY_FIELDS = """() => {
  const form = document.querySelector('main form');
  for (let i = 0; i < 1100; i++) {
    const field = document.createElement('input');
    field.type = 'hidden'; field.name = 'f' + i; field.value = '1';
    form.appendChild(field);
  }
  form.submit();
}"""


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_error_pages_are_translated_in_the_sites_style_and_pass_axe(
    chromium, live_server, settings, citizen_wang, language
):
    settings.ROOT_URLCONF = "tests.browser.urls_raising"
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    citizen = Walk(chromium, live_server, PHONE, language, english_msgids())
    page = citizen.page
    seen = {}
    try:
        for status, reach in [
            (404, lambda: page.goto("/no-such-page/")),
            (500, lambda: page.goto("/test-only/raises/")),
            (400, lambda: (page.goto("/login/"), page.evaluate(TOO_MANY_FIELDS), page.wait_for_load_state())),
            (403, lambda: (login(page, "citizen_wang", PERSONA_PASSWORD), page.goto("/hotline/dispatch/"))),
        ]:
            reach()
            seen[status] = page.locator("[data-error]").get_attribute("data-error")
            assert page.locator("header").count() == 1, f"{status}: the site's header is missing"
            assert page.locator("link[rel=stylesheet]").count() > 0, f"{status}: no style sheet"
            citizen.checked(f"error {status}")
            if language != "zh-hans":
                assert page.locator("html").get_attribute("lang") == "en"
                assert not re.search(r"[\u4e00-\u9fff]", page.locator("main h1").inner_text()), status
    finally:
        problems = citizen.close()
    assert seen == {404: "404", 500: "500", 400: "400", 403: "403"}
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
