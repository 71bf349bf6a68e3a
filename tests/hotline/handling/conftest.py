"""Handling fixtures: an order the street has signed, ready for its reply."""

from __future__ import annotations

import pytest

from cityloop.hotline import actions
from cityloop.hotline.models import Order


@pytest.fixture
def signed(submit, dispatcher_li, street_chen):
    """A street request dispatched by the suggestion and signed by the street: the street replies next."""
    request = submit(category="01.01.01")
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=street_chen)
    return Order.objects.get(pk=order.pk)
