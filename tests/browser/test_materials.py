"""The window clerk and an approver read every material inline: the photo as an image, the PDF embedded,
a record fetched from the registry as its data; at 1366 px and on a 390 px phone, in Chinese and English,
with JavaScript off."""

from __future__ import annotations

import io

import pytest

from cityloop.services import demo as services_demo
from tests.browser.conftest import _new_page, login

OVERSIZED = (1600, 1200)  # wider than any screen: the page must scale it, not scroll


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", OVERSIZED, (200, 60, 40)).save(out, format="PNG")
    return out.getvalue()


def _pdf() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "CityLoop material")
    page.save()
    return out.getvalue()


@pytest.fixture
def submitted(demo_database):
    """citizen_wang's application with a photo and PDFs uploaded and a record fetched, at the window."""
    demo_database("beijing", extensions=[services_demo.load])
    from cityloop.core import queries as core_queries
    from cityloop.services import actions, queries
    from cityloop.services.models import Bundle

    citizen = core_queries.user_named("citizen_wang")
    app = actions.start_application(
        applicant=citizen,
        holder_name=citizen.full_name,
        holder_id=citizen.id_number,
        bundle=Bundle.objects.get(code="START-BUSINESS"),
        actor=citizen,
    )
    situations = queries.situations_of(app)
    if situations:
        actions.answer_situations(app, {s.key: s.options[0]["value"] for s in situations}, actor=citizen)
    actions.fetch_records(app, consent=True, actor=citizen)
    photo, pdf = _png(), _pdf()
    for n, need in enumerate(queries.outstanding_of(app)):
        if need.commitment and n:
            actions.sign_commitment(app, need.key, actor=citizen)
        elif n == 0:
            actions.upload_material(app, need.key, filename="photo.png", content=photo, actor=citizen)
        else:
            actions.upload_material(app, need.key, filename=f"{need.key}.pdf", content=pdf, actor=citizen)
    actions.submit_application(app, actor=citizen)
    assert app.uploads.filter(content_type="image/png").exists()
    assert app.uploads.filter(content_type="application/pdf").exists()
    assert app.fetched
    return app


def _context(chromium, live_server, locale: str, width: int):
    return chromium.new_context(
        base_url=live_server.url,
        locale=locale,
        viewport={"width": width, "height": 900},
        java_script_enabled=False,
        extra_http_headers={"Accept-Language": locale},
    )


def _sees_every_material_inline(page, scope: str) -> None:
    images = page.locator(f"{scope} .material[data-kind=image] img")
    assert images.count() >= 1
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()
        page.wait_for_function("(img) => img.complete", arg=image.element_handle())
        width = image.evaluate("img => img.naturalWidth")
        assert width == OVERSIZED[0], "the photo did not load"
        # scaled to its box, opened full size by a tap on it
        assert image.evaluate("img => img.getBoundingClientRect().width") <= page.viewport_size["width"]
        assert image.evaluate("img => img.closest('a').getAttribute('href')") == image.get_attribute("src")
    pdfs = page.locator(f"{scope} .material[data-kind=pdf] object[type='application/pdf']")
    assert pdfs.count() >= 1
    for i in range(pdfs.count()):
        pdf = pdfs.nth(i)
        assert pdf.evaluate("o => o.getBoundingClientRect().height") > 200
        # the embed became a frame in which Chromium's PDF viewer runs (refused framing leaves none)
        url = pdf.get_attribute("data")
        for _ in range(50):
            if _pdf_viewer_in(page, url):
                break
            page.wait_for_timeout(100)
        assert _pdf_viewer_in(page, url), [f.url for f in page.frames]
        # the same protected URL the browser fetches for the embed answers with the PDF, framable by us
        answer = page.request.get(pdf.get_attribute("data"))
        assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
        assert answer.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
    assert page.locator(f"{scope} .material[data-kind=record] dl dd").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _pdf_viewer_in(page, url: str) -> bool:
    return any(
        frame.url.endswith(url) and any(c.url.startswith("chrome-extension://") for c in frame.child_frames)
        for frame in page.frames
    )


@pytest.mark.parametrize(("locale", "width"), [("zh-CN", 1366), ("en", 390)])
def test_the_clerk_and_an_approver_see_the_photo_and_the_pdf_inline(
    chromium, live_server, submitted, locale, width
):
    context = _context(chromium, live_server, locale, width)
    page = _new_page(context)
    pdf_loads: list[str] = []
    page.on(
        "response",
        lambda r: (
            pdf_loads.append(r.url)
            if r.headers.get("content-type") == "application/pdf" and r.request.resource_type != "fetch"
            else None
        ),
    )
    login(page, "window_liu")
    page.goto("/services/window/")
    page.click(f"text={submitted.number}")
    _sees_every_material_inline(page, "#materials-view")
    assert page.locator("#accept").count() == 1  # accepted on the page where the materials are read
    page.click("#accept")
    assert page.locator("h1").get_attribute("data-status") == "accepted"
    page.click("form[action='/logout/'] button")

    task = submitted.tasks.select_related("department").first()
    approver = type(submitted.applicant).objects.filter(department=task.department, role="department").first()
    login(page, approver.username)
    page.goto("/services/tasks/")
    card = f"#task-{task.pk}"
    _sees_every_material_inline(page, card)
    # the approve button sits below the materials on the same card
    materials_bottom = page.locator(f"{card} .task-materials").evaluate(
        "e => e.getBoundingClientRect().bottom"
    )
    assert (
        page.locator(f"{card} button.approve").evaluate("b => b.getBoundingClientRect().top")
        > materials_bottom
    )
    assert pdf_loads, "no PDF was loaded into the page"
    page.locator(f"{card} button.approve").click()
    assert page.locator(".messages li.success").count() == 1
    context.close()
