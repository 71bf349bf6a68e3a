"""Words for the codes the hotline stores: a reply's outcome, the route an order took."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

from cityloop.hotline.forms import OUTCOME_CHOICES

register = template.Library()

# the reply form's own words for each outcome
OUTCOMES = dict(OUTCOME_CHOICES)
ROUTES = {
    "direct": _("direct to the department"),
    "street": _("to the street of the location"),
    "first_receiver": _("first receiver, leads the case"),
    "reopened": _("reopened to the same unit"),
    "arbitrated": _("after arbitration"),
    "manual": _("chosen by the dispatcher"),
}


@register.filter
def outcome_label(code: str):
    """``fixed`` → 已修复 / Fixed; an unknown code is shown as it is."""
    return OUTCOMES.get(code, code)


@register.filter
def route_label(code: str):
    """``direct`` → 直派到部门 / direct to the department; an unknown code is shown as it is."""
    return ROUTES.get(code, code)
