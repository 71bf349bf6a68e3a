"""The dispatcher orders the queue three ways: oldest first, urgent first, overdue (soonest due) first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cityloop.hotline import queries
from cityloop.hotline.models import Request
from cityloop.org.models import Department

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(submit):
    old, urgent, late = submit(), submit(urgency="urgent"), submit()
    now = timezone.now()
    Request.objects.filter(pk=old.pk).update(
        created_at=now - timedelta(hours=5), response_due=now + timedelta(hours=9)
    )
    Request.objects.filter(pk=urgent.pk).update(
        created_at=now - timedelta(hours=1), response_due=now + timedelta(hours=1)
    )
    Request.objects.filter(pk=late.pk).update(
        created_at=now - timedelta(hours=3), response_due=now - timedelta(hours=2)
    )
    return old, urgent, late


def test_each_order_puts_the_right_request_first(city, three):
    old, urgent, late = three
    numbers = {o: [r.pk for r in queries.dispatch_queue(city, order=o)] for o in queries.QUEUE_ORDERS}
    assert numbers["oldest"] == [old.pk, late.pk, urgent.pk]
    assert numbers["urgent"] == [urgent.pk, late.pk, old.pk]
    assert numbers["due"] == [late.pk, urgent.pk, old.pk]


def test_the_queue_page_offers_the_orders_and_ignores_an_unknown_one(client, city, three, dispatcher_li):
    old, urgent, late = three
    client.force_login(dispatcher_li)
    page = client.get("/hotline/dispatch/?order=due", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "超时优先" in page and page.index(late.tracking_no) < page.index(old.tracking_no)
    page = client.get("/hotline/dispatch/?order=nonsense").content.decode()
    assert page.index(old.tracking_no) < page.index(urgent.tracking_no)


def test_the_first_suggestion_answers_the_keyboard_and_accepting_keeps_the_order(
    client, city, three, dispatcher_li
):
    old, urgent, late = three
    client.force_login(dispatcher_li)
    page = client.get("/hotline/dispatch/?order=urgent").content.decode()
    assert page.count('accesskey="a"') == 1
    assert page.index('accesskey="a"') > page.index(urgent.tracking_no)  # on the first row, the urgent one
    answer = client.post("/hotline/dispatch/", {"accept": urgent.pk, "order": "urgent"})
    assert answer.status_code == 302 and answer["Location"] == "/hotline/dispatch/?order=urgent"


def test_a_request_opened_from_the_queue_goes_back_to_it_once_dispatched_elsewhere(
    client, city, three, dispatcher_li
):
    """Issue 17 #3: sending a request to another unit (the type-to-find pickers on its page) ends on
    the queue, in its order, with the next request in hand, as accepting a suggestion does."""
    old, urgent, late = three
    client.force_login(dispatcher_li)
    queue = client.get("/hotline/dispatch/?order=due").content.decode()
    assert f'/hotline/requests/{late.pk}/?from=queue&amp;order=due"' in queue
    assert "hotline/queue.js" in queue and "data-queue-keys hidden" in queue  # the keys, told by the script
    page = client.get(f"/hotline/requests/{late.pk}/?from=queue&order=due").content.decode()
    assert (
        '<input type="hidden" name="next" value="queue"><input type="hidden" name="order" value="due">'
        in page
    )
    water = Department.objects.get(city=city, code="WATER")
    answer = client.post(
        f"/hotline/requests/{late.pk}/dispatch/",
        {"lead": f"department:{water.pk}", "next": "queue", "order": "due"},
    )
    assert answer.status_code == 302 and answer["Location"] == "/hotline/dispatch/?order=due"
    late.refresh_from_db()
    assert late.status == "dispatched" and late.orders.get(lead=True).department == water
    # opened any other way, its page stays where it was
    answer = client.post(f"/hotline/requests/{old.pk}/dispatch/", {"lead": f"department:{water.pk}"})
    assert answer["Location"] == f"/hotline/requests/{old.pk}/"
    assert 'name="next" value="queue"' not in client.get(f"/hotline/requests/{urgent.pk}/").content.decode()
