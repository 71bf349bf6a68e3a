"""The photos chosen with a reply the check flags are kept (staged) until the reply is sent: shown as
thumbnails with a box to remove each, attached when the reply is sent anyway or edited, refused to
anyone else, audited, and deleted when never sent."""

from __future__ import annotations

import io
import os
import re
import time
from datetime import UTC, datetime

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.handling import reply_photos
from cityloop.hotline.models import Attachment, Order, OrderStatus
from tests.hotline.handling.replies import GOOD, WEAK

pytestmark = pytest.mark.django_db


def _png(colour="green") -> SimpleUploadedFile:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, format="PNG")
    return SimpleUploadedFile(f"{colour}.png", out.getvalue(), content_type="image/png")


def _post(client, order, text, language="zh-hans", **extra):
    prefix = f"o{order.pk}-reply"
    data = {f"{prefix}-outcome": "resolved", f"{prefix}-text": text}
    data.update({f"{prefix}-{k}" if k in ("photos", "staged", "drop") else k: v for k, v in extra.items()})
    return client.post(f"/hotline/orders/{order.pk}/reply/", data, HTTP_ACCEPT_LANGUAGE=language)


def _tokens(html: str, order) -> list[str]:
    return re.findall(rf'name="o{order.pk}-reply-staged" value="([^"]+)"', html)


def test_a_flagged_reply_keeps_its_photo_and_sending_anyway_attaches_it(client, signed, street_chen):
    client.force_login(street_chen)
    page = _post(client, signed, WEAK, photos=_png())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-flagged="yes"' in html and "为这条答复保留的照片" in html
    assert 'src="data:image/jpeg;base64,' in html and 'data-action="remove-photo"' in html
    [token] = _tokens(html, signed)
    assert not Attachment.objects.filter(request_id=signed.request_id).exists()
    [staged] = reply_photos.load([token], order=signed, actor=street_chen)
    assert default_storage.exists(staged.name)
    assert AuditRecord.objects.filter(action="order.stage_reply_photo", object_id=str(signed.pk)).count() == 1

    assert _post(client, signed, WEAK, staged=token, send_anyway="1").status_code == 302
    assert Order.objects.get(pk=signed.pk).status == OrderStatus.REPLIED
    [photo] = Attachment.objects.filter(request_id=signed.request_id)
    assert photo.stage == "result" and photo.content_type == staged.kind == "png"
    assert not default_storage.exists(staged.name)  # the staged copy is gone once attached
    assert AuditRecord.objects.filter(action="request.attach_photo").count() == 1


def test_an_edited_reply_sends_the_kept_photo_and_a_new_one_chosen_with_it(client, signed, street_chen):
    client.force_login(street_chen)
    [token] = _tokens(_post(client, signed, WEAK, photos=_png()).content.decode(), signed)
    assert _post(client, signed, GOOD, staged=token, photos=_png("red")).status_code == 302
    assert Attachment.objects.filter(request_id=signed.request_id, stage="result").count() == 2


def test_a_photo_ticked_for_removal_is_not_sent_and_is_deleted(client, signed, street_chen):
    client.force_login(street_chen)
    html = _post(client, signed, WEAK, language="en", photos=[_png(), _png("red")]).content.decode()
    assert "Photos kept for this reply" in html and "Remove red.png" in html
    first, second = _tokens(html, signed)
    [gone] = reply_photos.load([second], order=signed, actor=street_chen)
    again = _post(client, signed, WEAK, staged=[first, second], drop=second).content.decode()
    assert _tokens(again, signed) == [first]  # still flagged: back with the one kept
    assert not default_storage.exists(gone.name)
    assert AuditRecord.objects.filter(action="order.remove_reply_photo").count() == 1
    assert _post(client, signed, WEAK, staged=first, send_anyway="1").status_code == 302
    assert Attachment.objects.filter(request_id=signed.request_id).count() == 1


def test_a_kept_photo_is_only_for_the_same_person_on_the_same_order(
    client, signed, street_chen, submit, dispatcher_li
):
    client.force_login(street_chen)
    [token] = _tokens(_post(client, signed, WEAK, photos=_png()).content.decode(), signed)
    other_request = submit(category="01.01.01", description="另一处乱堆乱放")
    [other] = actions.accept_suggestion(other_request, actor=dispatcher_li)
    actions.sign_order(other, actor=street_chen)
    answer = _post(client, other, WEAK, language="en", staged=token, send_anyway="1")
    assert answer.status_code == 400
    assert "A kept photo belongs to another reply: choose it again." in answer.content.decode()
    forged = _post(client, signed, WEAK, language="en", staged=token[:-2] + "xx", send_anyway="1")
    assert forged.status_code == 400 and "has expired or is not valid" in forged.content.decode()
    assert Order.objects.get(pk=other.pk).status == OrderStatus.SIGNED
    assert not Attachment.objects.exists()


def test_a_file_that_is_not_a_photo_is_refused_naming_the_field(client, signed, street_chen):
    client.force_login(street_chen)
    fake = SimpleUploadedFile("done.png", b"not an image at all", content_type="image/png")
    answer = _post(client, signed, WEAK, language="en", photos=fake)
    assert answer.status_code == 400
    assert "done.png: not a JPEG, PNG or WebP image" in answer.content.decode()
    assert not AuditRecord.objects.filter(action="order.stage_reply_photo").exists()


def test_staged_photos_never_sent_are_deleted_after_a_day_on_the_next_staging(client, signed, street_chen):
    client.force_login(street_chen)
    [token] = _tokens(_post(client, signed, WEAK, photos=_png()).content.decode(), signed)
    [old] = reply_photos.load([token], order=signed, actor=street_chen)
    path = default_storage.path(old.name)
    day_and_more = reply_photos.MAX_AGE.total_seconds() + 60
    os.utime(path, (time.time() - day_and_more, time.time() - day_and_more))
    # the test clock is pinned: age the file against the real clock the file system keeps
    assert reply_photos.clean_expired(now=datetime.fromtimestamp(time.time(), tz=UTC)) == 1
    assert not default_storage.exists(old.name)
    assert AuditRecord.objects.filter(action="order.expire_reply_photo").count() == 1
    answer = _post(client, signed, WEAK, language="en", staged=token, send_anyway="1")
    assert answer.status_code == 400 and "has expired or is not valid" in answer.content.decode()
