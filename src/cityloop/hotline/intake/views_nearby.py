"""Nearby open requests on the submit page, and 这也是我的问题 (joining one instead of filing it again).

Without JavaScript the submit form's "show nearby requests" button re-renders the form with the list;
with it, nearby.js fetches the same list (rendered by the same template) when the point changes. Each item
is a submit button of the form itself, posted to ``support``: the phone and everything typed come along.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from cityloop.core.doors.forms import run_action
from cityloop.hotline import actions, queries
from cityloop.hotline.intake import throttle
from cityloop.hotline.views_common import current_city

SUPPORT_WINDOW_S = 3600


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def nearby_context(city, data) -> dict:
    """The list's template context for the point and category in ``data`` (a GET or POST QueryDict)."""
    lon, lat = _number(data.get("lon")), _number(data.get("lat"))
    category = (data.get("category") or "").strip()[:40]
    point = False
    found: list[queries.Nearby] = []
    if lon is not None and lat is not None and -180 <= lon <= 180 and -90 <= lat <= 90:
        point = True
        found = queries.nearby_open(city, lon, lat, category_code=category)
    return {
        "nearby": found,
        "nearby_point": point,
        "nearby_radius": queries.NEARBY_RADIUS_M,
        "nearby_days": queries.NEARBY_WINDOW_DAYS,
    }


@require_GET
def nearby(request):
    """The nearby list as JSON for nearby.js: the public summaries and the list's HTML."""
    city = current_city()
    context = nearby_context(city, request.GET)
    return JsonResponse(
        {
            "radius_m": context["nearby_radius"],
            "days": context["nearby_days"],
            "requests": [
                {
                    "id": n.pk,
                    "category": n.category,
                    "place": n.place,
                    "status": n.status,
                    "distance_m": n.distance_m,
                    "reported": n.reported.date().isoformat(),
                    "supporters": n.supporters,
                }
                for n in context["nearby"]
            ],
            "html": render_to_string("hotline/_nearby_list.html", context, request=request),
        },
        json_dumps_params={"ensure_ascii": False},
    )


@require_POST
def support(request):
    """这也是我的问题: the submit form, posted by one nearby item's button."""
    from cityloop.hotline.intake.views import render_submit

    city = current_city()
    target = queries.request_in_city(city, request.POST.get("request", ""))
    if target is None:
        raise Http404("no such request")
    anonymous = not request.user.is_authenticated
    keys = throttle.keys_for("anonymous-support", request)
    if anonymous and throttle.exceeded(keys, settings.HOTLINE["anonymous_submits_per_hour"]):
        messages.error(request, _("Too many attempts. Please wait a few minutes and try again."))
        return render_submit(request, city, values=request.POST, status=429)
    if anonymous:
        throttle.count(keys, SUPPORT_WINDOW_S)
    done = run_action(
        lambda: actions.support_request(
            target, phone=request.POST.get("caller_phone", ""), actor=request.user
        ),
        request=request,
    )
    if not done:
        return render_submit(request, city, values=request.POST, status=400)
    count = queries.supporter_count(target)
    messages.success(
        request,
        ngettext(
            "Thank you: it is counted as your problem too (%(n)d citizen besides the first reporter).",
            "Thank you: it is counted as your problem too (%(n)d citizens besides the first reporter).",
            count,
        )
        % {"n": count},
    )
    return redirect("hotline:submit")
