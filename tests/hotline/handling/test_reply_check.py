"""答复意见质量 on the unit's reply form: two plain POSTs (check, then send anyway or edit), the score kept
with the reply and audited, and shown to staff on the request page."""

from __future__ import annotations

import json

import pytest

from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.models import Order, OrderStatus, Status
from tests.hotline.handling.replies import GOOD, WEAK

pytestmark = pytest.mark.django_db


def _post(client, order, text, **extra):
    prefix = f"o{order.pk}-reply"
    data = {f"{prefix}-outcome": "resolved", f"{prefix}-text": text, **extra}
    return client.post(f"/hotline/orders/{order.pk}/reply/", data, HTTP_ACCEPT_LANGUAGE="zh-hans")


def test_a_flagged_reply_comes_back_with_its_reasons_and_is_not_sent(client, signed, street_chen):
    client.force_login(street_chen)
    page = _post(client, signed, WEAK)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-flagged="yes"' in html and "答复检查" in html
    assert "没有说明" in html or "没有写明" in html  # the reasons, in the page's language
    assert 'name="send_anyway" value="1"' in html and "再次检查" in html
    assert f'name="o{signed.pk}-reply-text"' in html and WEAK in html  # the text is kept for editing
    order = Order.objects.get(pk=signed.pk)
    assert order.status == OrderStatus.SIGNED and order.reply == "" and order.reply_quality is None
    assert not AuditRecord.objects.filter(action="order.reply").exists()


def test_send_anyway_sends_it_and_records_the_score_and_the_choice(client, signed, street_chen):
    client.force_login(street_chen)
    answer = _post(client, signed, WEAK, send_anyway="1")
    assert answer.status_code == 302
    order = Order.objects.get(pk=signed.pk)
    assert order.status == OrderStatus.REPLIED and order.request.status == Status.REPLIED
    assert order.reply_quality["flagged"] is True and order.reply_quality["version"] == 1
    record = AuditRecord.objects.get(action="order.reply", object_id=str(order.pk))
    summary = json.loads(record.summary)
    assert summary["sent_anyway"] is True and summary["flagged"] is True
    assert summary["quality"] == order.reply_quality["overall"]
    assert "no_basis" in summary["problems"]


def test_a_good_reply_goes_straight_through_and_staff_see_its_score(
    client, signed, street_chen, dispatcher_li
):
    client.force_login(street_chen)
    assert _post(client, signed, GOOD).status_code == 302
    order = Order.objects.get(pk=signed.pk)
    assert order.status == OrderStatus.REPLIED
    assert order.reply_quality["flagged"] is False
    summary = json.loads(AuditRecord.objects.get(action="order.reply", object_id=str(order.pk)).summary)
    assert summary["sent_anyway"] is False
    client.force_login(dispatcher_li)
    page = client.get(f"/hotline/requests/{order.request_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-flagged="no"' in page and "Reply quality" in page
    assert 'data-dimension="relevance" data-ok="yes"' in page
    assert "It gives a reason but cites no rule or document." in page


def test_an_edited_reply_is_checked_again(client, signed, street_chen):
    client.force_login(street_chen)
    assert _post(client, signed, WEAK).status_code == 200
    assert _post(client, signed, GOOD).status_code == 302  # the improved text passes the check
    assert Order.objects.get(pk=signed.pk).reply == GOOD


def test_a_reply_through_the_api_action_is_scored_too(signed, street_chen):
    actions.reply_order(signed, outcome="resolved", text=WEAK, actor=street_chen)
    order = Order.objects.get(pk=signed.pk)
    assert order.reply_quality["flagged"] is True
    assert order.reply_quality["scores"]["timeliness"] == 1.0  # sent before the finish limit
