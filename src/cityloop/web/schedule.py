"""The admins' schedule page: each scheduled job, when it runs, its last and next run, and its failures."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cityloop.core import permissions, schedule


@require_GET
@permissions.page("schedule")
def schedule_page(request):
    return render(
        request, "web/schedule.html", {"jobs": schedule.overview(), "time_zone": settings.TIME_ZONE}
    )
