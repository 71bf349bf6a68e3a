"""A unit replies with photos of the finished work; they are shown as such, and a refused reply
attaches nothing."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cityloop.hotline import actions
from cityloop.hotline.models import Attachment, Order, OrderStatus, Status

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, format="PNG")
    return out.getvalue()


def test_the_reply_carries_photos_of_the_finished_work_shown_apart(client, signed, street_chen, citizen_wang):
    client.force_login(street_chen)
    prefix = f"o{signed.pk}-reply"
    answer = client.post(
        f"/hotline/orders/{signed.pk}/reply/",
        {
            f"{prefix}-outcome": "fixed",
            f"{prefix}-text": "杂物已清理",
            f"{prefix}-photos": SimpleUploadedFile("done.png", _png(), content_type="image/png"),
            "send_anyway": "1",
        },
    )
    assert answer.status_code == 302
    assert signed.request.__class__.objects.get(pk=signed.request_id).status == Status.REPLIED
    photo = Attachment.objects.get(request_id=signed.request_id)
    assert photo.stage == "result"
    page = client.get(
        f"/hotline/requests/{signed.request_id}/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert 'data-stage="result"' in page and "办结现场照片" in page


def test_a_refused_reply_attaches_no_photo(client, submit, dispatcher_li, street_chen):
    [order] = actions.accept_suggestion(submit(category="01.01.01"), actor=dispatcher_li)  # not signed yet
    client.force_login(street_chen)
    prefix = f"o{order.pk}-reply"
    answer = client.post(
        f"/hotline/orders/{order.pk}/reply/",
        {
            f"{prefix}-outcome": "fixed",
            f"{prefix}-text": "杂物已清理",
            f"{prefix}-photos": SimpleUploadedFile("done.png", _png(), content_type="image/png"),
        },
    )
    assert answer.status_code == 400  # the action refuses: sign before replying
    assert not Attachment.objects.filter(request_id=order.request_id).exists()  # the photo went with it
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING
