"""A unit's 办结 reply with a photo, flagged by the reply check, in a real browser with JavaScript off:
the photo chosen with it comes back as a kept thumbnail (it is not chosen again), and sending the
reply anyway attaches it as a photo of the finished work."""

from __future__ import annotations

import io

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from cityloop.hotline.models import Attachment, Channel, OrderStatus
from tests.browser.conftest import login
from tests.conftest import PERSONA_PASSWORD


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (60, 160, 60)).save(out, format="JPEG")
    return out.getvalue()


def test_the_photo_of_a_flagged_reply_survives_the_check_and_is_sent(
    page, city, tiny_places, dispatcher_li, street_chen
):
    lon, lat = tiny_places["D1S1C1"]
    request, _ = actions.submit_request(
        Submission(
            description="家门口乱堆乱放的杂物没人清理",
            caller_name="王小明",
            caller_phone="13812345678",
            lon=lon,
            lat=lat,
            category_code="01.01.01",
        ),
        city=city,
        channel=Channel.PHONE,
        actor=SYSTEM,
    )
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=street_chen)

    login(page, "street_chen", PERSONA_PASSWORD)
    page.goto(f"/hotline/requests/{request.pk}/")
    page.locator("details:has(form[data-form=reply]) summary").click()
    reply = page.locator("form[data-form=reply]")
    reply.locator("select").select_option("resolved")
    reply.locator("textarea").fill("已处理")
    reply.locator("input[type=file]").set_input_files(
        files=[{"name": "cleared.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}]
    )
    reply.locator("button[type=submit]").click()

    # flagged: back with the reasons, and the photo kept as a thumbnail (the file input is empty again)
    reply = page.locator("form[data-form=reply]")
    assert reply.locator(".reply-check").get_attribute("data-flagged") == "yes"
    kept = reply.locator("img[data-staged-photo='cleared.jpg']")
    assert kept.is_visible()
    assert (kept.get_attribute("src") or "").startswith("data:image/jpeg;base64,")
    assert "为这条答复保留的照片" in reply.inner_text()
    assert not Attachment.objects.filter(request=request).exists()

    reply.locator("button[data-action=send-anyway]").click()
    assert "已答复市民" in page.locator(".messages").inner_text()
    order.refresh_from_db()
    assert order.status == OrderStatus.REPLIED
    [photo] = Attachment.objects.filter(request=request)
    assert photo.stage == "result"
    assert page.locator("[data-stage='result'] img").count() == 1
