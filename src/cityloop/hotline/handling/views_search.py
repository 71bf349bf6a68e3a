"""Search with filters and CSV export (scoped by who is asking), and the bulk CSV import page."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from cityloop.core.doors import uploads
from cityloop.core.doors.forms import apply_errors
from cityloop.hotline import export, queries
from cityloop.hotline.forms import ImportForm, SearchForm
from cityloop.hotline.intake.imports import import_requests
from cityloop.hotline.views_common import categories_of, current_city, dispatcher_required
from cityloop.org import queries as org_queries

PAGE = 200
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _filters(form: SearchForm, city) -> dict:
    data = form.cleaned_data
    places = org_queries.places(city)
    return {
        "status": data["status"],
        "channel": data["channel"],
        "text": data["q"],
        "category": categories_of(city).filter(code=data["category"]).first() if data["category"] else None,
        "district": places.filter(level="district", code=data["district"]).first()
        if data["district"]
        else None,
        "street": places.filter(level="street", code=data["street"]).first() if data["street"] else None,
        "since": _day_start(data["since"]) if data["since"] else None,
        "until": _day_start(data["until"] + timedelta(days=1)) if data["until"] else None,
    }


@login_required
def search(request):
    city = current_city()
    places = org_queries.places(city)
    form = SearchForm(
        request.GET or None,
        categories=categories_of(city),
        districts=places.filter(level="district").order_by("code"),
        streets=places.filter(level="street").order_by("code"),
    )
    results, total = None, 0
    if form.is_bound and form.is_valid():
        found = queries.search_requests(request.user, **_filters(form, city))
        if request.GET.get("format") == "csv":
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
            return export.response(request.user, found, filename=f"hotline-requests-{stamp}.csv")
        total = found.count()
        results = found[:PAGE]
    elif not form.is_bound:
        found = queries.search_requests(request.user)
        total, results = found.count(), found[:PAGE]
    query = request.GET.copy()
    query["format"] = "csv"
    return render(
        request,
        "hotline/search.html",
        {"form": form, "results": results, "total": total, "page": PAGE, "csv_query": query.urlencode()},
        status=400 if form.is_bound and form.errors else 200,
    )


@dispatcher_required
def import_page(request):
    result = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if uploads.refused(request):
            form.add_error("file", uploads.message())
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_IMPORT_BYTES:
                form.add_error(
                    "file", _("The file is larger than 20 MB; split it or use `cityloop hotline import`.")
                )
            else:
                try:
                    result = import_requests(upload, city=current_city(), actor=request.user)
                except ValidationError as exc:
                    apply_errors(form, exc)
    else:
        form = ImportForm()
    return render(
        request,
        "hotline/import.html",
        {"form": form, "result": result},
        status=400 if form.is_bound and form.errors else 200,
    )
