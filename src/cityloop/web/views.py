from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

import cityloop
from cityloop.core import permissions
from cityloop.web import home

logger = logging.getLogger("cityloop.web")


@require_GET
@never_cache
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:  # noqa: BLE001 - a health check reports any database failure
        # The error text can name hosts, users and SQL: it goes to the log, never to the public answer.
        logger.exception("healthz: the database does not answer")
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse(
        {"status": "ok", "version": cityloop.__version__, "database": database, "vendor": connection.vendor}
    )


def home_page(request):
    if not request.user.is_authenticated:
        return render(request, "web/home_public.html", home.public_context())
    role = permissions.role_of(request.user)
    return render(request, f"web/home_{role}.html", home.context_for(request.user, role))


@permissions.page("audit-trail")
def audit_trail(request):
    return render(request, "web/audit_trail.html", home.audit_context())
